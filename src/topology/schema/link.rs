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

pub(super) fn read_link(p: &mut Problems, n: &Node) -> Option<RawLink> {
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

pub(super) fn read_check(p: &mut Problems, n: &Node) -> Option<RawCheck> {
    let mut f = Fields::of(p, n, "an expectation")?;
    let from = f.get("from").and_then(|v| string(p, v, "from"));
    let to = f.get("to").and_then(|v| string(p, v, "to"));
    let reach = f.get("reach").map(|v| boolean(p, v, "reach"));
    let layer = f.get("layer").and_then(|v| match &v.value {
        Value::Int(n @ (2 | 3)) => Some(Sp { v: *n as u8, at: v.span }),
        _ => {
            p.error(
                "layer",
                "`layer` is 2 or 3",
                v.span,
                "not a layer vnet probes",
                Some("layer 3 (the default) sends ICMP echo; layer 2 asks for the address with ARP, answered within one broadcast domain".into()),
            );
            None
        }
    });
    let proto = f.get("proto").and_then(|v| string(p, v, "proto"));
    let seen_as = f.get("seen_as").and_then(|v| string(p, v, "seen_as"));
    let listen = f.get("listen").and_then(|v| boolean(p, v, "listen"));
    let via = f
        .get("via")
        .map(|v| {
            one_or_many(v)
                .into_iter()
                .filter_map(|n| string(p, n, "via"))
                .collect()
        })
        .unwrap_or_default();
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
        layer,
        proto,
        seen_as,
        listen,
        via,
        at: n.span,
    })
}
