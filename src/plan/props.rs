//! Property tests: random topologies (valid or not) never panic the reader or the planner,
//! and every object a plan creates is undone by teardown.

use proptest::prelude::*;

use super::{Step, VlanMode, plan};
use crate::apply::Fact;
use crate::journal::{Contents, Header};
use crate::teardown::undo_steps;

/// A random lab: hosts, routers, bridges and switches, links among them, some addresses
/// (sometimes clashing), sometimes the machine, sometimes VLANs: many are valid, some not.
fn topology() -> impl Strategy<Value = String> {
    (
        1usize..7,
        1usize..3,
        0usize..2,
        proptest::collection::vec((0usize..12, 0usize..12, 0u8..4), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(hosts, bridges, switches, links, machine, tagged)| {
            let mut y = String::from("name: prop\nnodes:\n");
            let total = hosts + bridges + switches + usize::from(machine);
            let name = |i: usize| -> String {
                if i < hosts {
                    format!("h{i}")
                } else if i < hosts + bridges {
                    format!("b{}", i - hosts)
                } else if i < hosts + bridges + switches {
                    format!("s{}", i - hosts - bridges)
                } else {
                    "host".into()
                }
            };
            for i in 0..hosts {
                let sub = if tagged && i == 0 && switches > 0 { ", eth0.10: 10.10.0.1/24" } else { "" };
                y.push_str(&format!(
                    "  h{i}: {{kind: {}, interfaces: {{eth0: [10.0.0.{}/24, fd00::{}/64]{sub}}}}}\n",
                    if i % 3 == 2 { "router" } else { "host" },
                    i + 1,
                    i + 1
                ));
            }
            for b in 0..bridges {
                y.push_str(&format!("  b{b}: {{kind: bridge}}\n"));
            }
            for s in 0..switches {
                y.push_str(&format!("  s{s}: {{kind: switch, ports: {{t0: {{trunk: [10, 20]}}, a0: {{vlan: 20}}}}}}\n"));
            }
            if machine {
                y.push_str("  host: {interfaces: {vnetp: 10.0.0.99/24}}\n");
            }
            y.push_str("links:\n");
            // Every host (and the machine) on one bridge or switch port of its own; then a
            // few links between bridges and switches at random, which may loop (invalid labs
            // are part of the point).
            let switching = bridges + switches;
            for i in (0..hosts).chain(machine.then_some(total - 1)) {
                let target = if tagged && i == 0 && switches > 0 {
                    hosts + bridges
                } else {
                    hosts + (i * 7 + links.len()) % switching
                };
                let port = if tagged && i == 0 && switches > 0 { "t0".to_string() } else { format!("x{i}") };
                let here = if name(i) == "host" { "host:vnetp".to_string() } else { format!("{}:eth0", name(i)) };
                y.push_str(&format!("  - [{here}, {}:{port}]\n", name(target)));
            }
            for (n, (a, b, _)) in links.iter().enumerate() {
                let (a, b) = (hosts + a % switching, hosts + b % switching);
                y.push_str(&format!("  - [{}:ya{n}, {}:yb{n}]\n", name(a), name(b)));
            }
            y.push_str("expect:\n  - {from: h0, to: h0}\n");
            y
        })
}

fn journal_of(plan: &super::Plan) -> Contents {
    let steps: Vec<Step> = plan.steps().cloned().collect();
    let facts = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Step::AddNetns { ns } => Some(Fact::Netns {
                ns: ns.clone(),
                inode: i as u64,
            }),
            _ => None,
        })
        .collect();
    Contents {
        header: Some(Header {
            lab: "prop".into(),
            file: "p.yaml".into(),
            vnet: "0".into(),
            started: 0,
            format: crate::journal::FORMAT,
        }),
        steps,
        facts,
        damage: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_the_reader(text in "\\PC{0,400}") {
        let _ = crate::topology::parse("p.yaml", "p", text.as_bytes());
    }

    #[test]
    fn every_created_object_is_undone(yaml in topology()) {
        let Ok(loaded) = crate::topology::parse("p.yaml", "prop", yaml.as_bytes()) else {
            return Ok(());
        };
        for mode in [VlanMode::Native, VlanMode::Emulated] {
            let plan = plan(&loaded.lab, mode);
            let undo = undo_steps(&journal_of(&plan), &crate::model::name::LabName::new("prop").unwrap());
            let deleted: Vec<&str> = undo.iter().filter_map(|s| match s {
                Step::DelNetns { ns, .. } => Some(ns.as_str()),
                _ => None,
            }).collect();
            for step in plan.steps() {
                match step {
                    // On the machine: only links vnet marked and moved there, each undone.
                    Step::MoveLink { name, .. } => prop_assert!(
                        undo.iter().any(|u| matches!(u, Step::DelLink { dev, .. } if dev == name)),
                        "{step} has no undo"
                    ),
                    s if crate::model::Netns::of(s.ns()).is_machine() => prop_assert!(
                        matches!(s, Step::AddAddress { .. } | Step::LinkUp { .. } | Step::AddRoute { .. }),
                        "{s} changes the machine beyond the lab's own links"
                    ),
                    // Everything else lives in a namespace of the lab, deleted with it.
                    s => prop_assert!(deleted.contains(&s.ns()), "{s} is in no deleted namespace"),
                }
            }
        }
    }
}

#[test]
fn the_generator_makes_mostly_valid_labs() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let valid = (0..200)
        .filter(|_| {
            let yaml = topology()
                .new_tree(&mut runner)
                .map(|t| t.current())
                .unwrap_or_default();
            crate::topology::parse("p.yaml", "prop", yaml.as_bytes()).is_ok()
        })
        .count();
    assert!(valid >= 40, "only {valid} of 200 generated labs are valid");
}

/// Bridges and switches turn `br_netfilter` off in their namespaces; hosts and routers have
/// no such keys set (and nothing else is optional).
#[test]
fn only_bridge_namespaces_turn_bridge_netfilter_off() {
    let src = "name: t\nnodes:\n  h1: {interfaces: {eth0: 10.0.0.1/24}}\n  h2: {interfaces: {eth0: 10.0.0.2/24}}\n  br0: {kind: bridge}\nlinks:\n  - [h1:eth0, br0:p1]\n  - [h2:eth0, br0:p2]\n";
    let lab = crate::topology::parse("t.yaml", "t", src.as_bytes())
        .unwrap()
        .lab;
    let plan = super::plan(&lab, super::VlanMode::Native);
    let off: Vec<(&str, &str)> = plan
        .steps()
        .filter_map(|s| match s {
            super::Step::Sysctl { ns, key, value } if super::optional_sysctl(key) => {
                assert_eq!(value, "0");
                Some((ns.as_str(), key.as_str()))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<(&str, &str)> = super::BRIDGE_NETFILTER
        .iter()
        .map(|k| ("t.br0", *k))
        .collect();
    assert_eq!(off, expected);
}
