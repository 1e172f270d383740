//! 802.1Q switches: port modes (access, trunk, native VLAN), port security, SVIs; and the
//! `eth0.10` sub-interfaces of hosts and routers.

use miette::SourceSpan;

use super::address::*;
use super::fields::*;
use super::*;
use crate::model::name::ifname_problem;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

/// 802.1Q VLAN ids 0 and 4095 are reserved.
pub(super) const VID_MIN: i64 = 1;
pub(super) const VID_MAX: i64 = 4094;

pub(super) fn vid(p: &mut Problems, n: &Node) -> Option<Sp<u16>> {
    match number(p, n, "a VLAN id", "10")? {
        v @ VID_MIN..=VID_MAX => Some(Sp {
            v: v as u16,
            at: n.span,
        }),
        v => {
            p.error(
                "vlan_id",
                format!("VLAN id {v} is out of range"),
                n.span,
                "802.1Q VLAN ids go from 1 to 4094",
                Some("0 and 4095 are reserved by the standard".into()),
            );
            None
        }
    }
}

/// `eth0.10` → (`eth0`, 10), or a problem when the part after the dot is not a VLAN id.
pub(super) fn sub_interface(
    p: &mut Problems,
    parent: &str,
    vid_text: &str,
    at: SourceSpan,
) -> Option<(String, u16)> {
    let parsed = vid_text.parse::<i64>().ok();
    match parsed {
        Some(v) if (VID_MIN..=VID_MAX).contains(&v) && ifname_problem(parent).is_none() => {
            Some((parent.to_owned(), v as u16))
        }
        Some(v) if (VID_MIN..=VID_MAX).contains(&v) => {
            let why = ifname_problem(parent).unwrap_or_default();
            p.error(
                "name",
                format!("invalid parent interface `{parent}`"),
                at,
                why,
                None,
            );
            None
        }
        Some(v) => {
            p.error(
                "vlan_id",
                format!("VLAN id {v} is out of range"),
                at,
                "802.1Q VLAN ids go from 1 to 4094",
                None,
            );
            None
        }
        None => {
            p.error(
                "name",
                format!("`{parent}.{vid_text}` is not an 802.1Q sub-interface name"),
                at,
                "a dot in an interface name means PARENT.VLAN",
                Some(format!(
                    "write it as `{parent}.10` for VLAN 10 on `{parent}`, or drop the dot"
                )),
            );
            None
        }
    }
}

pub(super) fn read_switch(p: &mut Problems, f: &mut Fields<'_>, node: &mut RawNode) {
    if let Some(s) = f.get("stp") {
        node.stp = boolean(p, s, "stp").unwrap_or(false);
    }
    read_priority(p, f, node);
    super::node::read_exec(p, f, node);
    if let Some(ports) = f.get("ports")
        && let Some(map) = Fields::of(p, ports, "ports")
    {
        for (key, body) in map.entries {
            if let Some(name) = name_key(p, key, "interface name")
                && let Some(port) = read_port(p, name, body)
            {
                node.ports.push(port);
            }
        }
    }
    if let Some(m) = f.get("mac_vlans")
        && let Some(map) = Fields::of(p, m, "mac_vlans")
    {
        for (key, body) in map.entries {
            if let (Some(mac), Some(vlan)) = (read_mac(p, key), vid(p, body)) {
                node.mac_vlans.push((mac, vlan));
            }
        }
    }
    if let Some(svi) = f.get("svi")
        && let Some(map) = Fields::of(p, svi, "svi")
    {
        for (key, body) in map.entries {
            if let Some(vlan) = vid(p, key) {
                let addresses = one_or_many(body)
                    .into_iter()
                    .filter_map(|n| cidr(p, n))
                    .collect();
                node.svis.push(RawSvi { vlan, addresses });
            }
        }
    }
}

