//! ⑥b Teardown: the journal, read backwards, becomes undo steps; every failure is collected.

use std::path::Path;

use crate::apply::{Backend, Fact, StepError};
use crate::journal::{self, Contents};
use crate::model::Netns;
use crate::model::name::LabName;
use crate::plan::{Step, owner_tag};

/// The undo steps for what a journal says was (maybe) created, newest first, after stopping
/// the lab's processes. The mark is the lab's own (the name of its state directory), never
/// what the journal's header says.
pub(crate) fn undo_steps(c: &Contents, lab: &LabName) -> Vec<Step> {
    let tag = owner_tag(lab.as_str());
    let inodes: std::collections::HashMap<&str, u64> = c
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Netns { ns, inode } => Some((ns.as_str(), *inode)),
            _ => None,
        })
        .collect();
    let inode_of = |ns: &str| inodes.get(ns).copied();
    let mut seen = std::collections::HashSet::new();
    let stop = Step::StopProcesses {
        lab: lab.to_string(),
    };
    std::iter::once(stop)
        .chain(c.steps.iter().rev().flat_map(|s| match s {
            // Everything else lives inside a namespace and goes with it.
            Step::AddNetns { ns } if seen.insert(ns.clone()) => vec![Step::DelNetns {
                ns: ns.clone(),
                inode: inode_of(ns),
                tag: tag.clone(),
            }],
            // A link that ends on the machine does not go away with any namespace of the lab.
            Step::MoveLink { name, .. } => vec![Step::DelLink {
                ns: Netns::Machine.as_str().to_owned(),
                dev: name.clone(),
                tag: tag.clone(),
            }],
            // Nor does the machine's NAT table, or the forwarding it turned on.
            Step::MachineNat { table, .. } => vec![Step::DelMachineNat {
                table: table.clone(),
                tag: tag.clone(),
                before: c.facts.iter().find_map(|f| match f {
                    Fact::MachineForwarding { table: t, before } if t == table => {
                        Some(before.clone())
                    }
                    _ => None,
                }),
            }],
            _ => Vec::new(),
        }))
        .collect()
}

/// The kinds of journaled step that [`undo_steps`] turns into undo steps; the journal's other
/// steps (addresses, sysctls, links inside namespaces...) go with their namespace.
fn needs_undo(op: &str) -> bool {
    matches!(op, "add-netns" | "move-link" | "machine-nat")
}

/// What teardown could not do.
#[derive(Debug)]
pub(crate) struct TeardownFailed {
    pub failures: Vec<StepError>,
    /// What was wrong with the journal, if anything.
    pub damage: Vec<String>,
}

