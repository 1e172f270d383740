//! `vnet explain`: the path a packet takes, hop by hop, and the first place it stops, with the
//! reason in words. One reasoning engine over a per-namespace snapshot ([`world::World`]):
//! the running kernel's, or what the file makes `up` build.

use std::net::IpAddr;

use serde::Serialize;

use crate::model::{Lab, Proto};

pub(crate) mod expected;
mod l2;
mod walk;
pub(crate) mod words;
pub(crate) mod world;

pub(crate) use world::World;

/// What travels: addresses as the node at hand sees them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    pub port: Option<u16>,
}

/// One router (or host) on the way.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Hop {
    pub node: String,
    /// The interface it came in through (none at the start).
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    pub came_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// The next hop, when the route has a gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// Bridges and switches crossed to the next node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
    /// What the node did to the packet (NAT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where the packet (or its reply) stops, and why.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Stop {
    pub node: String,
    /// The reply's way back, not the packet's way there.
    pub back: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Explanation {
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub proto: Proto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `kernel` (a running lab) or `file` (what `up` would build).
    pub source: &'static str,
    pub arrives: bool,
    pub there: Vec<Hop>,
    pub back: Vec<Hop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// The source address the far end sees (after masquerading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_as: Option<IpAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The address a node target stands for: its first of the IP version `from` speaks
/// (IPv4 first), as `--all-pairs` probes it.
pub(crate) fn address_of(lab: &Lab, from: usize, to: usize) -> Option<IpAddr> {
    [true, false].into_iter().find_map(|v4| {
        let speaks = lab.addresses(from).any(|a| a.addr().is_ipv4() == v4);
        lab.addresses(to)
            .map(|a| a.addr())
            .find(|a| a.is_ipv4() == v4)
            .filter(|_| speaks)
    })
}

/// Follows a packet from `from` to `to` and its reply back.
pub(crate) fn explain(
    w: &World,
    from: usize,
    to_label: &str,
    to: IpAddr,
    proto: Proto,
    port: Option<u16>,
) -> Explanation {
    let lab = w.lab;
    let unspecified: IpAddr = if to.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let mut e = Explanation {
        from: lab.nodes[from].name.clone(),
        to: to_label.to_owned(),
        address: to,
        proto,
        port,
        source: if w.live { "kernel" } else { "file" },
        arrives: false,
        there: Vec::new(),
        back: Vec::new(),
        stop: None,
        seen_as: None,
        notes: Vec::new(),
    };
    let (mut nats, mut notes) = (Vec::new(), Vec::new());
    let p = Packet {
        src: unspecified,
        dst: to,
        proto,
        port,
    };
    let arrived = match walk::walk(w, from, p, walk::Dir::There, &mut nats, &mut notes) {
        Ok(a) => a,
        Err((hops, stop)) => {
            e.there = hops;
            e.stop = Some(stop);
            e.notes = notes;
            return e;
        }
    };
    e.there = arrived.hops;
    e.seen_as = (arrived.packet.src != unspecified).then_some(arrived.packet.src);
    let reply = Packet {
        src: arrived.packet.dst,
        dst: arrived.packet.src,
        proto,
        port: None,
    };
    match walk::walk(
        w,
        arrived.node,
        reply,
        walk::Dir::Back,
        &mut nats,
        &mut notes,
    ) {
        Ok(b) if b.node == from => {
            e.back = b.hops;
            e.arrives = true;
        }
        Ok(b) => {
            let got = lab.nodes[b.node].name.clone();
            e.back = b.hops;
            e.stop = Some(Stop {
                node: got.clone(),
                back: true,
                reason: format!(
                    "the reply to {} is delivered to {got}, not to {}",
                    reply.dst, e.from
                ),
            });
        }
        Err((hops, stop)) => {
            e.back = hops;
            e.stop = Some(stop);
        }
    }
    e.notes = notes;
    e
}

/// How many failed rows of one run are explained: each reads a few namespaces.
const EXPLAINED: usize = 200;

/// Explains, from the running lab's kernel, each row that should have reached and did not.
pub(crate) fn failed_rows(lab: &Lab, rows: &mut [super::Row]) {
    use super::{Method, Status};
    let w = World::running(lab);
    // A measurement that got answers failed on its numbers, not on the way: the path
    // "arrives", which is no news.
    let failed = rows.iter_mut().filter(|r| {
        r.expect
            && r.verdict == Status::Fail
            && r.measured.rtt_median_ms.is_none()
            && r.measured.rate_mbit.is_none()
            && matches!(
                r.method,
                Method::Icmp | Method::Trace | Method::Tcp | Method::Udp
            )
    });
    for r in failed.take(EXPLAINED) {
        let Some(from) = lab.node_index(&r.from) else {
            continue;
        };
        let (proto, port) = match r.method {
            Method::Tcp | Method::Udp => (
                if r.method == Method::Tcp {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                r.to.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
            ),
            _ => (Proto::Icmp, None),
        };
        let e = explain(&w, from, &r.to, r.address, proto, port);
        r.explanation = Some(words::line(&e));
    }
}

#[cfg(test)]
mod tests;