fn read_port(p: &mut Problems, name: Sp<String>, body: &Node) -> Option<RawPort> {
    let mut port = RawPort {
        name,
        vlan: None,
        trunk: None,
        native: None,
        allow: Vec::new(),
    };
    if matches!(body.value, Value::Null) {
        return Some(port);
    }
    let what = format!("port `{}`", port.name.v);
    let mut f = Fields::of(p, body, &what)?;
    if let Some(v) = f.get("vlan") {
        port.vlan = vid(p, v);
    }
    if let Some(t) = f.get("trunk") {
        let mut vids: Vec<Sp<u16>> = Vec::new();
        for n in one_or_many(t) {
            let Some(v) = vid(p, n) else { continue };
            match vids.iter().find(|seen| seen.v == v.v) {
                Some(first) => {
                    let problem = p
                        .new_problem(
                            "vlan_id",
                            format!("VLAN {} is listed twice in trunk `{}`", v.v, port.name.v),
                        )
                        .label(first.at, "first listed here")
                        .label(v.at, "listed again here")
                        .help("list each VLAN of a trunk once");
                    p.push(problem);
                }
                None => vids.push(v),
            }
        }
        let vids: Vec<u16> = vids.into_iter().map(|v| v.v).collect();
        port.trunk = Some(Sp {
            v: vids,
            at: t.span,
        });
    }
    if let Some(n) = f.get("native") {
        port.native = vid(p, n);
    }
    if let Some(a) = f.get("allow") {
        for item in list(p, a, "allow") {
            if let Some(allow) = read_allow(p, item) {
                port.allow.push(allow);
            }
        }
    }
    f.finish(p, PORT_KEYS, &what);
    if let (Some(v), Some(_)) = (&port.vlan, &port.trunk) {
        p.error(
            "port_mode",
            format!("{what} is both an access port and a trunk"),
            v.at,
            "`vlan:` makes an access port",
            Some(
                "use `vlan: N` for an access port, or `trunk: [..]` (with `native:`) for a trunk"
                    .into(),
            ),
        );
        return None;
    }
    if let (Some(n), None) = (&port.native, &port.trunk) {
        p.error(
            "port_mode",
            format!("{what} has a native VLAN but is not a trunk"),
            n.at,
            "`native:` only means something on a trunk",
            Some("add `trunk: [..]`, or use `vlan: N` for an access port".into()),
        );
        return None;
    }
    Some(port)
}

fn read_allow(p: &mut Problems, n: &Node) -> Option<RawAllow> {
    let mut f = Fields::of(p, n, "a port security entry")?;
    let mac = f.get("mac").and_then(|m| read_mac(p, m));
    let ip = f
        .get("ip")
        .and_then(|i| ip(p, i, "port security address"))
        .map(|a| a.v);
    f.finish(p, ALLOW_KEYS, "a port security entry");
    let Some(mac) = mac else {
        p.error(
            "missing_key",
            "a port security entry needs `mac:`",
            n.span,
            "no MAC address",
            Some("for example `{mac: 02:00:00:00:00:03, ip: 10.0.10.3}`".into()),
        );
        return None;
    };
    Some(RawAllow {
        mac: mac.v,
        ip,
        at: n.span,
    })
}

/// `priority:`, the spanning-tree bridge priority: only with `stp: true`, and in the steps of
/// 4096 the kernel keeps (802.1D-2004 uses the low 12 bits for the system id).
pub(super) fn read_priority(p: &mut Problems, f: &mut Fields<'_>, node: &mut RawNode) {
    let Some(v) = f.get("priority") else { return };
    let Some(n) = number(p, v, "`priority`", "4096") else {
        return;
    };
    if !(0..=65535).contains(&n) || n % 4096 != 0 {
        p.error(
            "priority",
            format!("a bridge priority is 0 to 61440 in steps of 4096, not {n}"),
            v.span,
            "not a spanning-tree priority",
            Some(
                "0 makes this bridge the root; 4096, 8192, ... rank the rest; 32768 is the default"
                    .into(),
            ),
        );
        return;
    }
    if !node.stp {
        p.error(
            "priority",
            "`priority` ranks bridges in the spanning tree, and this one runs none",
            v.span,
            "no `stp: true` on this bridge",
            Some("add `stp: true`, or remove `priority`".into()),
        );
        return;
    }
    node.priority = Some(Sp {
        v: n as u16,
        at: v.span,
    });
}
