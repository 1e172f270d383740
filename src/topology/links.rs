//! Links across the lab: endpoints that resolve, interfaces used once, and the special links
//! (macvlan children, VXLAN overlays, TAP devices) with their own rules.

use std::collections::{HashMap, HashSet};

use miette::SourceSpan;

use super::diag::Problems;
use super::resolve::{BRIDGE_MAX_PORTS, resolve_node};
use super::schema::impair::{RawEnd, RawImpair};
use super::schema::{RawEndpoint, RawLab, RawLink, RawLinkKind, RawTap};
use crate::model::name::closest;
use crate::model::{Endpoint, Interface, Lab, Link, LinkImpair, LinkKind, MACHINE, NodeKind, Tap};

/// The interfaces each bridge and switch has before its links add their ports.
fn bridge_ports(lab: &Lab) -> HashSet<(usize, String)> {
    lab.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.kind, NodeKind::Bridge | NodeKind::Switch))
        .flat_map(|(i, n)| n.interfaces.iter().map(move |f| (i, f.name.clone())))
        .collect()
}

pub(super) fn resolve_endpoint(
    p: &mut Problems,
    lab: &mut Lab,
    ports: &mut HashSet<(usize, String)>,
    e: &RawEndpoint,
) -> Option<Endpoint> {
    let node = resolve_node(p, lab, &e.node, e.at)?;
    let n = &mut lab.nodes[node];
    if matches!(n.kind, NodeKind::Bridge | NodeKind::Switch) {
        if e.iface == n.name || (n.kind == NodeKind::Switch && e.iface.starts_with("vlan")) {
            p.error(
                "port_name",
                format!(
                    "port `{}` has the name of a device of `{}`",
                    e.iface, n.name
                ),
                e.at,
                "the bridge device or a VLAN interface has this name",
                Some("name bridge ports `p1`, `p2`, ...".into()),
            );
            return None;
        }
        // A bridge's ports are created by the links that end on it (`ports` holds those it
        // has: a bridge may have thousands).
        if ports.insert((node, e.iface.clone())) {
            n.interfaces.push(Interface::plain(&e.iface, e.at.into()));
        }
    } else if let Some(parent) = n
        .interfaces
        .iter()
        .find(|i| i.name == e.iface)
        .and_then(|i| i.vlan.as_ref().map(|v| v.0.clone()))
    {
        p.error(
            "link_to_vlan",
            format!(
                "a link cannot end on the sub-interface `{}:{}`",
                n.name, e.iface
            ),
            e.at,
            "an 802.1Q sub-interface rides on its parent",
            Some(format!(
                "link `{}:{parent}`; VLAN-tagged frames travel on it",
                n.name
            )),
        );
        return None;
    } else if !n.interfaces.iter().any(|i| i.name == e.iface) {
        let help = match closest(&e.iface, n.interfaces.iter().map(|i| i.name.as_str())) {
            Some(near) => format!("did you mean `{}:{near}`?", n.name),
            None => format!(
                "declare it under `{}: interfaces:` (it may have no address: `{}: []`)",
                n.name, e.iface
            ),
        };
        p.error(
            "unknown_interface",
            format!("node `{}` has no interface `{}`", n.name, e.iface),
            e.at,
            "not among its `interfaces:`",
            Some(help),
        );
        return None;
    }
    Some(Endpoint {
        node,
        iface: e.iface.clone(),
    })
}

