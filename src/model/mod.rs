//! The lab as vnet understands it: resolved, checked, free of YAML.
//!
//! Everything here was validated by `topology`; later stages may rely on it (names fit the
//! kernel, references resolve, addresses parse). Spans are kept only so that later stages
//! (kernel feature checks) can still point at the user's line.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub(crate) mod attack;
pub mod feature;
pub(crate) mod impair;
pub(crate) mod measure;
pub(crate) mod name;
pub(crate) mod segments;

/// The node that stands for the machine itself (its own network namespace).
pub const MACHINE: &str = "host";

/// The environment variable that marks every process started in a lab (`<lab>@<machine>`),
/// so that `down` finds it wherever it went.
pub(crate) const PROCESS_MARK: &str = "VNET_LAB_ID";

/// How long an `exec:` command may run when its node does not say (`exec_timeout:`).
pub(crate) const EXEC_TIMEOUT_MS: u64 = 60_000;

/// Where something was written in the topology file: byte offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct At {
    pub offset: usize,
    pub len: usize,
}

impl From<miette::SourceSpan> for At {
    fn from(s: miette::SourceSpan) -> Self {
        At {
            offset: s.offset(),
            len: s.len(),
        }
    }
}

impl From<At> for miette::SourceSpan {
    fn from(a: At) -> Self {
        (a.offset, a.len).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lab {
    pub name: String,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    #[serde(default)]
    pub taps: Vec<Tap>,
    pub checks: Vec<Check>,
    /// What happens to the lab after its checks, in order: actions, each followed by checks.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// One step of a scenario: things done to the running lab, then what must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
    pub checks: Vec<Check>,
    pub at: At,
}

/// Something done to a running lab on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Forged, unsolicited ARP replies (and requests) from `from` telling `to` that `claim`
    /// is at `from`'s MAC: the article's ARP spoofing.
    ArpSpoof {
        from: usize,
        claim: IpAddr,
        to: usize,
        at: At,
    },
    /// `ip link set IFACE down` (or up) in the node.
    Link {
        node: usize,
        iface: String,
        up: bool,
        at: At,
    },
    /// A shell command inside the node, as `exec:` runs it.
    Exec { node: usize, cmd: String, at: At },
    /// What the node's interface sends is impaired with these settings alone (`impair:`), or
    /// not at all (`clear:`), as `vnet impair` does.
    Impair {
        node: usize,
        iface: String,
        impair: Option<impair::Impair>,
        at: At,
    },
}

/// Where devices live, as a step names it: the machine's own namespace or one of the lab's.
/// Steps and the journal keep the name as a string, empty for the machine (the format on
/// disk); this is the one place that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Netns<'a> {
    Machine,
    Named(&'a str),
}

impl<'a> Netns<'a> {
    pub(crate) fn of(ns: &'a str) -> Netns<'a> {
        if ns.is_empty() {
            Netns::Machine
        } else {
            Netns::Named(ns)
        }
    }

    pub(crate) fn is_machine(self) -> bool {
        self == Netns::Machine
    }

    /// The name as steps and the journal spell it: empty for the machine.
    pub(crate) fn as_str(self) -> &'a str {
        match self {
            Netns::Machine => "",
            Netns::Named(n) => n,
        }
    }

