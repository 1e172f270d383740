//! First pass over the YAML tree: shapes and scalars (keys, types, names, addresses).
//!
//! Nothing here looks across the file; cross-references are `validate`'s job. Every problem
//! is recorded and reading goes on, so one run reports them all.

use std::net::IpAddr;

use ipnet::IpNet;
use miette::SourceSpan;

use super::diag::Problems;
use super::yaml::{Node, Value};
use crate::model::NodeKind;
use crate::model::name::{closest, ifname_problem, lab_name_problem, node_name_problem};

/// A value with the place it was written.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub v: T,
    pub at: SourceSpan,
}

#[derive(Debug, Default)]
pub struct RawLab {
    pub name: Option<Sp<String>>,
    pub nodes: Vec<RawNode>,
    pub links: Vec<RawLink>,
    pub checks: Vec<RawCheck>,
}

#[derive(Debug)]
pub struct RawNode {
    pub name: Sp<String>,
    pub kind: NodeKind,
    pub interfaces: Vec<RawIface>,
    /// The bridge device's own addresses (`addresses:` on a bridge).
    pub addresses: Vec<Sp<IpNet>>,
    pub gateways: Vec<Sp<IpAddr>>,
    pub routes: Vec<RawRoute>,
    pub exec: Vec<String>,
    pub stp: bool,
}

#[derive(Debug)]
pub struct RawIface {
    pub name: Sp<String>,
    pub addresses: Vec<Sp<IpNet>>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
}

#[derive(Debug)]
pub struct RawRoute {
    pub to: Sp<IpNet>,
    pub via: Sp<IpAddr>,
}

#[derive(Debug)]
pub struct RawEndpoint {
    pub node: String,
    pub iface: String,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub struct RawLink {
    pub a: RawEndpoint,
    pub b: RawEndpoint,
    pub mtu: Option<u32>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub struct RawCheck {
    pub from: Sp<String>,
    pub to: Sp<String>,
    pub reach: bool,
    pub at: SourceSpan,
}

const TOP_KEYS: &[&str] = &["name", "nodes", "links", "expect"];
const HOST_KEYS: &[&str] = &["kind", "interfaces", "gateway", "routes", "exec"];
const BRIDGE_KEYS: &[&str] = &["kind", "stp", "addresses", "exec"];
const IFACE_KEYS: &[&str] = &["addresses", "mac", "mtu"];
const ROUTE_KEYS: &[&str] = &["to", "via"];
const LINK_KEYS: &[&str] = &["endpoints", "mtu"];
const CHECK_KEYS: &[&str] = &["from", "to", "reach"];
const KINDS: &[&str] = &["host", "router", "bridge"];

/// The keys of a mapping, with a note of which ones were read.
struct Fields<'n> {
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
}

impl<'n> Fields<'n> {
    fn of(p: &mut Problems, node: &'n Node, what: &str) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(Fields {
                entries,
                used: vec![false; entries.len()],
            }),
            other => {
                p.error(
                    "type",
                    format!("{what} must be a mapping, found {}", other.kind()),
                    node.span,
                    "expected `key: value` pairs here",
                    None,
                );
                None
            }
        }
    }

    fn get(&mut self, key: &str) -> Option<&'n Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// Reports every key that was not read, with the closest known key as a hint.
    fn finish(self, p: &mut Problems, known: &[&str], what: &str) {
        for ((k, _), used) in self.entries.iter().zip(self.used) {
            if used {
                continue;
            }
            let key = k.scalar_text().unwrap_or_default();
            let hint = match closest(&key, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("{what} takes: {}", known.join(", ")),
            };
            p.error(
                "unknown_key",
                format!("unknown key `{key}` in {what}"),
                k.span,
                "not a known key here",
                Some(hint),
            );
        }
    }
}

fn string(p: &mut Problems, node: &Node, what: &str) -> Option<Sp<String>> {
    match &node.value {
        Value::Str(s) => Some(Sp {
            v: s.clone(),
            at: node.span,
        }),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(Sp {
            v: node.scalar_text().unwrap_or_default(),
            at: node.span,
        }),
        other => {
            p.error(
                "type",
                format!("{what} must be a string, found {}", other.kind()),
                node.span,
                "expected a single value",
                None,
            );
            None
        }
    }
}

fn boolean(p: &mut Problems, node: &Node, what: &str) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            p.error(
                "type",
                format!("{what} must be true or false, found {}", other.kind()),
                node.span,
                "expected `true` or `false`",
                None,
            );
            None
        }
    }
}