/// Undoes everything the journal in `dir` lists for `lab`. The journal is read as far as it
/// can be; what is wrong with it comes back, so that the caller can say so and fall back to
/// the lab's marks for what the journal cannot account for. State files are the caller's.
pub(crate) fn teardown(
    dir: &Path,
    lab: &LabName,
    backend: &mut dyn Backend,
) -> Result<Vec<String>, TeardownFailed> {
    let (contents, mut damage) = match journal::read_some(&dir.join(journal::FILE_NAME), needs_undo)
    {
        Ok(c) => {
            let damage = c.damage.clone();
            (c, damage)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (Contents::default(), vec!["there is no journal".to_owned()])
        }
        Err(e) => (
            Contents::default(),
            vec![format!("the journal cannot be read: {e}")],
        ),
    };
    if let Some(h) = &contents.header
        && h.lab != lab.as_str()
    {
        damage.push(format!("its header names lab `{}`", h.lab));
    }
    let steps = undo_steps(&contents, lab);
    if let Some(n) = crate::apply::crash_after("VNET_KILL_AFTER_UNDO").filter(|n| *n < steps.len())
    {
        let _ = backend.undo(&steps[..n]);
        crate::apply::die();
    }
    let failures = backend.undo(&steps);
    if !failures.is_empty() {
        return Err(TeardownFailed { failures, damage });
    }
    Ok(damage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::record::Recorder;
    use crate::journal::{Header, Journal};
    use crate::plan::{Plan, plan};

    fn lab() -> crate::model::Lab {
        let src = "name: t\nnodes:\n  h1: {interfaces: {eth0: 10.0.0.1/24}}\n  h2: {interfaces: {eth0: 10.0.0.2/24}}\n  br0: {kind: bridge}\nlinks:\n  - [h1:eth0, br0:p1]\n  - [h2:eth0, br0:p2]\n";
        crate::topology::parse("t.yaml", "t", src.as_bytes())
            .unwrap()
            .lab
    }

    fn t() -> LabName {
        LabName::new("t").unwrap()
    }

    fn header() -> Header {
        Header {
            lab: "t".into(),
            file: "t.yaml".into(),
            vnet: "0".into(),
            started: 0,
            format: crate::journal::FORMAT,
        }
    }

    /// Applies `plan` with a failure injected at `fail_at`, then tears down from the journal.
    fn up_then_down(plan: &Plan, fail_at: Option<usize>) -> (Recorder, Recorder) {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), header()).unwrap();
        let mut up = Recorder {
            fail_at,
            ..Recorder::default()
        };
        let r = crate::apply::run(plan, &mut up, &mut j, &mut |_, _| {});
        assert_eq!(r.is_err(), fail_at.is_some());
        let mut down = Recorder::default();
        let damage = teardown(dir.path(), &t(), &mut down).unwrap();
        assert_eq!(damage, Vec::<String>::new());
        assert!(
            dir.path().join(journal::FILE_NAME).exists(),
            "the state files are the caller's to remove"
        );
        (up, down)
    }

    #[test]
    fn every_namespace_is_undone_whatever_step_fails() {
        let plan = plan(&lab(), crate::plan::VlanMode::Native);
        let all: Vec<String> = plan
            .steps()
            .filter_map(|s| match s {
                Step::AddNetns { ns } => Some(ns.clone()),
                _ => None,
            })
            .collect();
        for fail_at in (0..plan.len()).map(Some).chain([None]) {
            let (up, down) = up_then_down(&plan, fail_at);
            assert_eq!(
                down.undone[0],
                Step::StopProcesses { lab: "t".into() },
                "the lab's processes are stopped first"
            );
            let undone: Vec<String> = down.undone[1..].iter().map(|s| s.ns().to_owned()).collect();
            // Every namespace whose stage was journaled is deleted, even the one that failed:
            // the journal is written before the kernel is asked.
            let expected: Vec<String> = all.iter().rev().cloned().collect();
            assert_eq!(
                undone,
                expected,
                "fail_at={fail_at:?} applied={}",
                up.applied.len()
            );
        }
    }

    #[test]
    fn undo_carries_the_inode_learned_at_creation() {
        let plan = plan(&lab(), crate::plan::VlanMode::Native);
        let (_, down) = up_then_down(&plan, None);
        for s in &down.undone[1..] {
            let Step::DelNetns { inode, tag, .. } = s else {
                panic!("only namespace deletions")
            };
            assert!(inode.is_some(), "{s} has its inode");
            assert_eq!(tag, "vnet:t");
        }
    }

    #[test]
    fn a_failed_undo_keeps_the_journal_for_another_try() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), header()).unwrap();
        let plan = plan(&lab(), crate::plan::VlanMode::Native);
        crate::apply::run(&plan, &mut Recorder::default(), &mut j, &mut |_, _| {}).unwrap();
        let contents = journal::read(&dir.path().join(journal::FILE_NAME)).unwrap();
        let stuck = undo_steps(&contents, &t())[2].clone();
        let mut down = Recorder {
            fail_undo: vec![stuck.clone()],
            ..Recorder::default()
        };
        let err = teardown(dir.path(), &t(), &mut down).unwrap_err();
        assert_eq!(err.failures.len(), 1);
        assert_eq!(down.undone.len(), 3, "the others were still undone");
        assert!(dir.path().join(journal::FILE_NAME).exists());
        let mut again = Recorder::default();
        teardown(dir.path(), &t(), &mut again).unwrap();
        assert_eq!(again.undone.len(), 4);
    }

    const MACHINE_NAT: &str = "name: t
