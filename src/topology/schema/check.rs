//! The expectations checked against the running lab.

use super::fields::*;
use super::*;
use crate::model::measure;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

/// A bound of a measuring check: `< 60ms`, `< 5%`, `>= 9mbit`.
fn bound(
    p: &mut Problems,
    v: &Node,
    key: &str,
    parse: fn(&str) -> Result<measure::Bound, String>,
    example: &str,
) -> Option<Sp<measure::Bound>> {
    let text = string(p, v, key)?;
    match parse(&text.v) {
        Ok(b) => Some(Sp { v: b, at: v.span }),
        Err(e) => {
            p.error(
                "measure",
                format!("bad `{key}` bound: {e}"),
                v.span,
                "not a bound",
                Some(format!("write it like {example}")),
            );
            None
        }
    }
}

/// An `expect:` list.
pub(super) fn read_checks(p: &mut Problems, n: &Node) -> Vec<RawCheck> {
    list(p, n, "expect")
        .iter()
        .filter_map(|item| read_check(p, item))
        .collect()
}

pub(super) fn read_check(p: &mut Problems, n: &Node) -> Option<RawCheck> {
    let mut f = Fields::of(p, n, "an expectation")?;
    if f.entries
        .iter()
        .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == "on" || s == "neighbour"))
    {
        return read_neighbour(p, n, f);
    }
    let written = f.has("from") && f.has("to");
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
    let mut names = |key: &str| -> Vec<Sp<String>> {
        f.get(key)
            .map(|v| {
                one_or_many(v)
                    .into_iter()
                    .filter_map(|n| string(p, n, key))
                    .collect()
            })
            .unwrap_or_default()
    };
    let via = names("via");
    let seen_by = names("seen_by");
    let unseen_by = names("unseen_by");
    let rtt = f
        .get("rtt")
        .and_then(|v| bound(p, v, "rtt", measure::parse_rtt, "`< 60ms`"));
    let loss = f
        .get("loss")
        .and_then(|v| bound(p, v, "loss", measure::parse_loss, "`< 5%`"));
    let rate_at = f.get("rate").map(|v| v.span);
    let rate = f
        .get("rate")
        .and_then(|v| bound(p, v, "rate", measure::parse_rate, "`>= 9mbit`"));
    let within = f.get("within").and_then(|v| duration(p, v, "within"));
    f.finish(p, CHECK_KEYS, "an expectation");
    let (Some(from), Some(to)) = (from, to) else {
        if written {
            return None;
        }
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
        seen_by,
        unseen_by,
        rtt,
        loss,
        rate,
        rate_at,
        within,
        neighbour_is: None,
        at: n.span,
    })
}

/// `{on: victim, neighbour: 10.0.1.1, is: gw}` (or `is_not: attacker`): what `victim`'s
/// neighbour (ARP/NDP) cache says of the address.
fn read_neighbour(p: &mut Problems, n: &Node, mut f: Fields<'_>) -> Option<RawCheck> {
    let on = f.get("on").and_then(|v| string(p, v, "on"));
    let addr = f.get("neighbour").and_then(|v| string(p, v, "neighbour"));
    let is = f.get("is").and_then(|v| string(p, v, "is"));
    let is_not = f.get("is_not").and_then(|v| string(p, v, "is_not"));
    let within = f.get("within").and_then(|v| duration(p, v, "within"));
    let written = (
        f.has("on"),
        f.has("neighbour"),
        f.has("is") || f.has("is_not"),
    );
    f.finish(p, NEIGHBOUR_KEYS, "a neighbour check");
    let (node, reach) = match (is, is_not) {
        (Some(node), None) => (node, true),
        (None, Some(node)) => (node, false),
        (Some(_), Some(other)) => {
            p.error(
                "neighbour",
                "a neighbour check takes `is:` or `is_not:`, not both",
                other.at,
                "one of the two",
                None,
            );
            return None;
        }
        (None, None) if written.2 => return None,
        (None, None) => {
            p.error(
                "neighbour",
                "a neighbour check needs `is:` (or `is_not:`) naming the node whose MAC it must hold",
                n.span,
                "whose MAC?",
                Some("for example `{on: victim, neighbour: 10.0.1.1, is: gw}`".into()),
            );
            return None;
        }
    };
    let (Some(on), Some(addr)) = (on, addr) else {
        if written.0 && written.1 {
            return None;
        }
        p.error(
            "missing_key",
            "a neighbour check needs `on:` (the node whose cache is read) and `neighbour:` (the address)",
            n.span,
            "incomplete check",
            Some("for example `{on: victim, neighbour: 10.0.1.1, is: gw}`".into()),
        );
        return None;
    };
    Some(RawCheck {
        from: on,
        to: addr,
        reach,
        layer: None,
        proto: None,
        seen_as: None,
        listen: None,
        via: Vec::new(),
        seen_by: Vec::new(),
        unseen_by: Vec::new(),
        rtt: None,
        loss: None,
        rate: None,
        rate_at: None,
        within,
        neighbour_is: Some(node),
        at: n.span,
    })
}
