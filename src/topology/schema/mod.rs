//! First pass over the YAML tree: shapes and scalars (keys, types, names, addresses).
//!
//! Nothing here looks across the file; cross-references are `validate`'s job. Every problem
//! is recorded and reading goes on, so one run reports them all.

use std::net::IpAddr;

use ipnet::IpNet;
use miette::SourceSpan;

pub(crate) mod address;
mod check;
mod fields;
pub(crate) mod impair;
pub(crate) use fields::parse_duration;
mod link;
mod nat;
mod node;
mod stage;
mod switch;

use super::diag::Problems;
use super::yaml::{Node, Value};
use crate::model::NodeKind;
use crate::model::name::lab_name_problem;
use fields::{Fields, list, name_key, string};
pub(crate) use nat::RawNat;

/// A value with the place it was written.
#[derive(Debug, Clone)]
pub(crate) struct Sp<T> {
    pub v: T,
    pub at: SourceSpan,
}

#[derive(Debug, Default)]
pub(crate) struct RawLab {
    pub name: Option<Sp<String>>,
    pub nodes: Vec<RawNode>,
    pub links: Vec<RawLink>,
    pub taps: Vec<RawTap>,
    pub checks: Vec<RawCheck>,
    pub stages: Vec<RawStage>,
}

/// `stages:` entry: a name, actions (`do:`), then checks (`expect:`).
#[derive(Debug)]
pub(crate) struct RawStage {
    pub name: Sp<String>,
    pub actions: Vec<RawAction>,
    pub checks: Vec<RawCheck>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) enum RawAction {
    ArpSpoof {
        from: Sp<String>,
        claim: Sp<IpAddr>,
        to: Sp<String>,
        at: SourceSpan,
    },
    Link {
        node: Sp<String>,
        iface: Sp<String>,
        up: bool,
        at: SourceSpan,
    },
    Exec {
        on: Sp<String>,
        run: Sp<String>,
        at: SourceSpan,
    },
    /// `impair:` (settings) or `clear:` (none) on one interface.
    Impair {
        node: Sp<String>,
        iface: Sp<String>,
        settings: Option<crate::model::impair::Impair>,
        at: SourceSpan,
    },
}

#[derive(Debug)]
pub(crate) struct RawNode {
    pub name: Sp<String>,
    pub kind: NodeKind,
    pub interfaces: Vec<RawIface>,
    /// The bridge device's own addresses (`addresses:` on a bridge).
    pub addresses: Vec<Sp<IpNet>>,
    pub gateways: Vec<Sp<IpAddr>>,
    pub routes: Vec<RawRoute>,
    pub exec: Vec<String>,
    /// How long each `exec:` command may run, in milliseconds (`exec_timeout:`).
    pub exec_timeout: Option<u64>,
    pub stp: bool,
    /// The spanning-tree bridge priority (`priority:`).
    pub priority: Option<Sp<u16>>,
    /// `kind: hub`: a bridge that floods every frame to every port (it never learns).
    pub hub: bool,
    /// A bridge that lives in another node's namespace (`in: dockerhost`), as docker0 lives
    /// in the Docker host's.
    pub inside: Option<Sp<String>>,
    /// A router's interfaces between which nothing is forwarded (`isolate: [docker0, br1]`):
    /// Docker's isolation of its networks from each other.
    pub isolate: Vec<Sp<String>>,
    /// A switch's port settings (`ports:`); ports not listed are access ports in VLAN 1.
    pub ports: Vec<RawPort>,
    /// A layer-3 switch's interfaces into its VLANs (`svi: {10: 10.0.10.1/24}`).
    pub svis: Vec<RawSvi>,
    /// MAC-based VLANs (`mac_vlans: {"02:00:00:00:00:31": 10}`): a port's VLAN follows the
    /// MAC of what is plugged into it.
    pub mac_vlans: Vec<(Sp<String>, Sp<u16>)>,
    /// A router's address translation.
    pub nat: Option<RawNat>,
}

#[derive(Debug)]
pub(crate) struct RawPort {
    pub name: Sp<String>,
    pub vlan: Option<Sp<u16>>,
    pub trunk: Option<Sp<Vec<u16>>>,
    pub native: Option<Sp<u16>>,
    pub allow: Vec<RawAllow>,
}

/// One IP-MAC binding of port security.
#[derive(Debug)]
pub(crate) struct RawAllow {
    pub mac: String,
    pub ip: Option<IpAddr>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) struct RawSvi {
    pub vlan: Sp<u16>,
    pub addresses: Vec<Sp<IpNet>>,
}

#[derive(Debug)]
pub(crate) struct RawIface {
    pub name: Sp<String>,
    /// `eth0.10`: an 802.1Q sub-interface of `eth0` in VLAN 10.
    pub vlan: Option<(String, u16)>,
    pub addresses: Vec<Sp<IpNet>>,
    pub mac: Option<Sp<String>>,
    pub mtu: Option<Sp<u32>>,
}