    /// The lab's namespace, if it is one.
    pub(crate) fn named(self) -> Option<&'a str> {
        match self {
            Netns::Machine => None,
            Netns::Named(n) => Some(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    Host,
    Router,
    Bridge,
    /// An 802.1Q-aware switch: access and trunk ports, optional SVIs (a layer-3 switch).
    Switch,
}

impl NodeKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeKind::Host => "host",
            NodeKind::Router => "router",
            NodeKind::Bridge => "bridge",
            NodeKind::Switch => "switch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// For hosts and routers the declared interfaces; for a bridge, its ports (one per link
    /// that ends on it) and, first, the bridge device itself named after the node.
    pub interfaces: Vec<Interface>,
    pub gateways: Vec<IpAddr>,
    pub routes: Vec<Route>,
    pub exec: Vec<String>,
    /// How long each `exec:` command may run (`exec_timeout:`); [`EXEC_TIMEOUT_MS`] if unset.
    #[serde(default)]
    pub exec_timeout_ms: Option<u64>,
    /// Spanning tree on a bridge (lets bridges form loops on purpose).
    pub stp: bool,
    /// Its spanning-tree bridge priority (`priority:`), if not the kernel's 32768.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stp_priority: Option<u16>,
    /// A bridge that floods every frame to every port, never learning where a MAC lives
    /// (`kind: hub`).
    #[serde(default)]
    pub hub: bool,
    /// The node whose namespace this bridge lives in (`in:`), as docker0 in the Docker host.
    #[serde(default)]
    pub inside: Option<usize>,
    /// Interfaces of a router between which nothing is forwarded (`isolate:`).
    #[serde(default)]
    pub isolate: Vec<String>,
    /// A switch's ports, one per link that ends on it, with their VLAN settings.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// A layer-3 switch's interfaces into its VLANs; also listed in `interfaces` as `vlanN`.
    #[serde(default)]
    pub svis: Vec<Svi>,
    /// A router's address translation.
    #[serde(default)]
    pub nat: Option<Nat>,
    pub at: At,
}

impl Node {
    /// The kind as the file writes it: `hub` for a bridge that floods.
    pub(crate) fn kind_name(&self) -> &'static str {
        if self.hub { "hub" } else { self.kind.as_str() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    pub mode: PortMode,
    /// Port security: the only source MAC (and IP) bindings allowed in through this port.
    pub allow: Vec<Allow>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    /// Untagged frames belong to this VLAN.
    Access(u16),
    /// Tagged frames of these VLANs; untagged ones belong to `native`, if any.
    Trunk {
        vlans: Vec<u16>,
        native: Option<u16>,
    },
}

impl PortMode {
    /// Every VLAN the port carries, tagged or not.
    pub(crate) fn vlans(&self) -> Vec<u16> {
        match self {
            PortMode::Access(v) => vec![*v],
            PortMode::Trunk { vlans, native } => {
                let mut all = vlans.clone();
                all.extend(native.iter().copied());
                all.sort_unstable();
                all.dedup();
                all
            }
        }
    }

    /// The VLAN of untagged frames on this port, if they are accepted.
    pub(crate) fn untagged(&self) -> Option<u16> {
        match self {
            PortMode::Access(v) => Some(*v),
            PortMode::Trunk { native, .. } => *native,
        }
    }