pub(crate) fn links(p: &mut Problems, raw: &RawLab, lab: &mut Lab) {
    let mut used: HashMap<(usize, String), SourceSpan> = HashMap::new();
    let mut ports = bridge_ports(lab);
    for rl in &raw.links {
        let a = resolve_endpoint(p, lab, &mut ports, &rl.a);
        let b = resolve_endpoint(p, lab, &mut ports, &rl.b);
        let kind = link_kind(p, lab, rl);
        let (Some(a), Some(b), Some(kind)) = (a, b, kind) else {
            continue;
        };
        if kind != LinkKind::Veth {
            let on_machine = [(&a, rl.a.at), (&b, rl.b.at)]
                .into_iter()
                .find(|(e, _)| lab.nodes[e.node].name == MACHINE);
            if let Some((_, at)) = on_machine {
                p.error("machine", "only veth links may end on `host`, the machine itself", at, "a macvlan or VXLAN end on the machine", Some("vnet adds plain veth links to the machine, nothing that stacks on its own interfaces".into()));
                continue;
            }
        }
        if let LinkKind::Macvlan { .. } = kind
            && !macvlan_ends(p, lab, rl, &a, &b)
        {
            continue;
        }
        // A macvlan's parent keeps its own link: only the child end is this link's.
        let ends: Vec<(&Endpoint, SourceSpan)> = match kind {
            LinkKind::Macvlan { .. } => vec![(&a, rl.a.at)],
            _ => vec![(&a, rl.a.at), (&b, rl.b.at)],
        };
        let mut clash = false;
        for (e, at) in ends {
            let key = (e.node, e.iface.clone());
            if let Some(first) = used.get(&key) {
                let msg = format!(
                    "interface `{}:{}` is used by two links",
                    lab.nodes[e.node].name, e.iface
                );
                let problem = p
                    .new_problem("interface_reused", msg)
                    .label(*first, "first used here")
                    .label(at, "used again here")
                    .help("an interface is one end of one veth pair; give the second link its own interface");
                p.push(problem);
                clash = true;
            } else {
                used.insert(key, at);
            }
        }
        if clash {
            continue;
        }
        let impair = rl
            .impair
            .as_ref()
            .and_then(|i| impairment(p, lab, i, &a, &b));
        lab.links.push(Link {
            a,
            b,
            mtu: rl.mtu.as_ref().map(|m| m.v),
            kind,
            impair,
            at: rl.at.into(),
        });
    }
    for t in &raw.taps {
        taps(p, lab, t, &mut used, &mut ports);
    }
    // A macvlan's parent must exist: some other link makes it.
    for l in &lab.links {
        if !matches!(l.kind, LinkKind::Macvlan { .. }) {
            continue;
        }
        if !used.contains_key(&(l.b.node, l.b.iface.clone())) {
            p.error(
                "macvlan",
                format!(
                    "macvlan parent `{}:{}` is not linked to anything",
                    lab.nodes[l.b.node].name, l.b.iface
                ),
                SourceSpan::from(l.at),
                "the parent interface would not exist",
                Some("link the parent interface (for example to the LAN's bridge) first".into()),
            );
        }
    }
    for (i, node) in lab.nodes.iter().enumerate() {
        let ports = node.interfaces.len().saturating_sub(1);
        if matches!(node.kind, NodeKind::Bridge | NodeKind::Switch) && ports > BRIDGE_MAX_PORTS {
            p.error(
                "bridge_ports",
                format!(
                    "bridge `{}` has {ports} ports; Linux allows {BRIDGE_MAX_PORTS}",
                    node.name
                ),
                raw.nodes[i].name.at,
                "too many ports",
                Some("split the hosts over several bridges joined by links".into()),
            );
        }
    }
}

/// A link's impairment, each direction named by the end that sends it: the link's settings,
/// and over them those written under that end's name (`h1`, or `h1:eth0` when both ends are
/// on one node). Never on the machine: vnet adds no qdisc to an interface of the machine.
fn impairment(
    p: &mut Problems,
    lab: &Lab,
    raw: &RawImpair,
    a: &Endpoint,
    b: &Endpoint,
) -> Option<LinkImpair> {
    let label = |e: &Endpoint| format!("{}:{}", lab.nodes[e.node].name, e.iface);
    let mut mine: [Option<crate::model::impair::Impair>; 2] = [None, None];
    let mut at_of: [Option<miette::SourceSpan>; 2] = [None, None];
    let mut refused = [raw.delay_refused; 2];
    for RawEnd {
        key,
        settings,
        at,
        delay_refused,
    } in &raw.ends
    {
        let matches = |e: &Endpoint| key.v == lab.nodes[e.node].name || key.v == label(e);
        let which = match (matches(a), matches(b)) {
            (true, false) => 0,
            (false, true) => 1,
            (true, true) => {
                p.error(
                    "impair",
                    format!("`{}` names both ends of this link", key.v),
                    key.at,
                    "which direction?",
                    Some(format!(
                        "name the end by its interface: `{}` or `{}`",
                        label(a),
                        label(b)
                    )),
                );
                continue;
            }
            (false, false) => {
                p.error(
                    "unknown_key",
                    format!("unknown key `{}` in an impairment", key.v),
                    key.at,
                    "neither a setting nor an end of this link",
                    Some(format!(
                        "settings: {}; one direction: the sending end, `{}` or `{}`",
                        crate::topology::schema::impair_keys().join(", "),
                        lab.nodes[a.node].name,
                        lab.nodes[b.node].name
                    )),
                );
                continue;
            }
        };
        mine[which] = Some(settings.clone());
        at_of[which] = Some(*at);
        refused[which] |= delay_refused;
    }
    let [ma, mb] = mine;
    let effective = |m: Option<crate::model::impair::Impair>| {
        let all = match m {
            Some(m) => raw.both.overlaid(&m),
            None => raw.both.clone(),
        };
        (!all.is_empty()).then_some(all)
    };
    let (ia, ib) = (effective(ma), effective(mb));
    let mut ok = true;
    // Judged on what each direction ends up with (`{delay: 10ms, h1: {reorder: 5%}}` is fine),
    // at the settings that say it, and once: the link's own mistake is one for both ends.
    let mut said = Vec::new();
    for ((i, own), refused) in [(&ia, at_of[0]), (&ib, at_of[1])].into_iter().zip(refused) {
        // A refused `delay: 40` is not also the delay that is missing.
        let Some(i) = i.as_ref().filter(|_| !refused) else {
            continue;
        };
        let Some(why) = i.problem() else {
            continue;
        };
        let at = if raw.both.problem().is_some() {
            raw.at
        } else {
            own.unwrap_or(raw.at)
        };
        if !said.contains(&(why, at)) {
            crate::topology::schema::impair::meaningful(p, i, at);
            said.push((why, at));
        }
        ok = false;
    }
    for (e, i) in [(a, &ia), (b, &ib)] {
        if i.is_some() && lab.nodes[e.node].name == MACHINE {
            p.error(
                "impair",
                format!("no impairment on `{}`, the machine's end", label(e)),
                raw.at,
                "would add a qdisc to an interface of the machine",
                Some("impair only what the lab's end sends: put the settings under that end's name, like `{lab_node: {delay: 10ms}}`".into()),
            );
            ok = false;
        }
    }
    if !ok || (ia.is_none() && ib.is_none()) {
        return None;
    }
    Some(LinkImpair {
        a: ia,
        b: ib,
        at: raw.at.into(),
    })
}

