//! Interface addresses across the lab: each unique, and each one a host can have on a link.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};
use miette::SourceSpan;

use super::diag::Problems;
use super::schema::RawLab;

/// Every address with its place: interfaces, bridge devices and SVIs.
fn all_addresses(raw: &RawLab) -> Vec<(IpNet, SourceSpan)> {
    let mut out = Vec::new();
    for rn in &raw.nodes {
        for a in rn
            .interfaces
            .iter()
            .flat_map(|i| i.addresses.iter())
            .chain(rn.addresses.iter())
            .chain(rn.svis.iter().flat_map(|s| s.addresses.iter()))
        {
            out.push((a.v, a.at));
        }
    }
    out
}

pub(crate) fn addresses(p: &mut Problems, raw: &RawLab) {
    let mut seen: HashMap<IpAddr, SourceSpan> = HashMap::new();
    for (net, at) in all_addresses(raw) {
        if let Some(first) = seen.get(&net.addr()) {
            let problem = p
                .new_problem(
                    "duplicate_address",
                    format!("address {} is assigned twice", net.addr()),
                )
                .label(*first, "first assigned here")
                .label(at, "assigned again here")
                .help("every interface needs its own address");
            p.push(problem);
        } else {
            seen.insert(net.addr(), at);
        }
        if let Some((message, label, help)) = unusable(net) {
            p.error("address", message, at, label, help);
        }
    }
}

/// Why an address cannot be an interface's: the message, the label, maybe a hint.
fn unusable(net: IpNet) -> Option<(String, String, Option<String>)> {
    let addr = net.addr();
    if net.prefix_len() == 0 {
        let example = if addr.is_ipv4() { "/24" } else { "/64" };
        return Some((
            format!("`{net}` has the prefix length /0"),
            "every address there is would be on this link".into(),
            Some(format!(
                "give the subnet's prefix length, such as `{addr}{example}`"
            )),
        ));
    }
    match net {
        IpNet::V4(v4) => unusable_v4(v4),
        IpNet::V6(v6) => unusable_v6(v6.addr()),
    }
}

fn unusable_v4(v4: Ipv4Net) -> Option<(String, String, Option<String>)> {
    let addr = v4.addr();
    let reserved = |range: &str, what: &str| {
        Some((
            format!("{addr} is in {range}, {what}"),
            "not an address a host can have".to_string(),
            None,
        ))
    };
    if addr.is_broadcast() {
        return Some((
            format!("{addr} is the limited broadcast address"),
            "every host on the link receives what is sent here".into(),
            None,
        ));
    }
    if addr.octets()[0] == 0 {
        return reserved("0.0.0.0/8", "\"this network\", a source address only");
    }
    if addr.octets()[0] >= 240 {
        return reserved("240.0.0.0/4", "reserved for future use (class E)");
    }
    if v4.prefix_len() < 31 && (addr == v4.network() || addr == v4.broadcast()) {
        let which = if addr == v4.network() {
            "network"
        } else {
            "broadcast"
        };
        return Some((
            format!("{addr} is the {which} address of {}", v4.trunc()),
            format!("the {which} address cannot be an interface's"),
            Some(hosts_of(v4)),
        ));
    }
    if addr.is_loopback() || addr.is_multicast() {
        return Some(loopback_or_multicast(IpAddr::V4(addr)));
    }
    None
}

fn unusable_v6(addr: Ipv6Addr) -> Option<(String, String, Option<String>)> {
    if let Some(v4) = addr.to_ipv4_mapped() {
        return Some((
            format!("{addr} is an IPv4-mapped IPv6 address"),
            "it stands for an IPv4 address in sockets, never on a link".into(),
            Some(format!("write the IPv4 address itself, such as `{v4}/24`")),
        ));
    }
    if addr.is_loopback() || addr.is_multicast() || addr.is_unspecified() {
        return Some(loopback_or_multicast(IpAddr::V6(addr)));
    }
    None
}

fn loopback_or_multicast(addr: IpAddr) -> (String, String, Option<String>) {
    (
        format!("{addr} cannot be an interface address"),
        "loopback, multicast or unspecified".into(),
        None,
    )
}

/// "hosts in 10.0.0.0/24 go from 10.0.0.1 to 10.0.0.254", for a prefix shorter than /31.
pub(crate) fn hosts_of(v4: Ipv4Net) -> String {
    // Computed, not iterated: a /1 has two billion hosts.
    let first = Ipv4Addr::from(u32::from(v4.network()).saturating_add(1));
    let last = Ipv4Addr::from(u32::from(v4.broadcast()).saturating_sub(1));
    format!("hosts in {} go from {first} to {last}", v4.trunc())
}