fn mtu(p: &mut Problems, node: &Node) -> Option<u32> {
    match &node.value {
        Value::Int(n) if (68..=65535).contains(n) => Some(*n as u32),
        Value::Int(n) => {
            p.error(
                "mtu",
                format!("MTU {n} is out of range"),
                node.span,
                "Linux accepts 68 to 65535",
                None,
            );
            None
        }
        other => {
            p.error(
                "type",
                format!("mtu must be a number, found {}", other.kind()),
                node.span,
                "expected a number such as 1500",
                None,
            );
            None
        }
    }
}

/// A list, or a single item standing for a list of one (`gateway: 10.0.0.1`).
fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![node],
    }
}

fn list<'n>(p: &mut Problems, node: &'n Node, what: &str) -> &'n [Node] {
    match &node.value {
        Value::Seq(items) => items,
        Value::Null => &[],
        other => {
            p.error(
                "type",
                format!("{what} must be a list, found {}", other.kind()),
                node.span,
                "expected a list (`- item` lines or `[a, b]`)",
                None,
            );
            &[]
        }
    }
}

/// An interface address: `10.0.1.11/24` or `fd00::1/64`; the prefix length is required.
pub fn cidr(p: &mut Problems, node: &Node) -> Option<Sp<IpNet>> {
    let text = string(p, node, "an address")?;
    match text.v.parse::<IpNet>() {
        Ok(net) => Some(Sp {
            v: net,
            at: node.span,
        }),
        Err(_) if text.v.parse::<IpAddr>().is_ok() => {
            let suggestion = if text.v.contains(':') { "/64" } else { "/24" };
            p.error(
                "address",
                format!("address `{}` has no prefix length", text.v),
                node.span,
                "needs a prefix length",
                Some(format!(
                    "write it in CIDR form, such as `{}{suggestion}`",
                    text.v
                )),
            );
            None
        }
        Err(_) => {
            p.error(
                "address",
                format!("`{}` is not an IP address in CIDR form", text.v),
                node.span,
                "not an address",
                Some("write addresses like `10.0.1.11/24` or `fd00:1::11/64`".into()),
            );
            None
        }
    }
}

fn ip(p: &mut Problems, node: &Node, what: &str) -> Option<Sp<IpAddr>> {
    let text = string(p, node, what)?;
    match text.v.parse::<IpAddr>() {
        Ok(a) => Some(Sp {
            v: a,
            at: node.span,
        }),
        Err(_) => {
            let help = text
                .v
                .split_once('/')
                .filter(|(a, _)| a.parse::<IpAddr>().is_ok())
                .map(|(a, _)| format!("a {what} is a single address: `{a}`"));
            p.error(
                "address",
                format!("`{}` is not an IP address", text.v),
                node.span,
                "not an address",
                help,
            );
            None
        }
    }
}

fn name_key(p: &mut Problems, key: &Node, what: &str) -> Option<Sp<String>> {
    let text = string(p, key, what)?;
    let problem = if what == "interface name" {
        ifname_problem(&text.v)
    } else {
        node_name_problem(&text.v)
    };
    if let Some(why) = problem {
        p.error(
            "name",
            format!("invalid {what} `{}`", text.v),
            key.span,
            why,
            None,
        );
        return None;
    }
    Some(text)
}

