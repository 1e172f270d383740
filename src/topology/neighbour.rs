//! Neighbour-cache checks (`{on: victim, neighbour: 10.0.1.1, is: gw}`): what a node's ARP or
//! NDP cache holds for an address. Refused here: entries no kernel would ever keep.

use std::net::IpAddr;

use super::diag::Problems;
use super::resolve::resolve_node;
use super::schema::{RawCheck, Sp};
use crate::model::{Check, Lab, Proto, Target};

/// `aa:bb:cc:dd:ee:ff`: what `is:` holds when a MAC is written instead of a node.
fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
}

pub(super) fn check(p: &mut Problems, lab: &Lab, rc: &RawCheck, is: &Sp<String>) -> Option<Check> {
    let on = resolve_node(p, lab, &rc.from.v, rc.from.at);
    let node = if is_mac(&is.v) {
        // The MAC's owner, named instead: the check compares with that node's interface.
        let owner = lab.nodes.iter().find(|n| {
            n.interfaces
                .iter()
                .any(|i| i.mac.as_deref() == Some(is.v.to_ascii_lowercase().as_str()))
        });
        p.error(
            "neighbour",
            "a neighbour check names the node whose MAC the entry must hold, not the MAC",
            is.at,
            "a MAC, not a node",
            Some(match owner {
                Some(n) => format!("{} has it: write `{}`", n.name, n.name),
                None => {
                    "name the node: vnet compares with the MAC of its interface facing the address"
                        .into()
                }
            }),
        );
        None
    } else {
        resolve_node(p, lab, &is.v, is.at)
    };
    let addr = match rc.to.v.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            p.error(
                "neighbour",
                format!("`{}` is not an address", rc.to.v),
                rc.to.at,
                "a neighbour entry is for an address",
                Some("write the address whose entry is read, such as `neighbour: 10.0.1.1`".into()),
            );
            None
        }
    };
    let (on, node, addr) = (on?, node?, addr?);
    if lab.on_machine(on) {
        p.error(
            "neighbour",
            "vnet reads the neighbour caches of the lab's nodes, not the machine's",
            rc.from.at,
            "`host` is the machine itself",
            None,
        );
        return None;
    }
    // A kernel keeps entries for its neighbours only: addresses on its own subnets, not its own.
    let mine: Vec<ipnet::IpNet> = lab
        .local_interfaces(on)
        .flat_map(|i| i.addresses.iter().copied())
        .collect();
    let name = &lab.nodes[on].name;
    if mine.iter().any(|a| a.addr() == addr) {
        p.error(
            "neighbour",
            format!("{addr} is `{name}`'s own address"),
            rc.to.at,
            "no node keeps a neighbour entry for itself",
            Some("read the entry of a neighbour's address, such as its gateway's".into()),
        );
        return None;
    }
    // IPv6 link-local neighbours (fe80::/10) are on every link, whatever the subnets.
    let link_local = matches!(addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
    if !link_local && !mine.iter().any(|a| a.contains(&addr)) {
        let nets: Vec<String> = mine.iter().map(|a| a.trunc().to_string()).collect();
        p.error(
            "neighbour",
            format!("`{name}` never keeps a neighbour entry for {addr}"),
            rc.to.at,
            "on none of its subnets",
            Some(if nets.is_empty() {
                format!("`{name}` has no address, so no neighbours")
            } else {
                format!(
                    "a node caches the MACs of its neighbours only, on its subnets: {}",
                    nets.join(", ")
                )
            }),
        );
        return None;
    }
    Some(Check {
        from: on,
        to: Target::Addr(addr),
        reach: rc.reach,
        layer: 2,
        proto: Proto::Icmp,
        port: None,
        seen_as: None,
        listen: false,
        via: Vec::new(),
        seen_by: Vec::new(),
        unseen_by: Vec::new(),
        neighbour_is: Some(node),
        measure: None,
        within_ms: rc.within,
        at: rc.at.into(),
    })
}