    /// The VLANs carried tagged.
    pub(crate) fn tagged(&self) -> Vec<u16> {
        match self {
            PortMode::Access(_) => Vec::new(),
            PortMode::Trunk { vlans, native } => vlans
                .iter()
                .copied()
                .filter(|v| Some(*v) != *native)
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nat {
    /// Interfaces out of which sources are rewritten to the interface's address.
    pub masquerade: Vec<String>,
    pub publish: Vec<Publish>,
    /// Where `nat:` is written.
    #[serde(default)]
    pub at: At,
}

/// A published port: connections arriving `on` an interface for `port` go to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    pub on: String,
    pub proto: Proto,
    pub port: u16,
    pub to: std::net::SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allow {
    pub mac: String,
    pub ip: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Svi {
    pub vlan: u16,
    pub addresses: Vec<IpNet>,
}

/// The name of a switch's interface into VLAN `vid`, the same in both VLAN modes.
pub(crate) fn svi_name(vid: u16) -> String {
    format!("vlan{vid}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// An 802.1Q sub-interface: its parent interface and VLAN id (`eth0.10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<(String, u16)>,
    pub addresses: Vec<IpNet>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub at: At,
}

impl Interface {
    /// An interface with nothing but a name.
    pub(crate) fn plain(name: &str, at: At) -> Self {
        Interface {
            name: name.to_owned(),
            vlan: None,
            addresses: Vec::new(),
            mac: None,
            mtu: None,
            at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub to: IpNet,
    pub via: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub node: usize,
    pub iface: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub a: Endpoint,
    pub b: Endpoint,
    pub mtu: Option<u32>,
    #[serde(default)]
    pub kind: LinkKind,
    /// What each end does to what it sends (`impair:`), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impair: Option<LinkImpair>,
    pub at: At,
}

/// A link's impairments: of what end `a` sends, and of what end `b` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkImpair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<impair::Impair>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<impair::Impair>,
    /// Where `impair:` is written.
    pub at: At,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A veth pair, one end in each node.
    #[default]
    Veth,
    /// `a` is a macvlan child of `b`, its parent interface (in another node).
    Macvlan { mode: String },
    /// A VXLAN tunnel between `a` and `b`, carried by the two underlay nodes.
    Vxlan { vni: u32, underlay: (usize, usize) },
}

/// A persistent TAP device: a port of a bridge or switch, for a virtual machine to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tap {
    pub node: usize,
    pub name: String,
    pub owner: Option<u32>,
    pub group: Option<u32>,
    pub at: At,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Node(usize),
    Addr(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub from: usize,
    pub to: Target,
    pub reach: bool,
    /// 2: ARP within the broadcast domain; 3: ICMP echo, routed.
    #[serde(default = "layer3")]
    pub layer: u8,
    #[serde(default)]
    pub proto: Proto,
    /// The TCP or UDP port probed.
    #[serde(default)]
    pub port: Option<u16>,
    /// The source address the far end must see.
    #[serde(default)]
    pub seen_as: Option<Target>,
    /// Whether vnet opens a listener when nobody listens on the target.
    #[serde(default = "yes")]
    pub listen: bool,
    /// Nodes the path must pass, in order.
    #[serde(default)]
    pub via: Vec<usize>,
    /// Nodes on whose interfaces the probe's frames must arrive (`seen_by`), or must not
    /// (`unseen_by`): what a hub floods and a learning bridge does not.
    #[serde(default)]
    pub seen_by: Vec<usize>,
    #[serde(default)]
    pub unseen_by: Vec<usize>,
    /// A neighbour-cache check instead of a probe: `from`'s entry for the address `to` is
    /// (`reach: true`) or is not (`false`) this node's MAC.
    #[serde(default)]
    pub neighbour_is: Option<usize>,
    /// Bounds on what is measured (`rtt:`, `loss:`, `rate:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<measure::Measure>,
    /// Retry until the check holds, for at most this long (`within:`), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_ms: Option<u64>,
    pub at: At,
}

fn layer3() -> u8 {
    3
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Icmp,
    Tcp,
    Udp,
}

impl Proto {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Proto::Icmp => "icmp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl Lab {
    /// How `other` (the file as it is now) differs from this lab (as it was built), in
    /// words: nodes and links added or removed, kinds changed, checks changed.
    pub(crate) fn differences(&self, other: &Lab) -> Vec<String> {
        let mut out = Vec::new();
        for n in &other.nodes {
            match self.nodes.iter().find(|m| m.name == n.name) {
                None => out.push(format!("node `{}` added", n.name)),
                Some(m) if m.kind != n.kind => out.push(format!(
                    "node `{}` is a {} now, was a {}",
                    n.name,
                    n.kind.as_str(),
                    m.kind.as_str()
                )),
                Some(m) if m.interfaces != n.interfaces || m.routes != n.routes => {
                    out.push(format!("node `{}` changed", n.name))
                }
                Some(_) => {}
            }
        }
        for m in &self.nodes {
            if other.node_index(&m.name).is_none() {
                out.push(format!("node `{}` removed", m.name));
            }
        }
        let ends = |lab: &Lab| -> Vec<String> {
            lab.links
                .iter()
                .map(|l| {
                    format!(
                        "{}:{} – {}:{}",
                        lab.nodes[l.a.node].name, l.a.iface, lab.nodes[l.b.node].name, l.b.iface
                    )
                })
                .collect()
        };
        let (was, now) = (ends(self), ends(other));
        out.extend(
            now.iter()
                .filter(|l| !was.contains(l))
                .map(|l| format!("link {l} added")),
        );
        out.extend(
            was.iter()
                .filter(|l| !now.contains(l))
                .map(|l| format!("link {l} removed")),
        );
        if self.checks.len() != other.checks.len() {
            out.push(format!(
                "{} checks now, {} at `up`",
                other.checks.len(),
                self.checks.len()
            ));
        }
        out
    }

    /// Whether the node is the machine itself (`host`), whose namespace is not the lab's.
    pub(crate) fn on_machine(&self, node: usize) -> bool {
        Netns::of(&self.netns(node)).is_machine()
    }

    /// The named network namespace a node lives in: `<lab>.<node>`, so two labs never collide;
    /// a bridge `in:` another node, that node's.
    pub(crate) fn netns(&self, node: usize) -> String {
        if self.nodes[node].name == MACHINE {
            return Netns::Machine.as_str().to_owned();
        }
        // A bridge inside another node lives in that node's namespace (never nested).
        if let Some(host) = self.nodes[node].inside.filter(|h| *h != node) {
            return name::netns(&self.name, &self.nodes[host].name);
        }
        name::netns(&self.name, &self.nodes[node].name)
    }

    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Every address of a node, in the order written.
    pub(crate) fn addresses(&self, node: usize) -> impl Iterator<Item = IpNet> + '_ {
        self.nodes[node]
            .interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().copied())
    }

    /// The interfaces in a node's namespace: its own, and the devices of bridges inside it
    /// (`in:`), which carry the bridge's addresses.
    pub(crate) fn local_interfaces(&self, node: usize) -> impl Iterator<Item = &Interface> + '_ {
        let inner = self
            .nodes
            .iter()
            .enumerate()
            .filter(move |(j, n)| *j != node && n.inside == Some(node))
            .flat_map(|(_, n)| n.interfaces.iter().filter(move |x| x.name == n.name));
        self.nodes[node].interfaces.iter().chain(inner)
    }

    /// The bridges that live in a node's namespace (`in:`).
    pub(crate) fn bridges_inside(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&j| j != node && self.nodes[j].inside == Some(node))
    }

    /// The node that has this address, if any; for the address of a bridge inside another
    /// node (`in:`), that node, whose namespace holds it.
    pub(crate) fn owner(&self, addr: IpAddr) -> Option<usize> {
        (0..self.nodes.len())
            .find(|&n| self.addresses(n).any(|a| a.addr() == addr))
            .map(|n| self.nodes[n].inside.unwrap_or(n))
    }

    /// How a check's target reads in reports: the node's name or the address.
    pub(crate) fn target_label(&self, t: &Target) -> String {
        match t {
            Target::Node(n) => self.nodes[*n].name.clone(),
            Target::Addr(a) => a.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine's namespace is told apart in one place, and `host` is the machine's.
    #[test]
    fn the_machine_is_its_own_kind_of_namespace() {
        assert!(Netns::of("").is_machine());
        assert_eq!(Netns::of("lab.a"), Netns::Named("lab.a"));
        let lab = crate::topology::parse(
            "lab.yaml",
            "lab",
            b"name: lab\nnodes:\n  host: {interfaces: {v0: 10.9.0.1/24}}\n  a: {interfaces: {eth0: 10.9.0.2/24}}\nlinks:\n  - [host:v0, a:eth0]\n",
        )
        .unwrap()
        .lab;
        let host = lab.node_index("host").unwrap();
        let a = lab.node_index("a").unwrap();
        assert!(lab.on_machine(host));
        assert!(!lab.on_machine(a));
        assert_eq!(Netns::of(&lab.netns(a)), Netns::Named("lab.a"));
    }
}
