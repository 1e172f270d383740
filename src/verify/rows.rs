//! The rows of the probes that say more than "reached": TCP/UDP with their listener, neighbour
//! caches, frames watched for, traced paths.

use std::net::IpAddr;

use super::icmp::Outcome;
use super::verdict::{got, row};
use super::{Method, Row, Status, measure, neighbour, observe, trace, transport};
use crate::model::{Lab, Proto, Target};

/// A TCP/UDP row: reached or not, and, with `seen_as`, whether the listener saw that source.
pub(super) fn seen(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    res: transport::Result,
) -> Row {
    let method = if c.proto == Proto::Udp {
        Method::Udp
    } else {
        Method::Tcp
    };
    let mut r = row(lab, method, c.from, to, address, c.reach, &res.outcome);
    r.listener = res.listener();
    match (&res.outcome, res.peer) {
        (Outcome::Reply { .. }, Some(peer)) => {
            r.got = format!(
                "connected to vnet's listener, seen as {}",
                name_of(lab, peer)
            );
        }
        (Outcome::Reply { .. }, None) => r.got = "connected to the lab's own service".into(),
        _ => {}
    }
    if let Some(expected) = &c.seen_as {
        let want: Vec<IpAddr> = match expected {
            Target::Addr(a) => vec![*a],
            Target::Node(n) => lab.addresses(*n).map(|a| a.addr()).collect(),
        };
        let ok = res.peer.is_some_and(|p| want.contains(&p));
        if res.outcome.reached() && res.peer.is_none() {
            r.got = "connected to the lab's own service: source unknown".into();
        }
        if r.verdict == Status::Pass && !ok {
            r = r.judged(Status::Fail);
        }
        r.expect_text = format!("seen as {}", lab.target_label(expected));
    }
    r
}

/// A neighbour-cache row: whose MAC the entry holds.
pub(super) fn cached(
    lab: &Lab,
    c: &crate::model::Check,
    address: IpAddr,
    found: neighbour::Found,
) -> Row {
    let node = c.neighbour_is.map_or("?", |n| lab.nodes[n].name.as_str());
    let (got, verdict) = match &found {
        neighbour::Found::Entry { mac, theirs } => (
            format!(
                "{mac} ({})",
                if *theirs {
                    format!("{node}'s")
                } else {
                    format!("not {node}'s")
                }
            ),
            if *theirs == c.reach {
                Status::Pass
            } else {
                Status::Fail
            },
        ),
        neighbour::Found::Missing => (
            "no entry, even after asking".to_owned(),
            if c.reach { Status::Fail } else { Status::Pass },
        ),
        neighbour::Found::Error(e) => (format!("could not read: {e}"), Status::Error),
    };
    Row {
        layer: 2,
        method: Method::Neighbour,
        from: lab.nodes[c.from].name.clone(),
        to: format!("neighbour {address}"),
        address,
        expect: c.reach,
        expect_text: format!("{} {node}'s MAC", if c.reach { "is" } else { "is not" }),
        got,
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

/// A frame-observation row: did the probe's frames arrive at `observer`?
pub(super) fn watched(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    observer: &str,
    must_see: bool,
    counted: Result<usize, String>,
) -> Row {
    let (got, verdict) = match counted {
        Ok(n) => (
            match n {
                0 => format!(
                    "none of {} echo requests arrived at {observer}",
                    observe::SENT
                ),
                n => format!(
                    "{n} of {} echo requests arrived at {observer}",
                    observe::SENT
                ),
            },
            if (n > 0) == must_see {
                Status::Pass
            } else {
                Status::Fail
            },
        ),
        Err(e) => (format!("probe could not run: {e}"), Status::Error),
    };
    Row {
        layer: 2,
        method: Method::Frame,
        from: lab.nodes[c.from].name.clone(),
        to,
        address,
        expect: must_see,
        expect_text: format!(
            "{} by {observer}",
            if must_see { "seen" } else { "not seen" }
        ),
        got,
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

/// An address, with the node that has it when there is one: `10.0.0.1 (r1)`.
fn name_of(lab: &Lab, a: IpAddr) -> String {
    match lab.owner(a) {
        Some(n) => format!("{a} ({})", lab.nodes[n].name),
        None => a.to_string(),
    }
}

/// A `via` row: the hops seen, and whether the listed nodes were among them, in order.
pub(super) fn traced(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    path: trace::Path,
) -> Row {
    let owners: Vec<Option<usize>> = path
        .hops
        .iter()
        .map(|h| h.and_then(|a| lab.owner(a)))
        .collect();
    let mut want = c.via.iter().peekable();
    for o in owners.iter().flatten() {
        if want.peek() == Some(&o) {
            want.next();
        }
    }
    let in_order = want.peek().is_none();
    let hops: Vec<String> = path
        .hops
        .iter()
        .map(|h| match h {
            Some(a) => lab
                .owner(*a)
                .map_or(a.to_string(), |n| lab.nodes[n].name.clone()),
            None => "*".into(),
        })
        .collect();
    let via: Vec<&str> = c.via.iter().map(|n| lab.nodes[*n].name.as_str()).collect();
    let path_text = if hops.is_empty() {
        "no hop answered".to_owned()
    } else {
        format!("path {}", hops.join(" → "))
    };
    let verdict = match &path.stop {
        Some(Outcome::Error(_)) => Status::Error,
        _ if path.reached && in_order => Status::Pass,
        _ => Status::Fail,
    };
    Row {
        layer: 3,
        method: Method::Trace,
        from: lab.nodes[c.from].name.clone(),
        to,
        address,
        expect: c.reach,
        expect_text: format!("via {}", via.join(" → ")),
        got: match (&path.stop, path.reached) {
            (Some(Outcome::Error(e)), _) => format!("probe could not run: {e}"),
            (Some(Outcome::NoRoute(e)), _) if hops.is_empty() => format!("not sent: {e}"),
            (Some(Outcome::NoRoute(e)), _) => format!("{path_text}, then not sent: {e}"),
            (Some(Outcome::Unreachable { from, why }), _) => {
                format!("{path_text}, then {why} (from {})", name_of(lab, *from))
            }
            (Some(other), _) => format!("{path_text}, then {}", got(other)),
            (None, true) if in_order => path_text,
            (None, true) => format!("{path_text}: not via {}", via.join(" → ")),
            (None, false) => format!("no reply; {path_text}"),
        },
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}