#[derive(Debug)]
pub(crate) struct RawRoute {
    pub to: Sp<IpNet>,
    pub via: Sp<IpAddr>,
}

#[derive(Debug)]
pub(crate) struct RawEndpoint {
    pub node: String,
    pub iface: String,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) struct RawLink {
    pub a: RawEndpoint,
    pub b: RawEndpoint,
    pub mtu: Option<Sp<u32>>,
    pub kind: RawLinkKind,
    pub impair: Option<Box<impair::RawImpair>>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) enum RawLinkKind {
    Veth,
    /// `a` is the macvlan child, `b` its parent interface.
    Macvlan {
        mode: Sp<String>,
    },
    Vxlan {
        vni: Sp<u32>,
        underlay: (Sp<String>, Sp<String>),
    },
}

/// A persistent TAP device on a bridge or switch port, for a virtual machine.
#[derive(Debug)]
pub(crate) struct RawTap {
    pub end: RawEndpoint,
    pub owner: Option<Sp<String>>,
    pub group: Option<Sp<String>>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) struct RawCheck {
    pub from: Sp<String>,
    pub to: Sp<String>,
    pub reach: bool,
    /// 3 (default): ICMP echo; 2: an ARP request answered, whatever the subnets.
    pub layer: Option<Sp<u8>>,
    /// `icmp` (default), `tcp` or `udp`.
    pub proto: Option<Sp<String>>,
    /// The source address the target must see (proves NAT, or its absence).
    pub seen_as: Option<Sp<String>>,
    /// `false`: a service the user started must answer; vnet opens no listener.
    pub listen: Option<bool>,
    /// Nodes the packets must pass, in order (traceroute).
    pub via: Vec<Sp<String>>,
    /// Nodes where the probe's frames must arrive, or must not.
    pub seen_by: Vec<Sp<String>>,
    pub unseen_by: Vec<Sp<String>>,
    /// A neighbour-cache check (`{on: victim, neighbour: 10.0.1.1, is: gw}`): the node whose
    /// MAC the entry must (`is:`) or must not (`is_not:`) hold.
    pub neighbour_is: Option<Sp<String>>,
    /// Bounds on what is measured (`rtt:`, `loss:`, `rate:`).
    pub rtt: Option<Sp<crate::model::measure::Bound>>,
    pub loss: Option<Sp<crate::model::measure::Bound>>,
    pub rate: Option<Sp<crate::model::measure::Bound>>,
    /// Where `rate:` is written, also when its value was refused: a TCP check that measures
    /// needs no port, whether or not its bound could be read.
    pub rate_at: Option<SourceSpan>,
    /// `within:`, in milliseconds.
    pub within: Option<u64>,
    pub at: SourceSpan,
}

// The keys the reader knows are the format's (see `format`): the schema and the reader
// cannot disagree about which keys exist.
use super::format;
pub(super) const TOP_KEYS: &[&str] = &format::keys(&format::TOP);
pub(super) const HOST_KEYS: &[&str] = &format::keys(&format::HOST);
pub(super) const BRIDGE_KEYS: &[&str] = &format::keys(&format::BRIDGE);
pub(super) const IFACE_KEYS: &[&str] = &format::keys(&format::INTERFACE);
pub(super) const ROUTE_KEYS: &[&str] = &format::keys(&format::ROUTE);
pub(super) const LINK_KEYS: &[&str] = &format::keys(&format::LINK);
pub(super) const IMPAIR_KEYS: &[&str] = &format::keys(&format::IMPAIR);

/// The settings an impairment takes, for messages outside the reader.
pub(crate) fn impair_keys() -> &'static [&'static str] {
    IMPAIR_KEYS
}
pub(super) const TAP_KEYS: &[&str] = &format::keys(&format::TAP);
pub(super) const MACVLAN_KEYS: &[&str] = &format::keys(&format::MACVLAN);
pub(super) const CHECK_KEYS: &[&str] = &format::keys(&format::CHECK);
pub(super) const SWITCH_KEYS: &[&str] = &format::keys(&format::SWITCH);
pub(super) const PORT_KEYS: &[&str] = &format::keys(&format::PORT);
pub(super) const ALLOW_KEYS: &[&str] = &format::keys(&format::ALLOW);
pub(super) const NAT_KEYS: &[&str] = &format::keys(&format::NAT_FIELDS);
pub(super) const PUBLISH_KEYS: &[&str] = &format::keys(&format::PUBLISH);
pub(super) const STAGE_KEYS: &[&str] = &format::keys(&format::STAGE);
pub(super) const ACTIONS: &[&str] = &format::keys(&format::ACTIONS);
pub(super) const ARP_SPOOF_KEYS: &[&str] = &format::keys(&format::ARP_SPOOF);
pub(super) const EXEC_ACTION_KEYS: &[&str] = &format::keys(&format::EXEC_ACTION);
pub(super) const NEIGHBOUR_KEYS: &[&str] = &format::keys(&format::NEIGHBOUR);
pub(super) const KINDS: &[&str] = &format::KINDS;