pub fn read(p: &mut Problems, root: &Node) -> RawLab {
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
            if let Some(l) = read_link(p, item) {
                lab.links.push(l);
            }
        }
    }
    if let Some(n) = top.get("expect") {
        for item in list(p, n, "expect") {
            if let Some(c) = read_check(p, item) {
                lab.checks.push(c);
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
        if name.v == "host" {
            p.error(
                "name",
                "`host` is a reserved node name",
                key.span,
                "reserved",
                Some("`host` stands for the machine itself; choose another name".into()),
            );
            continue;
        }
        if let Some(node) = read_node(p, name, body) {
            lab.nodes.push(node);
        }
    }
}

fn read_node(p: &mut Problems, name: Sp<String>, body: &Node) -> Option<RawNode> {
    let mut node = RawNode {
        name,
        kind: NodeKind::Host,
        interfaces: Vec::new(),
        addresses: Vec::new(),
        gateways: Vec::new(),
        routes: Vec::new(),
        exec: Vec::new(),
        stp: false,
    };
    if matches!(body.value, Value::Null) {
        return Some(node);
    }
    let mut f = Fields::of(p, body, &format!("node `{}`", node.name.v))?;
    if let Some(k) = f.get("kind") {
        let text = string(p, k, "kind")?;
        node.kind = match text.v.as_str() {
            "host" => NodeKind::Host,
            "router" => NodeKind::Router,
            "bridge" => NodeKind::Bridge,
            other => {
                let help = match closest(other, KINDS.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("known kinds: {}", KINDS.join(", ")),
                };
                let label = if other == "switch" {
                    "802.1Q switches are not supported yet; use `bridge`"
                } else {
                    "unknown kind"
                };
                p.error(
                    "kind",
                    format!("unknown node kind `{other}`"),
                    k.span,
                    label,
                    Some(help),
                );
                return None;
            }
        };
    }
    let what = format!("{} `{}`", node.kind.as_str(), node.name.v);
    if node.kind == NodeKind::Bridge {
        if let Some(s) = f.get("stp") {
            node.stp = boolean(p, s, "stp").unwrap_or(false);
        }
        if let Some(a) = f.get("addresses") {
            node.addresses = one_or_many(a)
                .into_iter()
                .filter_map(|n| cidr(p, n))
                .collect();
        }
        if let Some(e) = f.get("exec") {
            node.exec = read_exec(p, e);
        }
        if let Some((k, _)) = f
            .entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "interfaces"))
        {
            p.error(
                "bridge_interfaces",
                "a bridge has no `interfaces:`".to_string(),
                k.span,
                "not for bridges",
                Some("a bridge's ports are the links that end on it (`[h1:eth0, br0:p1]`); give the bridge itself an address with `addresses:`".into()),
            );
            let _ = f.get("interfaces");
        }
        f.finish(p, BRIDGE_KEYS, &what);
        return Some(node);
    }
    if let Some(i) = f.get("interfaces")
        && let Some(ifs) = Fields::of(p, i, "interfaces")
    {
        for (key, val) in ifs.entries {
            if let Some(name) = name_key(p, key, "interface name") {
                if name.v.contains('.') {
                    p.error(
                        "vlan",
                        format!("`{}` looks like an 802.1Q sub-interface", name.v),
                        key.span,
                        "VLAN sub-interfaces are not supported yet",
                        Some("name the interface without a dot".into()),
                    );
                    continue;
                }
                node.interfaces.push(read_iface(p, name, val));
            }
        }
    }
    if let Some(g) = f.get("gateway") {
        node.gateways = one_or_many(g)
            .into_iter()
            .filter_map(|n| ip(p, n, "gateway"))
            .collect();
    }
    if let Some(r) = f.get("routes") {
        for item in list(p, r, "routes") {
            if let Some(route) = read_route(p, item) {
                node.routes.push(route);
            }
        }
    }
    if let Some(e) = f.get("exec") {
        node.exec = read_exec(p, e);
    }
    f.finish(p, HOST_KEYS, &what);
    Some(node)
}

fn read_exec(p: &mut Problems, n: &Node) -> Vec<String> {
    one_or_many(n)
        .into_iter()
        .filter_map(|c| string(p, c, "an exec command").map(|s| s.v))
        .collect()
}

fn read_iface(p: &mut Problems, name: Sp<String>, val: &Node) -> RawIface {
    let mut iface = RawIface {
        name,
        addresses: Vec::new(),
        mac: None,
        mtu: None,
    };
    match &val.value {
        Value::Map(_) => {
            let what = format!("interface `{}`", iface.name.v);
            if let Some(mut f) = Fields::of(p, val, &what) {
                if let Some(a) = f.get("addresses") {
                    iface.addresses = one_or_many(a)
                        .into_iter()
                        .filter_map(|n| cidr(p, n))
                        .collect();
                }
                if let Some(m) = f.get("mac") {
                    iface.mac = read_mac(p, m);
                }
                if let Some(m) = f.get("mtu") {
                    iface.mtu = mtu(p, m);
                }
                f.finish(p, IFACE_KEYS, &what);
            }
        }
        _ => {
            iface.addresses = one_or_many(val)
                .into_iter()
                .filter_map(|n| cidr(p, n))
                .collect()
        }
    }
    iface
}

fn read_mac(p: &mut Problems, n: &Node) -> Option<String> {
    let text = string(p, n, "mac")?;
    let bytes: Vec<_> = text
        .v
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect();
    let ok = bytes.len() == 6 && bytes.iter().all(|b| b.is_ok()) && text.v.len() == 17;
    if !ok {
        p.error(
            "mac",
            format!("`{}` is not a MAC address", text.v),
            n.span,
            "expected six hex bytes",
            Some("write it like `02:00:00:00:00:01`".into()),
        );
        return None;
    }
    if matches!(bytes[0], Ok(b) if b & 1 == 1) {
        p.error(
            "mac",
            format!("`{}` is a multicast MAC address", text.v),
            n.span,
            "the first byte is odd",
            Some(
                "an interface needs a unicast address; locally administered ones start with `02:`"
                    .into(),
            ),
        );
        return None;
    }
    Some(text.v.to_ascii_lowercase())
}

