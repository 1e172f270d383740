//! ③ Plan: a [`Lab`] becomes stages of [`Step`]s. Pure: no kernel, no files.
//!
//! Steps inside one stage are independent of each other, so the kernel backend may run them
//! concurrently; stages run in order (namespaces before the links that live in them, addresses
//! before the routes that need them).

use std::fmt;

use serde::{Deserialize, Serialize};

mod nat;
#[cfg(test)]
mod props;
mod security;
pub(crate) mod shape;
pub(crate) mod step;
mod switch;

pub use step::{End, Step};

use crate::model::{Endpoint, Lab, LinkKind, Netns, NodeKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    /// How its steps are carried out; every step of the stage is of this kind.
    #[serde(default)]
    pub kind: StageKind,
    pub steps: Vec<Step>,
}

/// How the steps of a stage reach the kernel: the plan decides, the backend matches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// `ip netns add`: namespaces made and mounted, each pinned for the later stages.
    Namespaces,
    /// Links, addresses, routes, qdiscs, sysctls: netlink requests (and /proc writes), batched.
    #[default]
    Netlink,
    /// nftables rulesets, by the `nft` binary inside a namespace, or on the machine.
    Firewall,
    /// The nodes' own `exec:` commands, in order.
    Exec,
}

impl StageKind {
    /// The kind of stage a step belongs in: the rule the plan's stages are held to.
    #[cfg(test)]
    pub(crate) fn of(step: &Step) -> StageKind {
        match step {
            Step::AddNetns { .. } => StageKind::Namespaces,
            Step::Nft { .. } | Step::MachineNat { .. } => StageKind::Firewall,
            Step::Exec { .. } => StageKind::Exec,
            _ => StageKind::Netlink,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub stages: Vec<Stage>,
}

impl Plan {
    pub(crate) fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages.iter().flat_map(|s| s.steps.iter())
    }

    pub(crate) fn len(&self) -> usize {
        self.stages.iter().map(|s| s.steps.len()).sum()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for stage in &self.stages {
            writeln!(
                f,
                "# {} ({})",
                stage.name,
                crate::terminal::count(stage.steps.len(), "step")
            )?;
            for s in &stage.steps {
                writeln!(f, "{s}")?;
            }
        }
        Ok(())
    }
}

/// The mark vnet leaves on every namespace it makes, so that it can later prove ownership.
pub(crate) fn owner_tag(lab: &str) -> String {
    format!("vnet:{lab}")
}

/// The lab's nftables table on the machine (`--allow-machine-nat`): one per lab, by name.
pub(crate) fn machine_nat_table(lab: &str) -> String {
    format!("vnet-{lab}")
}

/// Whether the lab translates addresses on the machine itself, which needs
/// `--allow-machine-nat`.
pub(crate) fn machine_nat(lab: &Lab) -> Option<&crate::model::Node> {
    (0..lab.nodes.len())
        .find(|i| lab.on_machine(*i) && lab.nodes[*i].nat.is_some())
        .map(|i| &lab.nodes[i])
}

/// How 802.1Q switches and sub-interfaces are built: the same behaviour either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VlanMode {
    /// A VLAN-filtering bridge per switch and real 802.1Q devices: what stock kernels get.
    #[default]
    Native,
    /// A bridge per VLAN and a veth pair per VLAN of a trunk, for kernels without 802.1Q.
    Emulated,
}

impl VlanMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VlanMode::Native => "native",
            VlanMode::Emulated => "emulated",
        }
    }
}

/// Whether the lab has anything that depends on the VLAN mode.
pub(crate) fn uses_vlans(lab: &Lab) -> bool {
    lab.nodes
        .iter()
        .any(|n| n.kind == NodeKind::Switch || n.interfaces.iter().any(|i| i.vlan.is_some()))
}

