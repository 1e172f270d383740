//! What differs between a running lab and what vnet built: its namespaces, the interfaces of
//! its links and their state, addresses, routes, forwarding, bridge ports, its firewall tables
//! and the processes `exec:` left running, read from the kernel. Changes made on purpose with
//! `vnet link` (recorded) are said as such, not as drift.

mod settings;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::apply::live::{PortState, Space};
use crate::apply::{exec, live, netns, procs};
use crate::model::{Lab, Netns, NodeKind, svi_name};
use crate::plan::{Plan, Step};
use crate::verify::membership;

/// One difference, with a stable `kind` for scripts and the sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Difference {
    /// `namespace_missing`, `link_missing`, `link_down`, `no_carrier`, `address_missing`,
    /// `address_added`, `route_missing`, `route_added`, `forwarding_changed`, `port_detached`,
    /// `port_moved`, `vlans_changed`, `table_missing`, `process_exited`.
    pub kind: &'static str,
    /// The node it is about.
    pub node: String,
    pub text: String,
}

/// An interface of the lab as the kernel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LiveInterface {
    pub node: String,
    pub name: String,
    /// `up`, `down` (set down), `no-carrier` (its other end down or gone), `unknown`, or
    /// `missing`.
    pub state: String,
    /// Its addresses now (IPv6 link-local ones left out).
    pub addresses: Vec<String>,
}

/// A port of a bridge or switch, and what is at its other end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortView {
    /// `sw:p1`.
    pub port: String,
    /// `pc1:eth0`, the other end of its link.
    pub peer: String,
    /// `forwarding`, `blocking` (spanning tree), `settling`, `disabled`, or the interface's
    /// state when it is not up (`down`, `no-carrier`, `missing`).
    pub state: String,
    /// A switch port's VLANs as the kernel has them (`VLAN 10`, `VLANs 10, 20 tagged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlans: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Drift {
    pub differences: Vec<Difference>,
    /// Interfaces taken down with `vnet link` and still down: not drift.
    pub taken_down: Vec<String>,
    pub interfaces: Vec<LiveInterface>,
    /// Every bridge's and switch's ports, in the file's order.
    pub ports: Vec<PortView>,
}

/// An interface vnet makes: its node, its name, the `node:iface` at its link's other end,
/// and whether a healthy lab may leave it without carrier (a TAP waiting for its VM, a
/// bridge with no port up).
struct Wanted {
    node: usize,
    iface: String,
    peer: Option<String>,
    may_lack_carrier: bool,
}

/// The interfaces vnet makes for the lab, by namespace.
fn expected_interfaces(lab: &Lab) -> BTreeMap<String, Vec<Wanted>> {
    let end = |e: &crate::model::Endpoint| format!("{}:{}", lab.nodes[e.node].name, e.iface);
    let mut out: BTreeMap<String, Vec<Wanted>> = BTreeMap::new();
    for l in &lab.links {
        for (e, other) in [(&l.a, &l.b), (&l.b, &l.a)] {
            out.entry(lab.netns(e.node)).or_default().push(Wanted {
                node: e.node,
                iface: e.iface.clone(),
                peer: Some(end(other)),
                may_lack_carrier: false,
            });
        }
    }
    for t in &lab.taps {
        out.entry(lab.netns(t.node)).or_default().push(Wanted {
            node: t.node,
            iface: t.name.clone(),
            peer: None,
            may_lack_carrier: true,
        });
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        if n.kind == NodeKind::Bridge && !lab.on_machine(i) {
            out.entry(lab.netns(i)).or_default().push(Wanted {
                node: i,
                iface: n.name.clone(),
                peer: None,
                may_lack_carrier: true,
            });
        }
    }
    out
}

/// An emulated trunk's per-VLAN veth pairs (`t1.20`), which the plan makes beside each trunk
/// link: interfaces of their own, up or down on their own.
fn vlan_links(lab: &Lab, plan: &Plan, out: &mut BTreeMap<String, Vec<Wanted>>) {
    let ends: Vec<(&crate::model::Endpoint, &crate::model::Endpoint)> = lab
        .links
        .iter()
        .flat_map(|l| [(&l.a, &l.b), (&l.b, &l.a)])
        .collect();
    for s in plan.steps() {
        let Step::AddVeth { a, b, .. } = s else {
            continue;
        };
        for (this, that) in [(a, b), (b, a)] {
            let Some((base, _)) = this.dev.rsplit_once('.') else {
                continue;
            };
            let Some((e, other)) = ends
                .iter()
                .find(|(e, _)| e.iface == base && lab.netns(e.node) == this.ns)
            else {
                continue;
            };
            let far = that.dev.rsplit_once('.').map_or("", |(_, v)| v);
            out.entry(this.ns.clone()).or_default().push(Wanted {
                node: e.node,
                iface: this.dev.clone(),
                peer: Some(format!(
                    "{}:{}.{far}",
                    lab.nodes[other.node].name, other.iface
                )),
                may_lack_carrier: false,
            });
        }
    }
}

