//! VLANs across the lab: each switch port's mode, and whether the two ends of every link agree
//! on the VLANs they carry. The rules make the native (802.1Q) and emulated (bridge per VLAN)
//! builds behave the same, so anything the emulation could not reproduce is refused here.

use std::collections::{BTreeSet, HashMap};

use miette::SourceSpan;

use super::diag::Problems;
use super::schema::{RawLab, RawNode};
use crate::model::name::IFNAME_MAX;
use crate::model::{Endpoint, Lab, NodeKind, Port, PortMode, svi_name};

/// What one end of a link says about VLANs.
#[derive(Debug, Clone, PartialEq)]
enum View {
    /// A switch port.
    Switch(PortMode),
    /// A host's or router's interface: the VLANs of its sub-interfaces (tagged), untagged always.
    Tagged(BTreeSet<u16>),
    /// A VLAN-unaware bridge port, or an interface without sub-interfaces.
    Plain,
}

fn view(lab: &Lab, e: &Endpoint) -> View {
    let n = &lab.nodes[e.node];
    match n.kind {
        NodeKind::Switch => View::Switch(
            n.ports
                .iter()
                .find(|p| p.name == e.iface)
                .map_or(PortMode::Access(1), |p| p.mode.clone()),
        ),
        NodeKind::Bridge => View::Plain,
        NodeKind::Host | NodeKind::Router => {
            let vids: BTreeSet<u16> = n
                .interfaces
                .iter()
                .filter_map(|i| i.vlan.as_ref().filter(|v| v.0 == e.iface).map(|v| v.1))
                .collect();
            if vids.is_empty() {
                View::Plain
            } else {
                View::Tagged(vids)
            }
        }
    }
}

fn describe(lab: &Lab, e: &Endpoint) -> String {
    format!("{}:{}", lab.nodes[e.node].name, e.iface)
}

pub(crate) fn ports_and_vlans(p: &mut Problems, raw: &RawLab, lab: &mut Lab) {
    assign_ports(p, raw, lab);
    for l in lab.links.clone() {
        check_link(p, lab, &l);
    }
    svis(p, raw, lab);
}

/// Every linked port of a switch gets its mode: as declared, or access in VLAN 1.
fn assign_ports(p: &mut Problems, raw: &RawLab, lab: &mut Lab) {
    for (ni, rn) in raw.nodes.iter().enumerate() {
        if rn.kind != NodeKind::Switch {
            continue;
        }
        let mut linked: Vec<String> = lab
            .links
            .iter()
            .flat_map(|l| [&l.a, &l.b])
            .filter(|e| e.node == ni)
            .map(|e| e.iface.clone())
            .collect();
        linked.extend(
            lab.taps
                .iter()
                .filter(|t| t.node == ni)
                .map(|t| t.name.clone()),
        );
        for rp in &rn.ports {
            if !linked.contains(&rp.name.v) {
                let w = p
                    .new_problem(
                        "unlinked_port",
                        format!(
                            "port `{}:{}` is not linked to anything",
                            rn.name.v, rp.name.v
                        ),
                    )
                    .label(rp.name.at, "no link ends on this port")
                    .help(format!(
                        "add a link such as `[HOST:eth0, {}:{}]`",
                        rn.name.v, rp.name.v
                    ))
                    .warning();
                p.push(w);
            }
        }
        let mut ports = Vec::new();
        let mut by_mac_used = vec![false; rn.mac_vlans.len()];
        for name in linked {
            let declared = rn.ports.iter().find(|rp| rp.name.v == name);
            // MAC-based VLAN: the port takes the VLAN of the MAC plugged into it.
            let by_mac = far_mac(lab, ni, &name).and_then(|mac| {
                rn.mac_vlans
                    .iter()
                    .position(|(m, _)| m.v.eq_ignore_ascii_case(&mac))
            });
            if let Some(k) = by_mac {
                by_mac_used[k] = true;
            }
            let (mode, allow, at) = match declared {
                Some(rp) => {
                    let mode = match (&rp.vlan, &rp.trunk) {
                        (_, Some(t)) => PortMode::Trunk {
                            vlans: t.v.clone(),
                            native: rp.native.as_ref().map(|n| n.v),
                        },
                        (Some(v), None) => PortMode::Access(v.v),
                        (None, None) => by_mac.map_or(PortMode::Access(1), |k| {
                            PortMode::Access(rn.mac_vlans[k].1.v)
                        }),
                    };
                    let allow = rp
                        .allow
                        .iter()
                        .map(|a| crate::model::Allow {
                            mac: a.mac.clone(),
                            ip: a.ip,
                        })
                        .collect();
                    (mode, allow, rp.name.at)
                }
                None => (
                    by_mac.map_or(PortMode::Access(1), |k| {
                        PortMode::Access(rn.mac_vlans[k].1.v)
                    }),
                    Vec::new(),
                    rn.name.at,
                ),
            };
            if let PortMode::Trunk { vlans, .. } = &mode {
                for v in vlans {
                    // Emulated mode gives each VLAN of a trunk its own link named PORT.VID.
                    let sub = format!("{name}.{v}");
                    if sub.len() > IFNAME_MAX {
                        p.error(
                            "name",
                            format!(
                                "trunk port `{}:{name}` is too long a name for its VLAN links",
                                rn.name.v
                            ),
                            at,
                            format!(
                                "`{sub}` is {} bytes; Linux allows at most {IFNAME_MAX}",
                                sub.len()
                            ),
                            Some("give trunk ports short names, such as `up` or `t1`".into()),
                        );
                        break;
                    }
                }
            }
            ports.push(Port {
                name,
                mode,
                allow,
                at: at.into(),
            });
        }
        for ((mac, _), used) in rn.mac_vlans.iter().zip(by_mac_used) {
            if !used {
                let w = p
                    .new_problem(
                        "mac_vlan",
                        format!("no port of `{}` has {} behind it", rn.name.v, mac.v),
                    )
                    .label(mac.at, "this MAC is not on any linked interface")
                    .help("a MAC-based VLAN follows the `mac:` of the interface linked to a port: give that interface this MAC")
                    .warning();
                p.push(w);
            }
        }
        vlan_link_names(p, raw, rn, &ports);
        bound_to_a_router(p, rn, lab, ni);
        lab.nodes[ni].ports = ports;
    }
}

