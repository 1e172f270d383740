use serde::Serialize;

use super::{Error, Outcome, exit, lab_name, require_root};
use crate::apply::destroy;
use crate::apply::netlink::NetlinkBackend;
use crate::plan::Step;
use crate::state::{self, LabName, Lock, LockError, Proof};
use crate::teardown;

/// What `down` did to one lab, for `--json`.
#[derive(Debug, Default, Serialize)]
pub(super) struct Removed {
    pub lab: String,
    /// `down` (it was running), `swept` (no state, found by its mark), `not running`.
    pub was: &'static str,
    /// The lab's namespaces (`<lab>.<node>`) removed.
    pub namespaces: Vec<String>,
    /// Its links on the machine (`host`) removed.
    pub machine_links: Vec<String>,
    /// Its nftables table on the machine, if it had one.
    pub nat_table: Option<String>,
    /// What `down` said on the way (a damaged journal, directories left alone).
    pub notes: Vec<String>,
    pub seconds: f64,
}

impl Removed {
    /// What the steps found by the lab's mark remove.
    fn add(&mut self, steps: &[Step]) {
        for s in steps {
            match s {
                Step::DelNetns { ns, .. } if !self.namespaces.contains(ns) => {
                    self.namespaces.push(ns.clone())
                }
                Step::DelLink { ns, dev, .. }
                    if crate::model::Netns::of(ns).is_machine()
                        && !self.machine_links.contains(dev) =>
                {
                    self.machine_links.push(dev.clone())
                }
                Step::DelMachineNat { table, .. } => self.nat_table = Some(table.clone()),
                _ => {}
            }
        }
    }
}

pub(super) fn down(lab: Option<&str>, all: bool, json: bool) -> Outcome {
    require_root()?;
    let (removed, outcome) = if all {
        down_all()
    } else {
        let name = lab_name(lab.unwrap_or_default())?;
        match down_one(&name) {
            Ok(r) => (vec![r], Ok(exit::OK)),
            Err(e) => (Vec::new(), Err(e)),
        }
    };
    if json && outcome.is_ok() {
        crate::jsonln!(serde_json::json!({
            "version": super::verify::JSON_VERSION,
            "labs": removed,
            "ok": true,
            "exit": exit::OK,
        }));
    }
    outcome
}

/// Every lab whose state proves it vnet's; directories that only look like a lab's are named
/// and left alone. With the machine's one state directory, also labs whose state is gone but
/// whose namespaces, links and table still carry their mark.
fn down_all() -> (Vec<Removed>, Outcome) {
    let (labs, unproven) = state::scan();
    let mut failures: Vec<String> = Vec::new();
    let mut removed = Vec::new();
    for name in &labs {
        match down_one(name) {
            Ok(r) => removed.push(r),
            Err(e) => {
                crate::errln!("{:?}", miette::Report::new(e));
                failures.push(name.to_string());
            }
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
        let started = std::time::Instant::now();
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
            let mut r = Removed {
                lab: orphan.clone(),
                was: "swept",
                ..Removed::default()
            };
            r.add(&steps);
            r.seconds = started.elapsed().as_secs_f64();
            removed.push(r);
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
    let outcome = if failures.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Error::NotAllDown { labs: failures })
    };
    (removed, outcome)
}

/// Tears one lab down: what its journal lists, then whatever still carries its mark (the
/// journal may be damaged, truncated or gone), then its state files by name. A lab that is not
/// running is not an error (down is idempotent); anything of it left is.
pub(super) fn down_one(name: &LabName) -> Result<Removed, Error> {
    let started = std::time::Instant::now();
    let lock = lock(name)?;
    let dir = state::lab_dir(name);
    let proof = state::proof(name);
    let mut removed = Removed {
        lab: name.to_string(),
        ..Removed::default()
    };
    // What the journal's lab had: what its teardown removes.
    if let Ok(record) = state::read_record(name) {
        let lab = &record.lab;
        removed.namespaces = (0..lab.nodes.len())
            .map(|n| lab.netns(n))
            .filter(|ns| !crate::model::Netns::of(ns).is_machine())
            .collect();
        if let Some(machine) = lab.node_index(crate::model::MACHINE) {
            removed.machine_links = lab
                .links
                .iter()
                .flat_map(|l| [&l.a, &l.b])
                .filter(|e| e.node == machine)
                .map(|e| e.iface.clone())
                .collect();
        }
        removed.nat_table =
            crate::plan::machine_nat(lab).map(|_| crate::plan::machine_nat_table(&lab.name));
    }
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
    removed.add(&marked);
    removed.notes = notes;
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
    removed.was = "down";
    if journaled {
        crate::outln!("lab `{name}` is down");
    } else if found_by_mark > 0 {
        removed.was = "swept";
        crate::outln!(
            "lab `{name}` had no state left; removed {} found by its mark",
            what_was_swept(&marked)
        );
    } else if proof.is_none() {
        removed.was = "not running";
        crate::outln!("lab `{name}` is not running");
    } else {
        crate::outln!("lab `{name}` is down (nothing of it carried its mark)");
    }
    removed.seconds = started.elapsed().as_secs_f64();
    Ok(removed)
}

/// Takes the lab's lock without waiting: another vnet working on it is an error.
pub(super) fn lock(name: &LabName) -> Result<Lock, Error> {
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