pub(crate) fn read(p: &mut Problems, root: &Node) -> RawLab {
    let mut lab = RawLab::default();
    if matches!(root.value, Value::Null) {
        p.error(
            "empty",
            "the topology file is empty",
            root.span,
            "nothing here",
            Some("a topology needs at least `nodes:`; see `vnet help` or the README".into()),
        );
        return lab;
    }
    let Some(mut top) = Fields::of(p, root, "the topology") else {
        return lab;
    };
    if let Some(n) = top.get("name")
        && let Some(name) = string(p, n, "name")
    {
        if let Some(why) = lab_name_problem(&name.v) {
            p.error(
                "name",
                format!("invalid lab name `{}`", name.v),
                n.span,
                why,
                None,
            );
        } else {
            lab.name = Some(name);
        }
    }
    match top.get("nodes") {
        Some(n)
            if matches!(&n.value, Value::Null)
                || matches!(&n.value, Value::Map(m) if m.is_empty()) =>
        {
            let key = top
                .entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "nodes"))
                .map_or(n.span, |(k, _)| k.span);
            p.error(
                "no_nodes",
                "the lab has no nodes",
                key,
                "nothing under `nodes:`",
                Some(
                    "add at least one node, such as `h1: {interfaces: {eth0: 10.0.0.1/24}}`".into(),
                ),
            );
        }
        Some(n) => read_nodes(p, n, &mut lab),
        None => p.error(
            "missing_key",
            "the topology has no `nodes:`",
            (0, 0),
            "expected `nodes:` in this file",
            Some("add `nodes:` with at least one node".into()),
        ),
    }
    if let Some(n) = top.get("links") {
        for item in list(p, n, "links") {
            match link::read_link(p, item) {
                Some(link::Item::Link(l)) => lab.links.push(l),
                Some(link::Item::Tap(t)) => lab.taps.push(t),
                None => {}
            }
        }
    }
    if let Some(n) = top.get("expect") {
        lab.checks = check::read_checks(p, n);
    }
    if let Some(n) = top.get("stages") {
        for item in list(p, n, "stages") {
            if let Some(s) = stage::read_stage(p, item) {
                lab.stages.push(s);
            }
        }
    }
    top.finish(p, TOP_KEYS, "the topology");
    lab
}

fn read_nodes(p: &mut Problems, n: &Node, lab: &mut RawLab) {
    let Some(nodes) = Fields::of(p, n, "nodes") else {
        return;
    };
    for (key, body) in nodes.entries {
        let Some(name) = name_key(p, key, "node name") else {
            continue;
        };
        if let Some(node) = node::read_node(p, name, body) {
            if node.name.v == crate::model::MACHINE {
                machine_rules(p, &node, body);
            }
            lab.nodes.push(node);
        }
    }
}

/// `host` is the machine itself: vnet adds only what the topology names there (links,
/// addresses, routes to the lab), and nothing that could change how the machine behaves.
fn machine_rules(p: &mut Problems, node: &RawNode, body: &Node) {
    let forbidden = [
        (
            "kind",
            node.kind != NodeKind::Host,
            "the machine is not a router, bridge or switch here",
        ),
        (
            "gateway",
            !node.gateways.is_empty(),
            "it would replace the machine's default route",
        ),
        (
            "exec",
            !node.exec.is_empty(),
            "commands on the machine are yours to run, not the lab's",
        ),
    ];
    for i in node.interfaces.iter().filter(|i| i.vlan.is_some()) {
        p.error(
            "machine",
            "no 802.1Q sub-interfaces on `host`, the machine itself",
            i.name.at,
            "would stack on the machine's interface",
            None,
        );
    }
    let Value::Map(entries) = &body.value else {
        return;
    };
    for (key, bad, why) in forbidden {
        if !bad {
            continue;
        }
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
        {
            let help = if key == "gateway" {
                "routes on the machine are `routes:` (to reach the lab); a default route there, `{to: default, via: ...}`, is made only by `vnet up --allow-machine-routes`"
            } else {
                "`host` takes `interfaces:` (the machine's ends of links) and `routes:` (to reach the lab)"
            };
            p.error(
                "machine",
                format!("`{key}` is not allowed on `host`, the machine itself"),
                k.span,
                why,
                Some(help.into()),
            );
        }
    }
}