/// Sysctls that differ between distributions' root namespaces (new namespaces inherit the IPv4
/// ones) and change what a lab does: set them all so a lab behaves the same everywhere.
///
/// A node with no IPv6 address, gateway or route gets no IPv6 on its interfaces at all (`lo`
/// keeps `::1`): no link-local addresses, so no MLD reports, router solicitations or DAD
/// probes, which every bridge floods to every port. On a 1000-port bridge that chatter
/// (10^6 frames) was most of the time `up` took, and it goes on during `verify`.
fn sysctls(forward: bool, ipv6: bool, bridges: bool) -> Vec<(&'static str, &'static str)> {
    let forward = if forward { "1" } else { "0" };
    let mut v = vec![
        // Asymmetric paths are legitimate in a lab; strict reverse-path filtering would drop them.
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
        ("net.ipv4.conf.all.arp_ignore", "0"),
        ("net.ipv4.conf.default.arp_ignore", "0"),
        ("net.ipv4.conf.all.arp_announce", "0"),
        ("net.ipv4.conf.default.arp_announce", "0"),
    ];
    if ipv6 {
        // Duplicate address detection would leave IPv6 addresses "tentative" for a second.
        v.push(("net.ipv6.conf.all.accept_dad", "0"));
        v.push(("net.ipv6.conf.default.accept_dad", "0"));
    } else {
        v.push(("net.ipv6.conf.default.disable_ipv6", "1"));
    }
    v.push(("net.ipv4.ip_forward", forward));
    if ipv6 {
        v.push(("net.ipv6.conf.all.forwarding", forward));
    }
    if bridges {
        // A bridge forwards frames and nothing else. With `br_netfilter` loaded (Docker loads
        // it) bridged packets would also cross the namespace's iptables, ip6tables and
        // arptables hooks and conntrack: a lab would behave, and cost, differently on such a
        // machine. Without the module these keys do not exist, and there is nothing to undo.
        for key in BRIDGE_NETFILTER {
            v.push((key, "0"));
        }
    }
    v
}

/// `br_netfilter`'s switches, per namespace; absent when the module is not loaded.
pub(crate) const BRIDGE_NETFILTER: [&str; 3] = [
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.bridge.bridge-nf-call-arptables",
];

/// Whether a sysctl may be missing (its module not loaded), and is then skipped.
pub(crate) fn optional_sysctl(key: &str) -> bool {
    key.starts_with("net.bridge.")
}

/// Whether a node has anything IPv6: an address, a gateway or a route.
fn speaks_ipv6(lab: &Lab, i: usize) -> bool {
    let node = &lab.nodes[i];
    lab.addresses(i).any(|a| a.addr().is_ipv6())
        || lab.bridges_inside(i).any(|b| speaks_ipv6(lab, b))
        || node.gateways.iter().any(std::net::IpAddr::is_ipv6)
        || node.routes.iter().any(|r| r.via.is_ipv6())
}

/// The stages of a plan, in the order they run.
#[derive(Default)]
pub(crate) struct Stages {
    pub namespaces: Vec<Step>,
    pub settings: Vec<Step>,
    pub bridges: Vec<Step>,
    pub links: Vec<Step>,
    /// Bridge ports join their bridge before VLAN entries can be set on them, and the parents
    /// of 802.1Q sub-interfaces come up before their children.
    pub ports: Vec<Step>,
    /// Devices stacked on others: 802.1Q, macvlan; and bridge VLAN entries.
    pub devices: Vec<Step>,
    pub interfaces: Vec<Step>,
    /// Qdiscs that impair what a device sends (`impair:`).
    pub impairments: Vec<Step>,
    /// nftables: port security on switches, NAT on routers.
    pub firewall: Vec<Step>,
    pub routes: Vec<Step>,
    pub exec: Vec<Step>,
}

