//! Links between endpoints, and the expectations checked against the running lab.

use super::fields::*;
use super::*;
use crate::model::name::ifname_problem;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

pub(super) fn endpoint(p: &mut Problems, n: &Node) -> Option<RawEndpoint> {
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

/// A link as written: a veth pair (`[a:if, b:if]` or `{endpoints: ...}`), a macvlan child
/// (`{macvlan: c1:eth0, parent: h:eth0}`), a VXLAN overlay (`{type: vxlan, ...}`), or a TAP
/// device on a port (`{tap: br0:vm1}`).
pub(super) enum Item {
    Link(RawLink),
    Tap(RawTap),
}

pub(super) fn read_link(p: &mut Problems, n: &Node) -> Option<Item> {
    let (ends, mtu_value, kind, impair) = match &n.value {
        Value::Seq(items) => (items.as_slice(), None, RawLinkKind::Veth, None),
        Value::Map(_) => {
            let mut f = Fields::of(p, n, "a link")?;
            let impair = f.get("impair");
            if let Some(t) = f.get("tap") {
                if let Some(i) = impair {
                    cannot_impair(
                        p,
                        i,
                        "a TAP device",
                        "its other end is a virtual machine's, outside the lab: vnet cannot shape what the machine sends; impair a veth link of the bridge instead",
                    );
                }
                return read_tap(p, f, t, n).map(Item::Tap);
            }
            if let Some(child) = f.get("macvlan") {
                if let Some(i) = impair {
                    cannot_impair(
                        p,
                        i,
                        "a macvlan",
                        "a macvlan child shares its parent's wire; impair the parent's veth link instead",
                    );
                }
                return read_macvlan(p, f, child, n).map(Item::Link);
            }
            let ends = f.get("endpoints");
            let m = f.get("mtu").and_then(|m| mtu(p, m));
            let kind = match f.get("type") {
                None => RawLinkKind::Veth,
                Some(t) => match string(p, t, "type")?.v.as_str() {
                    "veth" => RawLinkKind::Veth,
                    "vxlan" => {
                        if let Some(i) = impair {
                            cannot_impair(
                                p,
                                i,
                                "a VXLAN link",
                                "its packets travel inside the underlay's; impair the underlay's veth link instead",
                            );
                        }
                        read_vxlan(p, &mut f, n)?
                    }
                    other => {
                        p.error("link_type", format!("unknown link type `{other}`"), t.span, "not a link type", Some("links are `veth` (the default) or `vxlan`; macvlan and TAP have forms of their own (`macvlan:`, `tap:`)".into()));
                        return None;
                    }
                },
            };
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
            let impair = match (&kind, impair) {
                (RawLinkKind::Veth, Some(i)) => super::impair::read_impair(p, i).map(Box::new),
                _ => None,
            };
            (list(p, ends, "endpoints"), m, kind, impair)
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
    Some(Item::Link(RawLink {
        a,
        b,
        mtu: mtu_value,
        kind,
        impair,
        at: (start, end - start).into(),
    }))
}

/// `impair:` where no qdisc can do what it says.
fn cannot_impair(p: &mut Problems, n: &Node, what: &str, why: &str) {
    p.error(
        "impair",
        format!("an impairment cannot apply to {what}"),
        n.span,
        "no impairment here",
        Some(why.to_owned()),
    );
}

fn read_tap(p: &mut Problems, mut f: Fields<'_>, t: &Node, n: &Node) -> Option<RawTap> {
    let owner = f.get("owner").and_then(|v| string(p, v, "owner"));
    let group = f.get("group").and_then(|v| string(p, v, "group"));
    f.finish(p, TAP_KEYS, "a TAP device");
    let end = endpoint(p, t)?;
    Some(RawTap {
        end,
        owner,
        group,
        at: n.span,
    })
}

fn read_macvlan(p: &mut Problems, mut f: Fields<'_>, child: &Node, n: &Node) -> Option<RawLink> {
    let parent = f.get("parent");
    let mode = f.get("mode").and_then(|m| string(p, m, "mode"));
    f.finish(p, MACVLAN_KEYS, "a macvlan");
    let Some(parent) = parent else {
        p.error(
            "missing_key",
            "a macvlan needs a `parent:` interface",
            n.span,
            "no parent",
            Some("for example `{macvlan: c1:eth0, parent: host1:eth0}`".into()),
        );
        return None;
    };
    let mode = match mode {
        None => Sp {
            v: "bridge".to_owned(),
            at: n.span,
        },
        Some(m) if ["bridge", "private", "vepa", "passthru"].contains(&m.v.as_str()) => m,
        Some(m) => {
            p.error(
                "macvlan_mode",
                format!("unknown macvlan mode `{}`", m.v),
                m.at,
                "modes: bridge, private, vepa, passthru",
                None,
            );
            return None;
        }
    };
    let (a, b) = (endpoint(p, child), endpoint(p, parent));
    Some(RawLink {
        a: a?,
        b: b?,
        mtu: None,
        kind: RawLinkKind::Macvlan { mode },
        impair: None,
        at: n.span,
    })
}

fn read_vxlan(p: &mut Problems, f: &mut Fields<'_>, n: &Node) -> Option<RawLinkKind> {
    let vni_node = f.get("vni");
    let vni = vni_node.and_then(|v| match number(p, v, "vni", "42")? {
        x @ 1..0x100_0000 => Some(Sp {
            v: x as u32,
            at: v.span,
        }),
        _ => {
            p.error(
                "vni",
                "a VXLAN network identifier is a number from 1 to 16777215",
                v.span,
                "not a VNI",
                None,
            );
            None
        }
    });
    let underlay: Vec<Sp<String>> = f
        .get("underlay")
        .map(|u| {
            one_or_many(u)
                .into_iter()
                .filter_map(|x| string(p, x, "an underlay node"))
                .collect()
        })
        .unwrap_or_default();
    let Some(vni) = vni else {
        if vni_node.is_none() {
            p.error("missing_key", "a VXLAN link needs `vni:`", n.span, "no VNI", Some("for example `{type: vxlan, vni: 42, endpoints: [br1:vx, br2:vx], underlay: [host1, host2]}`".into()));
        }
        return None;
    };
    let Ok([u1, u2]) = <[Sp<String>; 2]>::try_from(underlay) else {
        p.error(
            "missing_key",
            "a VXLAN link needs `underlay:` with two nodes",
            n.span,
            "where the tunnel's UDP packets go from and to",
            Some("name the two nodes that carry the tunnel: `underlay: [host1, host2]`".into()),
        );
        return None;
    };
    Some(RawLinkKind::Vxlan {
        vni,
        underlay: (u1, u2),
    })
}
