//! Neighbour-cache checks: what a node's ARP (or NDP) cache holds for an address, compared
//! with the MACs of the node it should (or should not) be. How ARP spoofing is seen.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};

use super::icmp::{self, Timing};
use crate::apply::netns;

/// One check: in `ns`, the entry for `addr`, against the MACs of the namespace `of`.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub ns: String,
    pub addr: IpAddr,
    pub of: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// The entry's MAC, and whether it is one of `of`'s.
    Entry { mac: String, theirs: bool },
    /// No usable entry, even after asking for the address.
    Missing,
    /// The cache or the node could not be read.
    Error(String),
}

pub(crate) fn check_all(probes: &[Probe], timing: &Timing) -> Vec<Found> {
    probes.iter().map(|p| check(p, timing)).collect()
}

fn check(p: &Probe, timing: &Timing) -> Found {
    let macs = match in_ns(&p.of, link_macs) {
        Ok(m) => m,
        Err(e) => return Found::Error(format!("cannot read the MACs of {}: {e}", p.of)),
    };
    let mut entry = match in_ns(&p.ns, || entry_for(p.addr)) {
        Ok(e) => e,
        Err(e) => return Found::Error(format!("cannot read the neighbour cache of {}: {e}", p.ns)),
    };
    if entry.is_none() {
        // No entry yet: ask for the address once, as traffic would, and look again. An entry
        // that exists is read as it is: asking could heal a poisoned one.
        let _ = icmp::probe_all(&[(p.ns.clone(), p.addr)], &quick(timing));
        std::thread::sleep(Duration::from_millis(50));
        entry = in_ns(&p.ns, || entry_for(p.addr)).ok().flatten();
    }
    match entry {
        Some(mac) => Found::Entry {
            theirs: macs.contains(&mac),
            mac,
        },
        None => Found::Missing,
    }
}

fn quick(timing: &Timing) -> Timing {
    Timing {
        tries: timing.tries.iter().take(1).copied().collect(),
    }
}

fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    let file = netns::open(ns)?;
    netns::in_netns(&file, f)?
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The MAC of the calling thread's namespace's entry for `addr`, if it has a usable one.
fn entry_for(addr: IpAddr) -> io::Result<Option<String>> {
    runtime()?.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let entries: Vec<_> = handle
            .neighbours()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(entries.into_iter().find_map(|n| {
            if matches!(
                n.header.state,
                NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
            ) {
                return None;
            }
            let mut dst = None;
            let mut mac = None;
            for a in n.attributes {
                match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                        dst = Some(IpAddr::V4(v4))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                        dst = Some(IpAddr::V6(v6))
                    }
                    NeighbourAttribute::LinkLayerAddress(m) => mac = Some(m),
                    _ => {}
                }
            }
            (dst == Some(addr)).then(|| mac.map(|m| crate::apply::packet::mac_text(&m)))?
        }))
    })
}

/// The MACs of the calling thread's namespace's links, but `lo`'s.
fn link_macs() -> io::Result<Vec<String>> {
    runtime()?.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let links: Vec<_> = handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(links
            .into_iter()
            .filter(|l| l.header.index != 1)
            .flat_map(|l| {
                l.attributes.into_iter().filter_map(|a| match a {
                    LinkAttribute::Address(m) if m.len() == 6 => {
                        Some(crate::apply::packet::mac_text(&m))
                    }
                    _ => None,
                })
            })
            .collect())
    })
}