pub fn plan(lab: &Lab, mode: VlanMode) -> Plan {
    let mut st = Stages::default();
    let tag = owner_tag(&lab.name);
    for (i, node) in lab.nodes.iter().enumerate() {
        let ns = lab.netns(i);
        // The machine's own namespace exists already, and its settings are not the lab's; a
        // bridge inside another node lives in that node's, set up with it.
        if !Netns::of(&ns).is_machine() && node.inside.is_none() {
            st.namespaces.push(Step::AddNetns { ns: ns.clone() });
            let forward = node.kind == NodeKind::Router
                || (node.kind == NodeKind::Switch && !node.svis.is_empty());
            let bridges = matches!(node.kind, NodeKind::Bridge | NodeKind::Switch)
                || lab.bridges_inside(i).next().is_some();
            for (key, value) in sysctls(forward, speaks_ipv6(lab, i), bridges) {
                st.settings.push(Step::Sysctl {
                    ns: ns.clone(),
                    key: key.into(),
                    value: value.into(),
                });
            }
            st.settings.push(Step::LoopbackUp {
                ns: ns.clone(),
                tag: tag.clone(),
            });
        }
        match node.kind {
            NodeKind::Switch => switch::plan_switch(lab, i, mode, &mut st),
            NodeKind::Bridge => plan_bridge(lab, i, &mut st),
            NodeKind::Host | NodeKind::Router => plan_host(lab, i, mode, &mut st),
        }
        match &node.nat {
            Some(n) if Netns::of(&ns).is_machine() => st.firewall.push(Step::MachineNat {
                table: machine_nat_table(&lab.name),
                tag: tag.clone(),
                chains: nat::machine_chains(lab, i, n),
            }),
            Some(n) => st.firewall.push(Step::Nft {
                ns: ns.clone(),
                ruleset: nat::ruleset(lab, i, n),
            }),
            None => {}
        }
        if !node.isolate.is_empty() {
            st.firewall.push(Step::Nft {
                ns: ns.clone(),
                ruleset: nat::isolation(&node.isolate),
            });
        }
        for gw in &node.gateways {
            let to = if gw.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
            st.routes.push(Step::AddRoute {
                ns: ns.clone(),
                to: to.parse().expect("a valid literal"),
                via: *gw,
            });
        }
        for r in &node.routes {
            st.routes.push(Step::AddRoute {
                ns: ns.clone(),
                to: r.to,
                via: r.via,
            });
        }
        for cmd in &node.exec {
            st.exec.push(Step::Exec {
                ns: ns.clone(),
                cmd: cmd.clone(),
                timeout_ms: node
                    .exec_timeout_ms
                    .unwrap_or(crate::model::EXEC_TIMEOUT_MS),
            });
        }
    }
    for link in &lab.links {
        plan_link(lab, link, mode, &mut st);
    }
    for tap in &lab.taps {
        st.links.push(Step::AddTap {
            ns: lab.netns(tap.node),
            dev: tap.name.clone(),
            owner: tap.owner,
            group: tap.group,
        });
    }
    use StageKind::*;
    let stages = [
        ("namespaces", Namespaces, st.namespaces),
        ("settings", Netlink, st.settings),
        ("bridges", Netlink, st.bridges),
        ("links", Netlink, st.links),
        ("ports", Netlink, st.ports),
        ("devices", Netlink, st.devices),
        ("interfaces", Netlink, st.interfaces),
        ("impairments", Netlink, st.impairments),
        ("firewall", Firewall, st.firewall),
        ("routes", Netlink, st.routes),
        ("exec", Exec, st.exec),
    ];
    Plan {
        stages: stages
            .into_iter()
            .filter(|(_, _, steps)| !steps.is_empty())
            .map(|(name, kind, steps)| Stage {
                name: name.into(),
                kind,
                steps,
            })
            .collect(),
    }
}

/// Whether a link (or a TAP) makes this interface exist. A macvlan's parent is made by some
/// other link, not by the macvlan.
fn is_linked(lab: &Lab, node: usize, iface: &str) -> bool {
    lab.links.iter().any(|l| {
        let parent_only = matches!(l.kind, LinkKind::Macvlan { .. });
        (l.a.node == node && l.a.iface == iface)
            || (!parent_only && l.b.node == node && l.b.iface == iface)
    }) || lab.taps.iter().any(|t| t.node == node && t.name == iface)
}

