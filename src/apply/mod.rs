//! ④ Apply: the one seam to the kernel. A [`Backend`] runs steps; [`run`] drives a plan through
//! it, journaling every stage before touching the kernel.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) mod act;
pub(crate) mod destroy;
pub(crate) mod errno;
pub(crate) mod exec;
pub(crate) mod live;
pub(crate) mod machine_nat;
pub(crate) mod netlink;
pub(crate) mod netns;
pub(crate) mod packet;
pub mod probe;
pub(crate) mod procs;
pub(crate) mod ready;
#[cfg(test)]
pub(crate) mod record;
pub(crate) mod sysctl;
pub mod tap;
pub(crate) mod tc;

use crate::journal::Journal;
use crate::plan::{Plan, StageKind, Step};

pub(crate) use crate::journal::Fact;

/// A step the kernel (or the system) refused: the step in `ip` syntax, the errno, and a hint
/// of what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("`{step}` failed: {error}{}", detail_text(.detail))]
pub(crate) struct StepError {
    pub step: Box<Step>,
    #[source]
    pub error: io::Error,
    /// Output of a failed `exec:` command, or other detail.
    pub detail: Option<String>,
}

impl StepError {
    pub(crate) fn new(step: &Step, error: io::Error) -> Self {
        StepError {
            step: Box::new(step.clone()),
            error,
            detail: None,
        }
    }

    pub(crate) fn hint(&self) -> Option<String> {
        errno::hint(&self.step, &self.error)
    }

    /// The error with its hint, on lines of their own: for lists of failures.
    pub(crate) fn with_hint(&self) -> String {
        match self.hint() {
            Some(h) => format!("{self}\n  hint: {h}"),
            None => self.to_string(),
        }
    }
}

fn detail_text(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!("\n{d}"))
        .unwrap_or_default()
}

impl miette::Diagnostic for StepError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("vnet::kernel"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

/// The kernel, or a stand-in for it in unit tests.
pub(crate) trait Backend {
    /// Runs one stage. Its steps are independent of each other; they may run concurrently.
    /// Stops at the first failure. What it learned (also before a failure) goes into `facts`.
    fn apply(
        &mut self,
        kind: StageKind,
        steps: &[Step],
        facts: &mut Vec<Fact>,
    ) -> Result<(), StepError>;
    /// Runs undo steps, all of them whatever fails, and returns every failure.
    fn undo(&mut self, steps: &[Step]) -> Vec<StepError>;
}

/// Why a plan did not get applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("cannot write the lab's journal: {0}")]
    Journal(#[source] io::Error),
    #[error("interrupted")]
    Interrupted,
}

/// Fault injection for the crash tests: `VNET_KILL_AFTER_STEPS=N` makes `up` kill itself with
/// SIGKILL once N steps have reached the kernel (and `VNET_KILL_AFTER_UNDO=N`, `down` after N
/// undo steps), so every step can be a kill point.
pub(crate) fn crash_after(var: &str) -> Option<usize> {
    std::env::var(var).ok().and_then(|v| v.parse().ok())
}

/// Dies as a crash would: no destructors, no rollback, nothing flushed.
pub(crate) fn die() -> ! {
    let _ = nix::sys::signal::raise(nix::sys::signal::SIGKILL);
    std::process::abort()
}

/// Set by the signal handler; checked between stages so Ctrl-C rolls back cleanly.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Applies the plan stage by stage. Each stage is written to the journal *before* the kernel
/// sees it, so after a crash the journal lists everything that might exist.
pub(crate) fn run(
    plan: &Plan,
    backend: &mut dyn Backend,
    journal: &mut Journal,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<(), ApplyError> {
    let mut kill_budget = crash_after("VNET_KILL_AFTER_STEPS");
    for stage in &plan.stages {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(ApplyError::Interrupted);
        }
        journal.steps(&stage.steps).map_err(ApplyError::Journal)?;
        let mut facts = Vec::new();
        let steps = match kill_budget {
            Some(left) if left < stage.steps.len() => &stage.steps[..left],
            _ => &stage.steps[..],
        };
        let applied = backend.apply(stage.kind, steps, &mut facts);
        if let Some(left) = kill_budget.as_mut() {
            *left -= steps.len();
            if *left == 0 || steps.len() < stage.steps.len() {
                journal.facts(&facts).map_err(ApplyError::Journal)?;
                die();
            }
        }
        journal.facts(&facts).map_err(ApplyError::Journal)?;
        applied.map_err(ApplyError::Step)?;
        progress(&stage.name, stage.steps.len());
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(ApplyError::Interrupted);
    }
    Ok(())
}