/// The nftables tables the plan made, by namespace (the machine's under "").
fn expected_tables(plan: &Plan) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in plan.steps() {
        match s {
            Step::Nft { ns, ruleset } => {
                for line in ruleset.lines() {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    if let ["table", family, name, ..] = words.as_slice() {
                        out.entry(ns.clone())
                            .or_default()
                            .insert(format!("{family} {name}"));
                    }
                }
            }
            Step::MachineNat { table, .. } => {
                out.entry(String::new())
                    .or_default()
                    .insert(format!("inet {table}"));
            }
            _ => {}
        }
    }
    out
}

/// `nft list tables` inside the namespace: `inet vnet_nat`, ...
fn tables_in(ns: &str) -> std::io::Result<BTreeSet<String>> {
    let file = netns::open(ns)?;
    let text = exec::nft_output(&file, &["list", "tables"])?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(|t| t.trim().to_owned())
        .collect())
}

fn node_label(lab: &Lab, node: usize) -> String {
    lab.nodes[node].name.clone()
}

/// Compares the running lab with what vnet built from it (`plan`); `taken_down` are the
/// `node:iface` ends `vnet link` took down, `processes` those `exec:` left running at `up`.
pub(crate) fn drift(
    lab: &Lab,
    plan: &Plan,
    taken_down: &BTreeSet<String>,
    processes: &[crate::state::Process],
) -> Drift {
    let mut d = Drift::default();
    let mut gone: BTreeSet<String> = BTreeSet::new();
    for (i, n) in lab.nodes.iter().enumerate() {
        let ns = lab.netns(i);
        if let Some(name) = Netns::of(&ns).named()
            && n.inside.is_none()
            && !netns::is_mounted(name)
        {
            gone.insert(ns.clone());
            d.differences.push(Difference {
                kind: "namespace_missing",
                node: n.name.clone(),
                text: format!("namespace {name} of {} is gone", n.name),
            });
        }
    }
    let mut wanted = expected_interfaces(lab);
    vlan_links(lab, plan, &mut wanted);
    let names: Vec<&str> = wanted
        .keys()
        .map(String::as_str)
        .filter(|ns| !gone.contains(*ns))
        .collect();
    let spaces: BTreeMap<String, Space> = live::read_all(&names, &[])
        .into_iter()
        .map(|(ns, space)| (ns, space.unwrap_or_default()))
        .collect();
    for (ns, ifaces) in &wanted {
        if gone.contains(ns) {
            continue;
        }
        let here = spaces.get(ns).cloned().unwrap_or_default();
        for w in ifaces {
            let (node, iface) = (&w.node, &w.iface);
            let end = format!("{}:{iface}", node_label(lab, *node));
            let dev = here.dev(iface);
            let state = dev.map_or("missing", |d| d.state_word()).to_owned();
            let addresses = dev
                .map(|d| {
                    here.addrs
                        .iter()
                        .filter(|(i, a)| *i == d.index && !is_link_local(a.addr()))
                        .map(|(_, a)| a.to_string())
                        .collect()
                })
                .unwrap_or_default();
            d.interfaces.push(LiveInterface {
                node: node_label(lab, *node),
                name: iface.clone(),
                state: state.clone(),
                addresses,
            });
            let (kind, text) = match state.as_str() {
                "missing" => ("link_missing", format!("interface {end} is missing")),
                "down" if taken_down.contains(&end) => {
                    d.taken_down.push(end.clone());
                    continue;
                }
                "down" => ("link_down", format!("link {end} is down")),
                // The other end taken down with `vnet link`: its consequence, not drift.
                "no-carrier" if w.peer.as_ref().is_some_and(|p| taken_down.contains(p)) => {
                    continue;
                }
                "no-carrier" if !w.may_lack_carrier => (
                    "no_carrier",
                    format!("link {end} has no carrier: the other end is down or gone"),
                ),
                _ => continue,
            };
            d.differences.push(Difference {
                kind,
                node: node_label(lab, *node),
                text,
            });
        }
    }
    let want = crate::verify::explain::expected::spaces(lab);
    for (ns, have) in &spaces {
        let Some(owner) = (0..lab.nodes.len())
            .find(|&i| lab.netns(i) == *ns && lab.nodes[i].inside.is_none() && !lab.on_machine(i))
        else {
            continue;
        };
        let in_it = |i: &usize| lab.netns(*i) == *ns;
        let bridges: Vec<String> = (0..lab.nodes.len())
            .filter(in_it)
            .filter(|&i| lab.nodes[i].kind == NodeKind::Bridge)
            .map(|i| lab.nodes[i].name.clone())
            .collect();
        let place = settings::Place {
            node: &lab.nodes[owner].name,
            runs_exec: (0..lab.nodes.len())
                .filter(in_it)
                .any(|i| !lab.nodes[i].exec.is_empty()),
            bridges: &bridges,
        };
        if let Some(w) = want.get(ns) {
            settings::compare(&place, w, have, &mut d.differences);
        }
    }
    d.ports = ports(lab, &spaces, &gone);
    switch_vlans(lab, &spaces, &gone, &mut d.differences);
    for (ns, tables) in expected_tables(plan) {
        if gone.contains(&ns) {
            continue;
        }
        let node = (0..lab.nodes.len())
            .find(|&i| lab.netns(i) == ns && lab.nodes[i].inside.is_none())
            .map_or_else(|| "the machine".to_string(), |i| node_label(lab, i));
        let have = tables_in(&ns).unwrap_or_default();
        for t in tables.difference(&have) {
            d.differences.push(Difference {
                kind: "table_missing",
                node: node.clone(),
                text: format!("table {t} is missing in {node}"),
            });
        }
    }
    for p in processes {
        if !procs::still_runs(p) {
            let node = p.node.clone().unwrap_or_else(|| "the lab".into());
            d.differences.push(Difference {
                kind: "process_exited",
                text: format!(
                    "process `{}` (pid {}) of {node}'s exec: has exited",
                    p.command, p.pid
                ),
                node,
            });
        }
    }
    d
}