/// Addresses, then up: for any interface that exists once its links are made.
fn address_and_up(ns: &str, iface: &crate::model::Interface, st: &mut Stages) {
    for addr in &iface.addresses {
        st.interfaces.push(Step::AddAddress {
            ns: ns.to_owned(),
            dev: iface.name.clone(),
            addr: *addr,
        });
    }
    st.interfaces.push(Step::LinkUp {
        ns: ns.to_owned(),
        dev: iface.name.clone(),
    });
}

fn plan_bridge(lab: &Lab, i: usize, st: &mut Stages) {
    let node = &lab.nodes[i];
    let ns = lab.netns(i);
    st.bridges.push(Step::AddBridge {
        ns: ns.clone(),
        name: node.name.clone(),
        stp: node.stp,
        priority: node.stp_priority,
        vlan_filtering: false,
        hub: node.hub,
    });
    for iface in &node.interfaces {
        let is_device = iface.name == node.name;
        if !is_device && !is_linked(lab, i, &iface.name) {
            continue;
        }
        if !is_device {
            st.ports.push(Step::SetMaster {
                ns: ns.clone(),
                dev: iface.name.clone(),
                master: node.name.clone(),
            });
        }
        address_and_up(&ns, iface, st);
    }
}

fn plan_host(lab: &Lab, i: usize, mode: VlanMode, st: &mut Stages) {
    let node = &lab.nodes[i];
    let ns = lab.netns(i);
    for iface in &node.interfaces {
        let linked = match &iface.vlan {
            Some((parent, _)) => is_linked(lab, i, parent),
            None => is_linked(lab, i, &iface.name),
        };
        if !linked {
            continue;
        }
        if let (Some((parent, vid)), VlanMode::Native) = (&iface.vlan, mode) {
            st.devices.push(Step::AddVlan {
                ns: ns.clone(),
                parent: parent.clone(),
                name: iface.name.clone(),
                vid: *vid,
            });
        }
        // Emulated: the sub-interface is the far end of its VLAN's own veth pair (plan_link).
        let vlan_parent = mode == VlanMode::Native
            && node
                .interfaces
                .iter()
                .any(|x| x.vlan.as_ref().is_some_and(|v| v.0 == iface.name));
        let macvlan_parent = lab.links.iter().any(|l| {
            matches!(l.kind, LinkKind::Macvlan { .. }) && l.b.node == i && l.b.iface == iface.name
        });
        if vlan_parent || macvlan_parent {
            // A stacked device comes up only on a parent that is up (else ENETDOWN).
            for addr in &iface.addresses {
                st.interfaces.push(Step::AddAddress {
                    ns: ns.clone(),
                    dev: iface.name.clone(),
                    addr: *addr,
                });
            }
            st.ports.push(Step::LinkUp {
                ns: ns.clone(),
                dev: iface.name.clone(),
            });
            continue;
        }
        address_and_up(&ns, iface, st);
    }
}

fn end(lab: &Lab, e: &Endpoint, dev: String) -> End {
    let mac = lab.nodes[e.node]
        .interfaces
        .iter()
        .find(|i| i.name == dev)
        .and_then(|i| i.mac.clone());
    End {
        ns: lab.netns(e.node),
        dev,
        mac,
    }
}

/// VLANs an end carries tagged: a trunk's list, or an interface's sub-interfaces.
fn tagged(lab: &Lab, e: &Endpoint) -> Vec<u16> {
    let n = &lab.nodes[e.node];
    match n.kind {
        NodeKind::Switch => n
            .ports
            .iter()
            .find(|p| p.name == e.iface)
            .map(|p| p.mode.tagged())
            .unwrap_or_default(),
        NodeKind::Host | NodeKind::Router => n
            .interfaces
            .iter()
            .filter_map(|i| i.vlan.as_ref().filter(|v| v.0 == e.iface).map(|v| v.1))
            .collect(),
        NodeKind::Bridge => Vec::new(),
    }
}

