//! Commands inside a node's namespace: `exec:` in the topology and `vnet exec`.
//!
//! Equivalent to `ip netns exec NS CMD`, without a child `ip`: the child process joins the
//! namespace between fork and exec.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

use super::procs::Pen;

/// The soft open-file limit vnet was started with, when it raised its own (0: untouched).
/// The user's commands get the limit the user gave, not vnet's.
static USER_OPEN_FILES: AtomicU64 = AtomicU64::new(0);

/// Raises vnet's soft open-file limit to the hard one (a safety net for large labs), and
/// remembers the old one for the commands vnet starts.
pub(crate) fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let user = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                USER_OPEN_FILES.store(user, Ordering::SeqCst);
            }
        }
    }
}

/// Arranges for `cmd` to run inside the namespace `ns`, with the user's open-file limit.
pub(crate) fn enter(cmd: &mut Command, ns: &File) {
    let fd = ns.as_raw_fd();
    let user = USER_OPEN_FILES.load(Ordering::SeqCst);
    // SAFETY: the closure runs in the child between fork and exec; it only calls setns(2) and
    // setrlimit(2), both async-signal-safe, on a descriptor the parent keeps open until after
    // spawn and a struct on the child's stack.
    unsafe {
        cmd.pre_exec(move || {
            if user != 0 {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                    limit.rlim_cur = user;
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
            }
            let fd = BorrowedFd::borrow_raw(fd);
            setns(fd, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
        });
    }
}

/// How long the command may run, and the lab it runs for.
pub(crate) struct Limits<'a> {
    pub timeout: Duration,
    pub pen: &'a Pen,
}

/// Runs `sh -c CMD` in the namespace as one of the lab's processes; its output goes to `log`
/// and, on failure, into the error. A command still running when its time is up, or when
/// vnet is asked to stop (SIGINT, SIGTERM, SIGHUP), is killed with everything it started in
/// its process group, and is an error: the caller rolls back.
pub(crate) fn run_logged(
    ns: &File,
    cmd: &str,
    log: &Path,
    limits: &Limits<'_>,
) -> Result<(), (io::Error, Option<String>)> {
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(log)
        .map_err(|e| (e, None))?;
    let start = out.seek(io::SeekFrom::End(0)).map_err(|e| (e, None))?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| (e, None))?)
        .stderr(out.try_clone().map_err(|e| (e, None))?)
        // Its own process group: a timeout or Ctrl-C ends it and what it started, at once.
        .process_group(0);
    enter(&mut command, ns);
    limits.pen.admit(&mut command);
    let mut child = command.spawn().map_err(|e| (e, None))?;
    let deadline = Instant::now() + limits.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err((e, None)),
        }
        let interrupted = super::INTERRUPTED.load(Ordering::SeqCst);
        if interrupted || Instant::now() >= deadline {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::SIGKILL,
            );
            let _ = child.wait();
            return Err(if interrupted {
                (
                    io::Error::from(io::ErrorKind::Interrupted),
                    Some("  vnet was asked to stop while the command ran; it was killed".into()),
                )
            } else {
                (
                    io::Error::from(io::ErrorKind::TimedOut),
                    Some(format!(
                        "  the command was still running after {} and was killed",
                        human(limits.timeout)
                    )),
                )
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = out.seek(io::SeekFrom::Start(start));
    let _ = out.read_to_string(&mut text);
    let code = status
        .code()
        .map_or("a signal".to_string(), |c| format!("status {c}"));
    let detail = if text.trim().is_empty() {
        format!("  the command exited with {code} and printed nothing")
    } else {
        let shown: Vec<&str> = text.trim_end().lines().rev().take(10).collect();
        let mut shown: Vec<String> = shown
            .into_iter()
            .rev()
            .map(|l| format!("  | {l}"))
            .collect();
        shown.insert(0, format!("  the command exited with {code}:"));
        shown.join("\n")
    };
    Err((
        io::Error::other(format!("exited with {code}")),
        Some(detail),
    ))
}

/// `60 s`, `1.5 s`, `500 ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Replaces this process with `argv` inside the namespace, as one of the lab's processes
/// (`vnet exec`). Returns only on error.
pub(crate) fn exec_replace(
    ns: &File,
    argv: &[String],
    env: &[(&str, String)],
    pen: &Pen,
) -> io::Error {
    let Some((program, args)) = argv.split_first() else {
        return io::Error::other("no command to run");
    };
    let mut command = Command::new(program);
    command.args(args);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    enter(&mut command, ns);
    pen.admit(&mut command);
    command.exec()
}

/// Applies an nftables ruleset inside the namespace, atomically (`nft -f -`).
pub(crate) fn nft(ns: &File, ruleset: &str) -> Result<(), (io::Error, Option<String>)> {
    use std::io::Write;
    let mut command = Command::new("nft");
    command
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    enter(&mut command, ns);
    let mut child = command.spawn().map_err(|e| {
        let hint = (e.kind() == io::ErrorKind::NotFound)
            .then(|| "  the `nft` program is missing: install the `nftables` package".to_owned());
        (e, hint)
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(ruleset.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| (e, None))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let detail = text
        .trim_end()
        .lines()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    Err((io::Error::other("nft refused the ruleset"), Some(detail)))
}

/// `nft ARGS...` inside the namespace, for reading (`list tables`): its standard output.
pub(crate) fn nft_output(ns: &File, args: &[&str]) -> io::Result<String> {
    let mut command = Command::new("nft");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    enter(&mut command, ns);
    let out = command.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "nft {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