/// The `mac:` of the interface at the far end of the switch's port, if it declares one.
fn far_mac(lab: &Lab, switch: usize, port: &str) -> Option<String> {
    lab.links.iter().find_map(|l| {
        let far = match (&l.a, &l.b) {
            (a, b) if a.node == switch && a.iface == port => b,
            (a, b) if b.node == switch && b.iface == port => a,
            _ => return None,
        };
        lab.nodes[far.node]
            .interfaces
            .iter()
            .find(|i| i.name == far.iface)
            .and_then(|i| i.mac.clone())
    })
}

/// An IP bound (`allow: [{ip: ...}]`) on a port that faces a router drops everything the
/// router forwards: forwarded packets carry their senders' addresses, not the router's.
fn bound_to_a_router(p: &mut Problems, rn: &RawNode, lab: &Lab, switch: usize) {
    for rp in &rn.ports {
        let far = lab.links.iter().find_map(|l| match (&l.a, &l.b) {
            (a, b) if a.node == switch && a.iface == rp.name.v => Some(b.node),
            (a, b) if b.node == switch && b.iface == rp.name.v => Some(a.node),
            _ => None,
        });
        let Some(far) = far
            .filter(|f| lab.nodes[*f].kind == NodeKind::Router || !lab.nodes[*f].svis.is_empty())
        else {
            continue;
        };
        for a in rp.allow.iter().filter(|a| a.ip.is_some()) {
            let w = p
                .new_problem(
                    "allow_router",
                    format!(
                        "port `{}:{}` binds an IP, but it faces router `{}`",
                        rn.name.v, rp.name.v, lab.nodes[far].name
                    ),
                )
                .label(a.at, "this binding drops every packet the router forwards")
                .help("a router forwards packets with their senders' addresses, not its own: bind its MAC only, `{mac: ...}`")
                .warning();
            p.push(w);
        }
    }
}