fn read_route(p: &mut Problems, n: &Node) -> Option<RawRoute> {
    let mut f = Fields::of(p, n, "a route")?;
    let to = f.get("to");
    let via = f.get("via");
    f.finish(p, ROUTE_KEYS, "a route");
    let (Some(to), Some(via)) = (to, via) else {
        p.error(
            "missing_key",
            "a route needs `to:` and `via:`",
            n.span,
            "incomplete route",
            Some("for example `{to: 10.9.0.0/16, via: 10.0.1.254}`".into()),
        );
        return None;
    };
    let via = ip(p, via, "next hop")?;
    let dest = match to.scalar_text().as_deref() {
        Some("default") => Sp {
            v: if via.v.is_ipv4() {
                "0.0.0.0/0".parse().expect("valid literal")
            } else {
                "::/0".parse().expect("valid literal")
            },
            at: to.span,
        },
        _ => {
            let net = cidr(p, to)?;
            Sp {
                v: net.v.trunc(),
                at: net.at,
            }
        }
    };
    if dest.v.addr().is_ipv4() != via.v.is_ipv4() {
        p.error(
            "route_family",
            "the route's destination and next hop are of different IP versions",
            via.at,
            "next hop of the other family",
            None,
        );
        return None;
    }
    Some(RawRoute { to: dest, via })
}

fn endpoint(p: &mut Problems, n: &Node) -> Option<RawEndpoint> {
    let text = string(p, n, "a link endpoint")?;
    match text.v.split_once(':') {
        Some((node, iface)) if !node.is_empty() && !iface.is_empty() => {
            if let Some(why) = ifname_problem(iface) {
                p.error(
                    "name",
                    format!("invalid interface name `{iface}`"),
                    n.span,
                    why,
                    None,
                );
                return None;
            }
            Some(RawEndpoint {
                node: node.to_owned(),
                iface: iface.to_owned(),
                at: n.span,
            })
        }
        _ => {
            p.error(
                "endpoint",
                format!("link endpoint `{}` is not `node:interface`", text.v),
                n.span,
                "expected `node:interface`",
                Some("name both the node and its interface, like `h1:eth0` or `br0:p1`".into()),
            );
            None
        }
    }
}

fn read_link(p: &mut Problems, n: &Node) -> Option<RawLink> {
    let (ends, mtu_value) = match &n.value {
        Value::Seq(items) => (items.as_slice(), None),
        Value::Map(_) => {
            let mut f = Fields::of(p, n, "a link")?;
            let ends = f.get("endpoints");
            let m = f.get("mtu").and_then(|m| mtu(p, m));
            f.finish(p, LINK_KEYS, "a link");
            let Some(ends) = ends else {
                p.error(
                    "missing_key",
                    "a link needs `endpoints:`",
                    n.span,
                    "no endpoints",
                    Some("for example `{endpoints: [h1:eth0, br0:p1], mtu: 9000}`".into()),
                );
                return None;
            };
            (list(p, ends, "endpoints"), m)
        }
        other => {
            p.error(
                "type",
                format!(
                    "a link must be a list of two endpoints, found {}",
                    other.kind()
                ),
                n.span,
                "expected `[node:iface, node:iface]`",
                None,
            );
            return None;
        }
    };
    if ends.len() != 2 {
        p.error(
            "link_arity",
            format!(
                "a link joins exactly two endpoints, this one has {}",
                ends.len()
            ),
            n.span,
            "expected two endpoints",
            Some("a veth pair has two ends; to join more nodes, put a bridge between them".into()),
        );
        return None;
    }
    let a = endpoint(p, &ends[0]);
    let b = endpoint(p, &ends[1]);
    let (a, b) = (a?, b?);
    // From the first endpoint to the end of the second: the link as the user reads it.
    let start = a.at.offset().min(b.at.offset());
    let end = (a.at.offset() + a.at.len()).max(b.at.offset() + b.at.len());
    Some(RawLink {
        a,
        b,
        mtu: mtu_value,
        at: (start, end - start).into(),
    })
}

fn read_check(p: &mut Problems, n: &Node) -> Option<RawCheck> {
    let mut f = Fields::of(p, n, "an expectation")?;
    let from = f.get("from").and_then(|v| string(p, v, "from"));
    let to = f.get("to").and_then(|v| string(p, v, "to"));
    let reach = f.get("reach").map(|v| boolean(p, v, "reach"));
    f.finish(p, CHECK_KEYS, "an expectation");
    let (Some(from), Some(to)) = (from, to) else {
        p.error(
            "missing_key",
            "an expectation needs `from:` and `to:`",
            n.span,
            "incomplete expectation",
            Some(
                "for example `{from: h1, to: r1}` or `{from: h1, to: 10.0.2.1, reach: false}`"
                    .into(),
            ),
        );
        return None;
    };
    Some(RawCheck {
        from,
        to,
        reach: reach.flatten().unwrap_or(true),
        at: n.span,
    })
}
