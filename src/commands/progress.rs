//! How long work shows while it runs: a bar on a terminal, plain lines elsewhere (logs, CI),
//! nothing with `--progress never`; and, with `VNET_TIMING=1`, where the time went.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Progress;

/// Reports the stages of one command (`up`, `down`, `verify`).
pub(crate) struct Reporter {
    bar: ProgressBar,
    /// Plain lines instead of a bar: stderr is not a terminal.
    plain: bool,
    /// What the lines are about: `vnet: LAB: …`.
    label: String,
    clock: Option<Clock>,
}

impl Reporter {
    pub(crate) fn new(progress: Progress, len: u64, label: &str) -> Self {
        let target = match progress {
            Progress::Never => ProgressDrawTarget::hidden(),
            _ => ProgressDrawTarget::stderr(),
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        let plain = bar.is_hidden() && progress != Progress::Never;
        Reporter {
            bar,
            plain,
            label: label.to_owned(),
            clock: timing_wanted().then(Clock::start),
        }
    }

    /// A stage of `n` steps is done.
    pub(crate) fn stage(&mut self, stage: &str, n: usize) {
        self.bar.inc(n as u64);
        self.bar.set_message(stage.to_owned());
        if self.plain {
            crate::errln!(
                "vnet: {}: {stage}: {} done",
                self.label,
                crate::terminal::count(n, "step")
            );
        }
        if let Some(clock) = &mut self.clock {
            let line = clock.lap(stage, n);
            self.bar.suspend(|| crate::errln!("vnet: timing: {line}"));
        }
    }

    /// Work without steps to count: a spinner saying what is being done (a line when stderr
    /// is not a terminal).
    pub(crate) fn spin(&self, what: &str) {
        if self.plain {
            crate::errln!("vnet: {}: {what}", self.label);
        } else if !self.bar.is_hidden() {
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                self.bar.set_style(style);
            }
            self.bar.set_message(what.to_owned());
            self.bar
                .enable_steady_tick(std::time::Duration::from_millis(100));
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A [`Clock`] only with `VNET_TIMING=1`: laps of a whole command (reading, up, verify, down).
pub(crate) struct Lap(Option<Clock>);

impl Lap {
    pub(crate) fn start() -> Self {
        Lap(timing_wanted().then(Clock::start))
    }

    pub(crate) fn lap(&mut self, what: &str, steps: usize) {
        if let Some(clock) = &mut self.0 {
            crate::errln!("vnet: timing: {}", clock.lap(what, steps));
        }
    }
}

/// `VNET_TIMING=1`: one line per stage with its wall time and this process's CPU time.
pub(crate) fn timing_wanted() -> bool {
    std::env::var_os("VNET_TIMING").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Wall and CPU time between laps. CPU time is the whole process (every thread); the kernel's
/// share (`sys`) is the work the kernel did on vnet's behalf.
pub(crate) struct Clock {
    wall: Instant,
    cpu: (f64, f64, i64),
}

impl Clock {
    pub(crate) fn start() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    /// The time since the last lap, as a line, and starts the next lap.
    pub(crate) fn lap(&mut self, what: &str, steps: usize) -> String {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = cpu_seconds();
        let line = format!(
            "{what}: {steps} steps, {:.0} ms wall, {:.0} ms user, {:.0} ms sys, peak RSS {} MB",
            wall * 1e3,
            (cpu.0 - self.cpu.0) * 1e3,
            (cpu.1 - self.cpu.1) * 1e3,
            cpu.2 / 1024
        );
        *self = Clock {
            wall: Instant::now(),
            cpu,
        };
        line
    }
}

/// (user, system) CPU seconds of this process so far, and its peak resident memory in KiB.
fn cpu_seconds() -> (f64, f64, i64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if r != 0 {
        return (0.0, 0.0, 0);
    }
    // SAFETY: getrusage succeeded, so the struct is initialised (and it was zeroed anyway).
    let u = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_utime), secs(u.ru_stime), u.ru_maxrss)
}

/// A bar for `down`: how many of the namespaces being deleted are gone, read from
/// [`crate::apply::netns::deletions`] by a thread of its own while `down` runs.
pub(crate) struct DeletionWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    plain: bool,
    started: Instant,
}

impl DeletionWatch {
    pub(crate) fn start(progress: Progress) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let reporter = Reporter::new(progress, 0, "down");
        let plain = reporter.plain;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let thread = (!reporter.bar.is_hidden()).then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let bar = reporter.bar;
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} {bar:30} {pos}/{len} namespaces removed",
                ) {
                    bar.set_style(style);
                }
                while !stop.load(Ordering::SeqCst) {
                    let (done, of) = crate::apply::netns::deletions();
                    if of > 0 {
                        bar.set_length(of as u64);
                        bar.set_position(done as u64);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                bar.finish_and_clear();
            })
        });
        DeletionWatch {
            stop,
            thread,
            plain,
            started: Instant::now(),
        }
    }

    pub(crate) fn finish(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (done, _) = crate::apply::netns::deletions();
        if self.plain && done > 0 {
            crate::errln!(
                "vnet: down: {} removed in {:.2} s",
                crate::terminal::count(done, "namespace"),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