/// The emulated build carries VLAN 10 of trunk `up` on a link of its own named `up.10`: a
/// port of that name would collide with it. Refused in both builds, so that the file means
/// the same in both.
fn vlan_link_names(p: &mut Problems, raw: &RawLab, rn: &RawNode, ports: &[Port]) {
    let tagged: HashMap<&str, Vec<u16>> = ports
        .iter()
        .filter(|port| matches!(port.mode, PortMode::Trunk { .. }))
        .map(|port| (port.name.as_str(), port.mode.tagged()))
        .collect();
    for port in ports {
        let Some((trunk, vid)) = port.name.rsplit_once('.') else {
            continue;
        };
        let (Ok(vid), Some(vlans)) = (vid.parse::<u16>(), tagged.get(trunk)) else {
            continue;
        };
        if !vlans.contains(&vid) {
            continue;
        }
        let used_at = raw
            .links
            .iter()
            .flat_map(|l| [&l.a, &l.b])
            .chain(raw.taps.iter().map(|t| &t.end))
            .find(|e| e.node == rn.name.v && e.iface == port.name)
            .map_or(SourceSpan::from(port.at), |e| e.at);
        p.error(
            "port_name",
            format!(
                "port `{}:{}` has the name of trunk `{trunk}`'s link for VLAN {vid}",
                rn.name.v, port.name
            ),
            used_at,
            format!(
                "where 802.1Q is emulated, VLAN {vid} of `{trunk}` is carried by `{}`",
                port.name
            ),
            Some(format!("rename the port, such as `p{vid}`")),
        );
    }
}

