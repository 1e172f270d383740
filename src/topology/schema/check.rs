//! The expectations checked against the running lab.

use super::fields::*;
use super::*;
use crate::topology::diag::Problems;
use crate::topology::yaml::Node;

pub(super) fn read_check(p: &mut Problems, n: &Node) -> Option<RawCheck> {
    let mut f = Fields::of(p, n, "an expectation")?;
    let from = f.get("from").and_then(|v| string(p, v, "from"));
    let to = f.get("to").and_then(|v| string(p, v, "to"));
    let reach = f.get("reach").map(|v| boolean(p, v, "reach"));
    let layer = f.get("layer").and_then(|v| match number(p, v, "layer", "2")? {
        n @ (2 | 3) => Some(Sp { v: n as u8, at: v.span }),
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