nodes:
  host:
    interfaces: {vnet0: 10.5.0.1/24}
    routes: [{to: 10.6.0.0/16, via: 10.5.0.2}]
    nat: {masquerade: [eth0], publish: [{on: eth0, port: 8080, to: '10.5.0.2:80'}]}
  r1: {kind: router, interfaces: {eth0: 10.5.0.2/24, eth1: 10.6.1.1/24}}
links:
  - [host:vnet0, r1:eth0]
";

    /// Reading only the kinds of step teardown needs gives the same undo steps as reading all.
    #[test]
    fn reading_only_what_teardown_needs_gives_the_same_undo() {
        for src in [MACHINE_NAT, LINKED_TO_THE_MACHINE] {
            let lab = crate::topology::parse("t.yaml", "t", src.as_bytes())
                .unwrap()
                .lab;
            let plan = plan(&lab, crate::plan::VlanMode::Native);
            let dir = tempfile::tempdir().unwrap();
            let mut j = Journal::create(dir.path(), header()).unwrap();
            crate::apply::run(&plan, &mut Recorder::default(), &mut j, &mut |_, _| {}).unwrap();
            let path = dir.path().join(journal::FILE_NAME);
            let all = journal::read(&path).unwrap();
            let some = journal::read_some(&path, needs_undo).unwrap();
            assert!(some.steps.len() < all.steps.len());
            assert_eq!(some.facts, all.facts);
            let undo = undo_steps(&all, &t());
            assert!(
                undo.iter().any(|s| matches!(s, Step::DelLink { .. })),
                "{undo:?}"
            );
            assert_eq!(undo_steps(&some, &t()), undo);
        }
    }

    const LINKED_TO_THE_MACHINE: &str = "name: t
nodes:
  host: {interfaces: {vnet0: 10.5.0.1/24}}
  h1: {interfaces: {eth0: 10.5.0.2/24}}
links:
  - [host:vnet0, h1:eth0]
";

    /// The machine's table goes with the lab, first: nothing else of the lab removes it.
    #[test]
    fn the_machine_nat_is_undone_before_links_and_namespaces() {
        let lab = crate::topology::parse("t.yaml", "t", MACHINE_NAT.as_bytes())
            .unwrap()
            .lab;
        let plan = plan(&lab, crate::plan::VlanMode::Native);
        let (_, down) = up_then_down(&plan, None);
        assert_eq!(
            down.undone[1],
            Step::DelMachineNat {
                table: "vnet-t".into(),
                tag: "vnet:t".into(),
                // From the journal, should a `flush ruleset` have taken the table's comment.
                before: Some("0".into()),
            }
        );
        assert!(
            down.undone
                .iter()
                .any(|s| matches!(s, Step::DelLink { dev, .. } if dev == "vnet0"))
        );
        // Only the lab's own sources are masqueraded (its subnets and the machine's routes
        // into it), so the machine's own connections keep their addresses.
        let Some(Step::MachineNat { chains, .. }) =
            plan.steps().find(|s| matches!(s, Step::MachineNat { .. }))
        else {
            panic!("no machine NAT in the plan")
        };
        assert!(
            chains.contains(
                r#"oifname "eth0" ip saddr { 10.5.0.0/24, 10.6.0.0/16, 10.6.1.0/24 } masquerade"#
            ),
            "{chains}"
        );
        assert!(
            chains.contains(
                r#"iifname "eth0" meta nfproto ipv4 tcp dport 8080 dnat ip to 10.5.0.2:80"#
            ),
            "{chains}"
        );
    }
}
