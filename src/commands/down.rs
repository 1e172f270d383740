use miette::miette;

use super::{Failure, Outcome, exit, lab_name, require_root};
use crate::apply::netlink::NetlinkBackend;
use crate::state::{self, Lock, LockError};
use crate::teardown;

pub fn down(lab: Option<&str>, all: bool) -> Outcome {
    require_root()?;
    let labs = if all {
        state::running()
    } else {
        vec![lab_name(lab.unwrap_or_default())?]
    };
    // A lab without state may have left a NAT table on the machine; one with state had its
    // table removed through its journal.
    let stateless = all || labs.iter().any(|l| !state::lab_dir(l).exists());
    let mut failures = Vec::new();
    for name in &labs {
        if let Err(f) = down_one(name) {
            crate::errln!("{:?}", f.report);
            failures.push(name.clone());
        }
    }
    // Labs whose state is gone but whose namespaces and links still carry their mark. Only
    // with the machine's one state directory: labs kept under another `VNET_STATE_DIR` are
    // alive, not orphans, and must not be swept.
    let orphans = if state::is_default_root() {
        crate::apply::destroy::marked_orphans(&state::running(), stateless)
    } else {
        Vec::new()
    };
    let wanted = |lab: &str| all || labs.iter().any(|l| l == lab);
    let mut swept = 0;
    for (orphan, steps) in orphans.into_iter().filter(|(l, _)| wanted(l)) {
        swept += 1;
        let errors = crate::apply::destroy::delete_namespaces(&steps);
        if errors.is_empty() {
            crate::outln!(
                "lab `{orphan}` had no state left; removed {} found by its mark",
                what_was_swept(&steps)
            );
        } else {
            for e in &errors {
                crate::errln!("  {e}");
            }
            failures.push(orphan);
        }
    }
    if all && labs.is_empty() && swept == 0 {
        crate::outln!("no lab is running");
    }
    if failures.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Failure::system(miette!(
            "could not remove lab(s): {}",
            failures.join(", ")
        )))
    }
}

/// Tears one lab down; a lab that is not running is not an error (down is idempotent).
pub fn down_one(name: &str) -> Result<(), Failure> {
    let lock = match Lock::take(name) {
        Ok(l) => l,
        Err(LockError::Busy) => {
            return Err(Failure::system(miette!(
                code = "vnet::busy",
                "another vnet is working on lab `{name}` right now; try again when it is done"
            )));
        }
        Err(LockError::Io(e)) => {
            return Err(Failure::system(miette!("cannot lock lab `{name}`: {e}")));
        }
    };
    let dir = state::lab_dir(name);
    if !dir.exists() {
        drop(lock);
        crate::outln!("lab `{name}` is not running");
        return Ok(());
    }
    let mut backend = NetlinkBackend::new(dir.join("exec.log"))
        .map_err(|e| Failure::system(miette!("cannot start netlink: {e}")))?;
    match teardown::teardown(&dir, &mut backend) {
        Ok(()) => {
            drop(lock);
            crate::outln!("lab `{name}` is down");
            Ok(())
        }
        Err(f) => {
            let lines: Vec<String> = f.failures.iter().map(|e| format!("  {e}")).collect();
            Err(Failure::system(miette!(
                code = "vnet::teardown",
                help = format!(
                    "what could be removed was; the journal is kept, so `vnet down {name}` can try again"
                ),
                "lab `{name}` is not fully down:\n{}",
                lines.join("\n")
            )))
        }
    }
}

/// "2 namespaces, 1 link, 1 NAT table"
fn what_was_swept(steps: &[crate::plan::Step]) -> String {
    use crate::plan::Step;
    let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
    [
        (count(|s| matches!(s, Step::DelNetns { .. })), "namespace"),
        (count(|s| matches!(s, Step::DelLink { .. })), "link"),
        (
            count(|s| matches!(s, Step::DelMachineNat { .. })),
            "NAT table",
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
    .collect::<Vec<_>>()
    .join(", ")
}
