use super::{Error, Outcome, exit, lab_name, require_root};
use crate::apply::destroy;
use crate::apply::netlink::NetlinkBackend;
use crate::plan::Step;
use crate::state::{self, LabName, Lock, LockError, Proof};
use crate::teardown;

pub fn down(lab: Option<&str>, all: bool) -> Outcome {
    require_root()?;
    if all {
        return down_all();
    }
    let name = lab_name(lab.unwrap_or_default())?;
    down_one(&name)?;
    Ok(exit::OK)
}

/// Every lab whose state proves it vnet's; directories that only look like a lab's are named
/// and left alone. With the machine's one state directory, also labs whose state is gone but
/// whose namespaces, links and table still carry their mark.
fn down_all() -> Outcome {
    let (labs, unproven) = state::scan();
    let mut failures: Vec<String> = Vec::new();
    for name in &labs {
        if let Err(e) = down_one(name) {
            crate::errln!("{:?}", miette::Report::new(e));
            failures.push(name.to_string());
        }
    }
    for (dir, why) in &unproven {
        crate::errln!(
            "vnet: left {} untouched: {why}, so nothing proves it is lab `{dir}`'s state; `vnet down {dir}` removes what carries that lab's mark",
            state::root().join(dir).display()
        );
    }
    // Labs kept under another `VNET_STATE_DIR` are alive, not orphans: only the machine's one
    // state directory may sweep labs it has no state for.
    let orphans = if state::is_default_root() {
        destroy::marked_orphans(&state::running(), true)
    } else {
        Vec::new()
    };
    let swept = orphans.len();
    if !state::is_default_root() {
        // Not swept here, but never "all down" while they are there.
        for (dir, _) in &unproven {
            if !destroy::marked_of(dir).is_empty() {
                crate::errln!(
                    "vnet: lab `{dir}` still has what carries its mark on this machine; `vnet down {dir}` removes it"
                );
                failures.push(dir.clone());
            }
        }
    }
    for (orphan, steps) in orphans {
        let mut steps = steps;
        steps.insert(
            0,
            Step::StopProcesses {
                lab: orphan.clone(),
            },
        );
        let errors = destroy::delete_namespaces(&steps);
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
    if labs.is_empty() && swept == 0 {
        crate::outln!("no lab is running");
    }
    if failures.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::NotAllDown { labs: failures })
    }
}

/// Tears one lab down: what its journal lists, then whatever still carries its mark (the
/// journal may be damaged, truncated or gone), then its state files by name. A lab that is not
/// running is not an error (down is idempotent); anything of it left is.
pub fn down_one(name: &LabName) -> Result<(), Error> {
    let lock = lock(name)?;
    let dir = state::lab_dir(name);
    let proof = state::proof(name);
    let mut failures: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut journaled = false;
    match &proof {
        Some(Proof::Journal | Proof::Record(_)) => {
            journaled = true;
            let mut backend =
                NetlinkBackend::new(dir.join(state::EXEC_LOG)).map_err(Error::Netlink)?;
            let damage = match teardown::teardown(&dir, name, &mut backend) {
                Ok(damage) => damage,
                Err(f) => {
                    failures.extend(f.failures.iter().map(|e| e.with_hint()));
                    f.damage
                }
            };
            if !damage.is_empty() {
                notes.push(format!(
                    "the journal of lab `{name}` cannot account for everything ({}); what carries the lab's mark is removed too",
                    damage.join("; ")
                ));
            }
        }
        Some(Proof::None(why)) => notes.push(format!(
            "{} is left untouched: {why}, so nothing proves it is this lab's state; what carries the lab's mark is removed",
            dir.display()
        )),
        None => {}
    }
    // Whatever the journal could not account for is found by the lab's mark.
    let mut marked = destroy::marked_of(name.as_str());
    let found_by_mark = marked
        .iter()
        .filter(|s| !matches!(s, Step::StopProcesses { .. }))
        .count();
    marked.insert(
        0,
        Step::StopProcesses {
            lab: name.to_string(),
        },
    );
    failures.extend(
        destroy::delete_namespaces(&marked)
            .iter()
            .map(|e| e.with_hint()),
    );
    // Never "down" while something of the lab that vnet can find is still there.
    let still: Vec<String> = destroy::marked_of(name.as_str())
        .iter()
        .map(|s| format!("still there: {s}"))
        .collect();
    if failures.is_empty() {
        failures.extend(still);
    }
    for n in &notes {
        crate::errln!("vnet: {n}");
    }
    if !failures.is_empty() {
        return Err(Error::NotFullyDown {
            lab: name.to_string(),
            failures,
        });
    }
    if journaled && let Err(left) = state::remove_lab_state(name) {
        for l in left {
            crate::errln!("vnet: {l}");
        }
    }
    drop(lock);
    if journaled {
        crate::outln!("lab `{name}` is down");
    } else if found_by_mark > 0 {
        crate::outln!(
            "lab `{name}` had no state left; removed {} found by its mark",
            what_was_swept(&marked)
        );
    } else if proof.is_none() {
        crate::outln!("lab `{name}` is not running");
    } else {
        crate::outln!("lab `{name}` is down (nothing of it carried its mark)");
    }
    Ok(())
}

/// Takes the lab's lock without waiting: another vnet working on it is an error.
pub fn lock(name: &LabName) -> Result<Lock, Error> {
    Lock::take(name).map_err(|e| match e {
        LockError::Busy => Error::Busy {
            lab: name.to_string(),
        },
        LockError::Io(error) => Error::State {
            what: "lock the lab",
            dir: state::root().display().to_string(),
            error,
        },
    })
}

/// "2 namespaces, 1 link, 1 NAT table"
fn what_was_swept(steps: &[Step]) -> String {
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
    .map(|(n, what)| crate::terminal::count(n, what))
    .collect::<Vec<_>>()
    .join(", ")
}
