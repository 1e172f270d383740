//! Gateways and routes: every next hop a neighbour on a connected subnet, one default route
//! per IP version, no route the kernel makes by itself; and the routes on `host` that would
//! take over the machine's own traffic, which `up` makes only when allowed.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use miette::SourceSpan;

use super::addresses::hosts_of;
use super::diag::{Problem, Problems};
use super::schema::{RawLab, RawNode};
use crate::model::{Lab, MACHINE};

/// Routes on the machine with a prefix shorter than this (IPv4, IPv6) outrank its default
/// route for most of the address space: `0.0.0.0/1` + `128.0.0.0/1` replace it in effect.
pub(crate) const MACHINE_MIN_PREFIX: (u8, u8) = (8, 16);

pub(crate) fn routes(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    for (ni, rn) in raw.nodes.iter().enumerate() {
        let connected: Vec<IpNet> = lab.addresses(ni).collect();
        next_hops(p, rn, &connected);
        defaults(p, rn);
        connected_routes(p, rn, &connected);
    }
}

fn family(v4: bool) -> u8 {
    if v4 { 4 } else { 6 }
}

/// A gateway or route's next hop must be a neighbour: on a subnet the node is attached to,
/// and neither the node itself nor the subnet's network or broadcast address.
fn next_hops(p: &mut Problems, rn: &RawNode, connected: &[IpNet]) {
    let mut hops: Vec<(IpAddr, SourceSpan, &str)> =
        rn.gateways.iter().map(|g| (g.v, g.at, "gateway")).collect();
    hops.extend(rn.routes.iter().map(|r| (r.via.v, r.via.at, "next hop")));
    for (hop, at, what) in hops {
        if connected.iter().any(|n| n.addr() == hop) {
            p.error(
                "gateway",
                format!("{what} {hop} is `{}`'s own address", rn.name.v),
                at,
                "a node cannot route through itself",
                None,
            );
        } else if !connected.iter().any(|n| n.contains(&hop)) {
            let nets: Vec<String> = connected
                .iter()
                .filter(|n| n.addr().is_ipv4() == hop.is_ipv4())
                .map(|n| n.trunc().to_string())
                .collect();
            let help = if nets.is_empty() {
                format!(
                    "`{}` has no IPv{} address, so nothing is reachable directly",
                    rn.name.v,
                    family(hop.is_ipv4())
                )
            } else {
                format!("`{}` is attached to {}", rn.name.v, nets.join(", "))
            };
            p.error(
                "gateway",
                format!("{what} {hop} is not on a subnet of `{}`", rn.name.v),
                at,
                "not directly reachable",
                Some(help),
            );
        } else if let Some((which, net)) = special_address(connected, hop) {
            p.error(
                "gateway",
                format!("{what} {hop} is the {which} address of {}", net.trunc()),
                at,
                "no neighbour can have this address",
                Some(hosts_of(net)),
            );
        }
    }
}

/// The connected IPv4 subnet whose network or broadcast address `hop` is.
fn special_address(connected: &[IpNet], hop: IpAddr) -> Option<(&'static str, ipnet::Ipv4Net)> {
    let IpAddr::V4(hop) = hop else { return None };
    connected.iter().find_map(|n| match n {
        IpNet::V4(net) if net.prefix_len() < 31 && net.contains(&hop) => {
            if hop == net.network() {
                Some(("network", *net))
            } else if hop == net.broadcast() {
                Some(("broadcast", *net))
            } else {
                None
            }
        }
        _ => None,
    })
}

/// One default route per IP version, however it is written: `gateway:`, `{to: default}`,
/// `{to: 0.0.0.0/0}`. The kernel refuses the second (EEXIST) after the lab is half built.
fn defaults(p: &mut Problems, rn: &RawNode) {
    let mut first: HashMap<bool, (SourceSpan, &str)> = HashMap::new();
    for g in &rn.gateways {
        if let Some((at, _)) = first.get(&g.v.is_ipv4()) {
            let problem = p
                .new_problem(
                    "gateway",
                    format!(
                        "node `{}` has two IPv{} gateways",
                        rn.name.v,
                        family(g.v.is_ipv4())
                    ),
                )
                .label(*at, "first gateway")
                .label(g.at, "second gateway")
                .help("a node has one default route per IP version; use `routes:` for others");
            p.push(problem);
        } else {
            first.insert(g.v.is_ipv4(), (g.at, "the gateway: a default route"));
        }
    }
    for r in rn.routes.iter().filter(|r| r.to.v.prefix_len() == 0) {
        let v4 = r.to.v.addr().is_ipv4();
        match first.get(&v4) {
            Some((at, what)) => {
                let problem = p
                    .new_problem(
                        "default_route",
                        format!(
                            "node `{}` has two IPv{} default routes",
                            rn.name.v,
                            family(v4)
                        ),
                    )
                    .label(*at, *what)
                    .label(r.to.at, "a second default route")
                    .help("a node has one default route per IP version: keep one of them");
                p.push(problem);
            }
            None => {
                first.insert(v4, (r.to.at, "the first default route"));
            }
        }
    }
}

/// A route to a subnet the node is on is the kernel's own (made with the address), so
/// `ip route add` of it fails with EEXIST, or (IPv6) adds a route the kernel's outranks.
fn connected_routes(p: &mut Problems, rn: &RawNode, connected: &[IpNet]) {
    for r in rn.routes.iter().filter(|r| r.to.v.prefix_len() > 0) {
        if !connected.iter().any(|n| n.trunc() == r.to.v) {
            continue;
        }
        let on = rn
            .interfaces
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.v.trunc() == r.to.v))
            .map_or_else(
                || "the kernel routes it from the node's own address".to_string(),
                |i| format!("the kernel routes it from the address of `{}`", i.name.v),
            );
        p.error(
            "route",
            format!("`{}` is already on {}", rn.name.v, r.to.v),
            r.to.at,
            on,
            Some("remove this route: a connected subnet is reached directly".into()),
        );
    }
}

/// Routes on `host` that would take over the machine's own traffic: a default route, or one
/// shorter than [`MACHINE_MIN_PREFIX`]. Not errors: `up` makes them with
/// `--allow-machine-routes`, refuses them without, and `validate` notes them.
pub(crate) fn machine_routes(p: &Problems, raw: &RawLab) -> Vec<Problem> {
    let Some(host) = raw.nodes.iter().find(|n| n.name.v == MACHINE) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &host.routes {
        let v4 = r.to.v.addr().is_ipv4();
        let min = if v4 {
            MACHINE_MIN_PREFIX.0
        } else {
            MACHINE_MIN_PREFIX.1
        };
        let len = r.to.v.prefix_len();
        if len >= min {
            continue;
        }
        let (message, label) = if len == 0 {
            (
                format!(
                    "a default route on `host` replaces the machine's own IPv{} default route",
                    family(v4)
                ),
                "the machine's traffic would go into the lab".to_string(),
            )
        } else {
            (
                format!(
                    "the route to {} on `host` takes over the machine's default route in effect",
                    r.to.v
                ),
                format!("shorter than /{min}: it outranks the default route wherever it applies"),
            )
        };
        out.push(
            p.new_problem("machine_route", message)
                .label(r.to.at, label)
                .help("add `--allow-machine-routes` if that is what you want; the route goes when `vnet down` removes the lab's links"),
        );
    }
    out
}