/// Each port of each bridge and switch, with the end its link leads to and its state.
fn ports(lab: &Lab, spaces: &BTreeMap<String, Space>, gone: &BTreeSet<String>) -> Vec<PortView> {
    let mut out = Vec::new();
    let end = |e: &crate::model::Endpoint| format!("{}:{}", lab.nodes[e.node].name, e.iface);
    for (i, n) in lab.nodes.iter().enumerate() {
        if !matches!(n.kind, NodeKind::Bridge | NodeKind::Switch) {
            continue;
        }
        let ns = lab.netns(i);
        for l in &lab.links {
            for (e, other) in [(&l.a, &l.b), (&l.b, &l.a)] {
                if e.node != i {
                    continue;
                }
                let dev = spaces.get(&ns).and_then(|s| s.dev(&e.iface));
                let state = match dev {
                    _ if gone.contains(&ns) => "missing",
                    None => "missing",
                    Some(d) if d.state_word() != "up" => d.state_word(),
                    Some(d) => match d.port {
                        Some(PortState::Forwarding) | None => "forwarding",
                        Some(PortState::Settling) => "settling",
                        Some(PortState::Blocking) => "blocking",
                        Some(PortState::Disabled) => "disabled",
                    },
                };
                let vlans = (n.kind == NodeKind::Switch)
                    .then(|| spaces.get(&ns))
                    .flatten()
                    .and_then(|s| membership::live(s, &e.iface))
                    .map(|m| membership::brief(&m));
                out.push(PortView {
                    port: end(e),
                    peer: end(other),
                    state: state.to_owned(),
                    vlans,
                });
            }
        }
    }
    out
}

/// Each switch port whose VLANs differ from the file's: moved to another VLAN, a VLAN added
/// to or taken from a trunk, or out of every VLAN. A port that is gone is said as such.
fn switch_vlans(
    lab: &Lab,
    spaces: &BTreeMap<String, Space>,
    gone: &BTreeSet<String>,
    out: &mut Vec<Difference>,
) {
    for (i, n) in lab.nodes.iter().enumerate() {
        if n.kind != NodeKind::Switch {
            continue;
        }
        let ns = lab.netns(i);
        if gone.contains(&ns) {
            continue;
        }
        let Some(space) = spaces.get(&ns) else {
            continue;
        };
        for port in &n.ports {
            let Some(now) = membership::live(space, &port.name) else {
                continue;
            };
            for (dev, vid, bridge) in membership::joined(space, &port.name) {
                out.push(Difference {
                    kind: "vlans_changed",
                    node: n.name.clone(),
                    text: format!(
                        "{}:{dev}, trunk {}'s VLAN {vid}, is a port of bridge {bridge}, not {}: VLAN {vid}'s frames on {} go into {bridge}",
                        n.name,
                        port.name,
                        svi_name(vid),
                        port.name
                    ),
                });
            }
            if !membership::same(&now, &port.mode) {
                out.push(Difference {
                    kind: "vlans_changed",
                    node: n.name.clone(),
                    text: format!(
                        "switch port {}:{} carries {}, not {} as built",
                        n.name,
                        port.name,
                        membership::describe(&now),
                        membership::describe(&port.mode)
                    ),
                });
            }
        }
    }
}

fn is_link_local(a: std::net::IpAddr) -> bool {
    matches!(a, std::net::IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}