fn check_link(p: &mut Problems, lab: &Lab, link: &crate::model::Link) {
    let (a, b, at) = (&link.a, &link.b, SourceSpan::from(link.at));
    let (va, vb) = (view(lab, a), view(lab, b));
    if link.kind != crate::model::LinkKind::Veth {
        let tagged = |v: &View| matches!(v, View::Tagged(_) | View::Switch(PortMode::Trunk { .. }));
        if tagged(&va) || tagged(&vb) {
            p.error(
                "vlan_link",
                "802.1Q trunks and sub-interfaces ride on veth links only",
                at,
                "tagged VLANs on a macvlan or VXLAN link",
                Some("carry the VLANs over a plain link, or use access ports here".into()),
            );
        }
        return;
    }
    let (da, db) = (describe(lab, a), describe(lab, b));
    let mut fail = |msg: String, help: &str| {
        p.error(
            "vlan_link",
            msg,
            at,
            "the two ends disagree on VLANs",
            Some(help.to_owned()),
        );
    };
    match (&va, &vb) {
        (View::Switch(PortMode::Access(_)), View::Tagged(v))
        | (View::Tagged(v), View::Switch(PortMode::Access(_))) => {
            let (port, iface) = if matches!(va, View::Switch(_)) {
                (&da, &db)
            } else {
                (&db, &da)
            };
            fail(
                format!(
                    "access port `{port}` faces tagged sub-interfaces of `{iface}` (VLAN {})",
                    list(v)
                ),
                "an access port sends and expects untagged frames; make it a trunk (`trunk: [..]`) to carry tagged VLANs",
            );
        }
        (View::Switch(x @ PortMode::Trunk { .. }), View::Switch(y @ PortMode::Trunk { .. })) => {
            let common: Vec<u16> = x
                .tagged()
                .into_iter()
                .filter(|v| y.tagged().contains(v))
                .collect();
            match (x.untagged(), y.untagged()) {
                (Some(n1), Some(n2)) if n1 != n2 => fail(
                    format!("trunks `{da}` and `{db}` have different native VLANs ({n1} and {n2})"),
                    "untagged frames would leak from one VLAN into the other; use the same `native:` on both ends",
                ),
                (n1, n2) if common.is_empty() && (n1.is_none() || n1 != n2) => fail(
                    format!("trunks `{da}` and `{db}` share no VLAN"),
                    "list at least one VLAN in both `trunk:` lists",
                ),
                _ => {}
            }
        }
        (View::Switch(t @ PortMode::Trunk { .. }), View::Switch(PortMode::Access(v)))
        | (View::Switch(PortMode::Access(v)), View::Switch(t @ PortMode::Trunk { .. }))
            if t.untagged() != Some(*v) =>
        {
            fail(
                format!("access port and trunk share no VLAN (`{da}` and `{db}`)"),
                &format!(
                    "the access port sends untagged frames of VLAN {v}: make it the trunk's `native: {v}`, or use a trunk on both ends"
                ),
            );
        }
        (View::Switch(PortMode::Access(a1)), View::Switch(PortMode::Access(a2))) if a1 != a2 => {
            // Allowed by real switches, but it merges two VLANs into one broadcast domain.
            let w = p
                .new_problem("vlan_merge", format!("access ports `{da}` (VLAN {a1}) and `{db}` (VLAN {a2}) are linked"))
                .label(at, "VLANs merged by this link")
                .help("this joins the two VLANs into one broadcast domain; use the same VLAN on both ends if that is not the point")
                .warning();
            p.push(w);
        }
        (View::Switch(t @ PortMode::Trunk { .. }), View::Tagged(v))
        | (View::Tagged(v), View::Switch(t @ PortMode::Trunk { .. })) => {
            let (trunk, iface) = if matches!(va, View::Switch(_)) {
                (&da, &db)
            } else {
                (&db, &da)
            };
            let missing: Vec<u16> = v
                .iter()
                .copied()
                .filter(|x| !t.tagged().contains(x))
                .collect();
            if !missing.is_empty() {
                fail(
                    format!(
                        "trunk `{trunk}` does not carry VLAN {} of `{iface}`",
                        missing
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "add the VLAN to the trunk's `trunk:` list, or remove the sub-interface",
                );
            }
        }
        (View::Switch(t @ PortMode::Trunk { .. }), View::Plain)
        | (View::Plain, View::Switch(t @ PortMode::Trunk { .. })) => {
            let (trunk, other, other_end) = if matches!(va, View::Switch(_)) {
                (&da, &db, b)
            } else {
                (&db, &da, a)
            };
            if lab.nodes[other_end.node].kind == NodeKind::Bridge {
                fail(
                    format!(
                        "trunk `{trunk}` faces `{other}`, a bridge that does not understand 802.1Q"
                    ),
                    "connect the bridge to an access port of the switch (its hosts then share that VLAN), or make it a switch with a trunk",
                );
            } else if t.untagged().is_none() {
                fail(
                    format!("trunk `{trunk}` shares no VLAN with `{other}`"),
                    &format!(
                        "`{other}` sends untagged frames and the trunk has no `native:` VLAN; add sub-interfaces such as `{other}.10`, or a native VLAN"
                    ),
                );
            }
        }
        (View::Tagged(x), View::Tagged(y)) => {
            let only: Vec<u16> = x.symmetric_difference(y).copied().collect();
            if !only.is_empty() {
                fail(
                    format!(
                        "`{da}` and `{db}` do not carry the same VLANs ({} on one end only)",
                        list(&only.into_iter().collect())
                    ),
                    "give both ends the same sub-interfaces",
                );
            }
        }
        (View::Tagged(v), View::Plain) | (View::Plain, View::Tagged(v)) => {
            let (tagged, plain) = if matches!(va, View::Tagged(_)) {
                (&da, &db)
            } else {
                (&db, &da)
            };
            fail(
                format!(
                    "`{plain}` does not understand the VLAN {} sub-interfaces of `{tagged}`",
                    list(v)
                ),
                "tagged frames need an 802.1Q trunk (a switch port with `trunk:`) or sub-interfaces on both ends",
            );
        }
        _ => {}
    }
}

fn list(v: &BTreeSet<u16>) -> String {
    v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

/// An SVI is the switch's own interface into one of its VLANs: that VLAN must be on a port.
fn svis(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    for (ni, rn) in raw.nodes.iter().enumerate() {
        let carried: BTreeSet<u16> = lab.nodes[ni]
            .ports
            .iter()
            .flat_map(|p| p.mode.vlans())
            .collect();
        for s in &rn.svis {
            if !carried.contains(&s.vlan.v) {
                p.error(
                    "svi",
                    format!(
                        "switch `{}` has an SVI for VLAN {}, which none of its ports carries",
                        rn.name.v, s.vlan.v
                    ),
                    s.vlan.at,
                    format!("`{}` would be cut off", svi_name(s.vlan.v)),
                    Some(format!(
                        "put a port in VLAN {} (`vlan: {}` or in a `trunk:` list)",
                        s.vlan.v, s.vlan.v
                    )),
                );
            }
        }
    }
}
