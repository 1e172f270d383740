//! Nodes: hosts, routers, bridges and switches, their interfaces and routes.

use super::address::*;
use super::fields::*;
use super::*;
use crate::model::NodeKind;
use crate::model::name::closest;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

pub(super) fn read_node(p: &mut Problems, name: Sp<String>, body: &Node) -> Option<RawNode> {
    let mut node = RawNode {
        name,
        kind: NodeKind::Host,
        interfaces: Vec::new(),
        addresses: Vec::new(),
        gateways: Vec::new(),
        routes: Vec::new(),
        exec: Vec::new(),
        exec_timeout: None,
        stp: false,
        priority: None,
        hub: false,
        inside: None,
        isolate: Vec::new(),
        ports: Vec::new(),
        svis: Vec::new(),
        mac_vlans: Vec::new(),
        nat: None,
    };
    if matches!(body.value, Value::Null) {
        return Some(node);
    }
    let mut f = Fields::of(p, body, &format!("node `{}`", node.name.v))?;
    // An unknown kind must not make the node vanish: every link and check that names it
    // would then be "unknown node" too. It is read as the kind it most likely means; when
    // there is none, as the kind its keys suggest, its own problems not reported (they would
    // be guesses).
    let mut unsure = false;
    if let Some(k) = f.get("kind") {
        let text = string(p, k, "kind").map(|t| t.v).unwrap_or_default();
        node.kind = match text.as_str() {
            "host" => NodeKind::Host,
            "router" => NodeKind::Router,
            "bridge" => NodeKind::Bridge,
            "hub" => {
                node.hub = true;
                NodeKind::Bridge
            }
            "switch" => NodeKind::Switch,
            other => {
                let near = closest(other, KINDS.iter().copied());
                let help = match near {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("known kinds: {}", KINDS.join(", ")),
                };
                p.error(
                    "kind",
                    format!("unknown node kind `{other}`"),
                    k.span,
                    "unknown kind",
                    Some(help),
                );
                match near {
                    Some("router") => NodeKind::Router,
                    Some("bridge" | "hub") => NodeKind::Bridge,
                    Some("switch") => NodeKind::Switch,
                    Some(_) => NodeKind::Host,
                    None => {
                        unsure = true;
                        let has = |key: &str| {
                            f.entries
                                .iter()
                                .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                        };
                        if has("ports") || has("svi") {
                            NodeKind::Switch
                        } else if has("nat") {
                            NodeKind::Router
                        } else if has("interfaces") {
                            NodeKind::Host
                        } else {
                            NodeKind::Bridge
                        }
                    }
                }
            }
        };
    }
    let reported = p.list.len();
    let read = read_body(p, f, node);
    if unsure {
        p.list.truncate(reported);
    }
    read
}

/// The rest of a node, once its kind is known.
fn read_body(p: &mut Problems, mut f: Fields<'_>, mut node: RawNode) -> Option<RawNode> {
    let what = format!("{} `{}`", node.kind.as_str(), node.name.v);
    if node.kind == NodeKind::Switch {
        super::switch::read_switch(p, &mut f, &mut node);
        // A layer-3 switch routes: it may have a default route and static routes too.
        read_routing(p, &mut f, &mut node);
        f.finish(p, SWITCH_KEYS, &what);
        return Some(node);
    }
    if let Some(ports) = f.get("ports") {
        let at = f
            .entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "ports"))
            .map_or(ports.span, |(k, _)| k.span);
        p.error(
            "not_a_switch",
            format!("{what} has no port settings"),
            at,
            "VLANs and port security need an 802.1Q switch",
            Some(
                "make it `kind: switch` to set `vlan:`, `trunk:` or `allow:` on its ports"
                    .to_string(),
            ),
        );
    }
    if node.kind == NodeKind::Bridge {
        if let Some(s) = f.get("stp") {
            node.stp = boolean(p, s, "stp").unwrap_or(false);
        }
        super::switch::read_priority(p, &mut f, &mut node);
        if let Some(a) = f.get("addresses") {
            node.addresses = one_or_many(a)
                .into_iter()
                .filter_map(|n| cidr(p, n))
                .collect();
        }
        read_exec(p, &mut f, &mut node);
        if let Some(v) = f.get("in") {
            node.inside = string(p, v, "in");
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
                let vlan = match name.v.rsplit_once('.') {
                    Some((parent, vid)) => {
                        match super::switch::sub_interface(p, parent, vid, key.span) {
                            Some(v) => Some(v),
                            None => continue,
                        }
                    }
                    None => None,
                };
                let mut iface = read_iface(p, name, val);
                iface.vlan = vlan;
                node.interfaces.push(iface);
            }
        }
    }
    read_routing(p, &mut f, &mut node);
    if let Some(i) = f.get("isolate") {
        node.isolate = one_or_many(i)
            .into_iter()
            .filter_map(|n| string(p, n, "an interface"))
            .collect();
    }
    if let Some(n) = f.get("nat") {
        node.nat = super::nat::read_nat(p, n);
        // The machine forwards once its NAT is allowed (`--allow-machine-nat`).
        if node.kind != NodeKind::Router && node.name.v != crate::model::MACHINE {
            p.error(
                "nat",
                format!("{what} cannot translate addresses"),
                n.span,
                "NAT needs a node that forwards",
                Some("make it `kind: router`".into()),
            );
        }
    }
    read_exec(p, &mut f, &mut node);
    f.finish(p, HOST_KEYS, &what);
    Some(node)
}

/// `exec:` and its `exec_timeout:`.
pub(super) fn read_exec(p: &mut Problems, f: &mut Fields<'_>, node: &mut RawNode) {
    if let Some(e) = f.get("exec") {
        node.exec = one_or_many(e)
            .into_iter()
            .filter_map(|c| exec_command(p, c).map(|s| s.v))
            .collect();
    }
    if let Some(t) = f.get("exec_timeout") {
        node.exec_timeout = duration(p, t, "exec_timeout");
    }
}

pub(super) fn read_iface(p: &mut Problems, name: Sp<String>, val: &Node) -> RawIface {
    let mut iface = RawIface {
        name,
        vlan: None,
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

pub(super) fn read_route(p: &mut Problems, n: &Node) -> Option<RawRoute> {
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

/// `gateway:` and `routes:`, for any node that routes.
fn read_routing(p: &mut Problems, f: &mut Fields<'_>, node: &mut RawNode) {
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
}