/// NAT rules name the router's own interfaces; published ports lead somewhere in the lab.
pub(crate) fn nat_interfaces(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    for (ni, rn) in raw.nodes.iter().enumerate() {
        let Some(nat) = &rn.nat else { continue };
        let names: Vec<&str> = lab.nodes[ni]
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        let on = nat
            .masquerade
            .iter()
            .chain(nat.publish.iter().map(|r| &r.on));
        let machine = rn.name.v == crate::model::MACHINE;
        for i in on {
            // The machine's NAT may go out of its own interfaces, its uplink above all,
            // which the topology does not declare; they must exist when the lab comes up.
            if machine && !names.contains(&i.v.as_str()) {
                if let Some(why) = crate::model::name::ifname_problem(&i.v) {
                    p.error("nat", why, i.at, "not an interface name", None);
                }
                continue;
            }
            if !names.contains(&i.v.as_str()) {
                let help =
                    closest(&i.v, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
                p.error(
                    "nat",
                    format!("router `{}` has no interface `{}`", rn.name.v, i.v),
                    i.at,
                    "not among its interfaces",
                    help,
                );
            }
        }
        for r in nat.publish.iter().filter(|r| machine && r.to.v.is_ipv6()) {
            p.error(
                "nat",
                "the machine translates IPv4 only",
                r.to.at,
                "an IPv6 destination",
                Some("vnet turns on IPv4 forwarding on the machine, never IPv6 (the machine would ignore router advertisements)".into()),
            );
        }
        for r in nat.publish.iter().filter(|_| !machine) {
            let v4 = r.to.v.is_ipv4();
            if !lab.addresses(ni).any(|a| a.addr().is_ipv4() == v4) {
                let family = if v4 { 4 } else { 6 };
                p.error(
                    "nat",
                    format!(
                        "an IPv{family} destination on router `{}`, which has no IPv{family} address",
                        rn.name.v
                    ),
                    r.to.at,
                    format!("the router cannot forward to {}", r.to.v.ip()),
                    Some(format!(
                        "give the router an IPv{family} address on the destination's subnet, or publish to an address of the other IP version"
                    )),
                );
            }
        }
        for r in &nat.publish {
            if lab.owner(r.to.v.ip()).is_none() {
                let w = p
                    .new_problem(
                        "publish",
                        format!(
                            "no node has {}, where port {} is published to",
                            r.to.v.ip(),
                            r.port.v
                        ),
                    )
                    .label(r.to.at, "not an address in this lab")
                    .help("connections to the published port will go nowhere")
                    .warning();
                p.push(w);
            }
        }
    }
}

fn link_kind(p: &mut Problems, lab: &Lab, rl: &RawLink) -> Option<LinkKind> {
    Some(match &rl.kind {
        RawLinkKind::Veth => LinkKind::Veth,
        RawLinkKind::Macvlan { mode } => LinkKind::Macvlan {
            mode: mode.v.clone(),
        },
        RawLinkKind::Vxlan { vni, underlay } => {
            let u1 = resolve_node(p, lab, &underlay.0.v, underlay.0.at);
            let u2 = resolve_node(p, lab, &underlay.1.v, underlay.1.at);
            let (u1, u2) = (u1?, u2?);
            for (u, sp) in [(u1, &underlay.0), (u2, &underlay.1)] {
                if !lab.addresses(u).any(|a| a.addr().is_ipv4()) {
                    p.error(
                        "vxlan",
                        format!("underlay node `{}` has no IPv4 address", sp.v),
                        sp.at,
                        "the tunnel's packets leave from here",
                        Some("give it an address on the underlay network".into()),
                    );
                    return None;
                }
            }
            LinkKind::Vxlan {
                vni: vni.v,
                underlay: (u1, u2),
            }
        }
    })
}

/// A macvlan child is its own node's declared interface; its parent is a host's or router's
/// interface that exists (linked) in the parent's namespace.
fn macvlan_ends(
    p: &mut Problems,
    lab: &Lab,
    rl: &RawLink,
    child: &Endpoint,
    parent: &Endpoint,
) -> bool {
    for (e, at, role) in [(child, rl.a.at, "child"), (parent, rl.b.at, "parent")] {
        if !matches!(lab.nodes[e.node].kind, NodeKind::Host | NodeKind::Router) {
            p.error(
                "macvlan",
                format!("a macvlan {role} must be a host's or router's interface"),
                at,
                format!(
                    "`{}` is a {}",
                    lab.nodes[e.node].name,
                    lab.nodes[e.node].kind.as_str()
                ),
                None,
            );
            return false;
        }
    }
    if child.node == parent.node {
        p.error(
            "macvlan",
            "a macvlan child lives in another node than its parent",
            rl.a.at,
            "same node as the parent",
            Some("the child is the container's interface; the parent is the host's".into()),
        );
        return false;
    }
    true
}

fn taps(
    p: &mut Problems,
    lab: &mut Lab,
    t: &RawTap,
    used: &mut HashMap<(usize, String), SourceSpan>,
    ports: &mut HashSet<(usize, String)>,
) {
    let Some(node) = resolve_node(p, lab, &t.end.node, t.end.at) else {
        return;
    };
    if !matches!(lab.nodes[node].kind, NodeKind::Bridge | NodeKind::Switch) {
        p.error(
            "tap",
            "a TAP device is a port of a bridge or switch",
            t.end.at,
            format!(
                "`{}` is a {}",
                lab.nodes[node].name,
                lab.nodes[node].kind.as_str()
            ),
            Some("attach the virtual machine's TAP to the bridge it would be plugged into".into()),
        );
        return;
    }
    let Some(e) = resolve_endpoint(p, lab, ports, &t.end) else {
        return;
    };
    let key = (e.node, e.iface.clone());
    if let Some(first) = used.get(&key) {
        let problem = p
            .new_problem(
                "interface_reused",
                format!("port `{}:{}` is used twice", lab.nodes[node].name, e.iface),
            )
            .label(*first, "first used here")
            .label(t.end.at, "used again here");
        p.push(problem);
        return;
    }
    used.insert(key, t.end.at);
    let mut id = |v: &Option<super::schema::Sp<String>>, users: bool| -> Option<Option<u32>> {
        let Some(v) = v else { return Some(None) };
        if let Ok(n) = v.v.parse::<u32>() {
            return Some(Some(n));
        }
        let found = if users {
            nix::unistd::User::from_name(&v.v)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
        } else {
            nix::unistd::Group::from_name(&v.v)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
        };
        if found.is_none() {
            p.error(
                "tap_owner",
                format!(
                    "no {} `{}` on this machine",
                    if users { "user" } else { "group" },
                    v.v
                ),
                v.at,
                "unknown",
                Some("give a name from /etc/passwd (/etc/group) or a number".into()),
            );
        }
        found.map(Some)
    };
    let (Some(owner), Some(group)) = (id(&t.owner, true), id(&t.group, false)) else {
        return;
    };
    lab.taps.push(Tap {
        node,
        name: e.iface,
        owner,
        group,
        at: t.at.into(),
    });
}