fn plan_link(lab: &Lab, link: &crate::model::Link, mode: VlanMode, st: &mut Stages) {
    let iface_mtu = |e: &Endpoint| {
        lab.nodes[e.node]
            .interfaces
            .iter()
            .find(|i| i.name == e.iface)
            .and_then(|i| i.mtu)
    };
    let mtu = link.mtu.or(iface_mtu(&link.a)).or(iface_mtu(&link.b));
    let (a, b) = (
        end(lab, &link.a, link.a.iface.clone()),
        end(lab, &link.b, link.b.iface.clone()),
    );
    if let Some(imp) = &link.impair {
        for (e, i) in [(&a, &imp.a), (&b, &imp.b)] {
            if let Some(i) = i {
                st.impairments.push(Step::Impair {
                    ns: e.ns.clone(),
                    dev: e.dev.clone(),
                    shape: shape::Shape::of(i, mtu.unwrap_or(1500)),
                });
            }
        }
    }
    match &link.kind {
        LinkKind::Macvlan { mode } => {
            // The parent exists once the links are made: the child is stacked on it.
            st.devices.push(Step::AddMacvlan {
                parent: b,
                child: a,
                mode: mode.clone(),
            });
        }
        LinkKind::Vxlan { vni, underlay } => {
            let first_v4 = |n: usize| {
                lab.addresses(n)
                    .map(|x| x.addr())
                    .find(std::net::IpAddr::is_ipv4)
            };
            if let (Some(l1), Some(l2)) = (first_v4(underlay.0), first_v4(underlay.1)) {
                for (underlay_ns, end, local, remote) in [
                    (lab.netns(underlay.0), a, l1, l2),
                    (lab.netns(underlay.1), b, l2, l1),
                ] {
                    st.links.push(Step::AddVxlan {
                        underlay_ns,
                        end,
                        vni: *vni,
                        local,
                        remote,
                    });
                }
            }
        }
        LinkKind::Veth if Netns::of(&a.ns).is_machine() || Netns::of(&b.ns).is_machine() => {
            // An end on the machine is born in the other end's namespace under a name of
            // vnet's, gets the lab's mark, and only then moves to the machine: a crash at any
            // point leaves nothing on the machine without the mark that lets `down` remove it.
            let (machine, other) = if Netns::of(&a.ns).is_machine() {
                (a, b)
            } else {
                (b, a)
            };
            let temporary = format!(
                "vnet-m{}",
                lab.links.iter().position(|l| l == link).unwrap_or(0)
            );
            let born = End {
                ns: other.ns.clone(),
                dev: temporary.clone(),
                mac: machine.mac.clone(),
            };
            st.links.push(Step::AddVeth {
                a: born,
                b: other.clone(),
                mtu,
            });
            st.ports.push(Step::MoveLink {
                ns: other.ns,
                dev: temporary,
                name: machine.dev,
                tag: owner_tag(&lab.name),
            });
        }
        LinkKind::Veth => {
            st.links.push(Step::AddVeth { a, b, mtu });
            if mode == VlanMode::Emulated {
                // Each VLAN both ends carry tagged gets a veth pair of its own, named PORT.VID.
                let theirs = tagged(lab, &link.b);
                for vid in tagged(lab, &link.a)
                    .into_iter()
                    .filter(|v| theirs.contains(v))
                {
                    st.links.push(Step::AddVeth {
                        a: end(lab, &link.a, format!("{}.{vid}", link.a.iface)),
                        b: end(lab, &link.b, format!("{}.{vid}", link.b.iface)),
                        mtu,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backend carries out a stage by its kind alone: a step in a stage of another kind
    /// would be sent the wrong way. Every bundled lab, both VLAN builds.
    #[test]
    fn no_stage_mixes_kinds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        assert!(files.len() > 10);
        for f in files {
            let text = std::fs::read(&f).unwrap();
            let lab = crate::topology::parse(&f.display().to_string(), "x", &text)
                .unwrap()
                .lab;
            for mode in [VlanMode::Native, VlanMode::Emulated] {
                for stage in plan(&lab, mode).stages {
                    for step in &stage.steps {
                        assert_eq!(
                            StageKind::of(step),
                            stage.kind,
                            "{}: stage {} holds {step}",
                            f.display(),
                            stage.name
                        );
                    }
                }
            }
        }
    }
}
