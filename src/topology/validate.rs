//! Second pass: references across the file, addresses that clash, and layer-2 loops.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use miette::SourceSpan;
use petgraph::unionfind::UnionFind;

use super::diag::Problems;
use super::schema::RawLab;
use crate::model::name::closest;
use crate::model::{Interface, Lab, Node, NodeKind, Route};

/// The Linux bridge refuses a 1025th port (BR_MAX_PORTS).
pub const BRIDGE_MAX_PORTS: usize = 1024;

pub fn build(p: &mut Problems, raw: RawLab, lab_name: String) -> Lab {
    let mut lab = Lab {
        name: lab_name,
        nodes: Vec::new(),
        links: Vec::new(),
        taps: Vec::new(),
        checks: Vec::new(),
    };
    for rn in &raw.nodes {
        let mut interfaces: Vec<Interface> = rn
            .interfaces
            .iter()
            .map(|i| Interface {
                name: i.name.v.clone(),
                vlan: i.vlan.clone(),
                addresses: i.addresses.iter().map(|a| a.v).collect(),
                mac: i.mac.clone(),
                mtu: i.mtu,
                at: i.name.at.into(),
            })
            .collect();
        // `eth0.10` without `eth0` declared: the parent exists all the same, unaddressed.
        for i in &rn.interfaces {
            if let Some((parent, _)) = &i.vlan
                && !interfaces.iter().any(|x| &x.name == parent)
            {
                interfaces.push(Interface::plain(parent, i.name.at.into()));
            }
        }
        if matches!(rn.kind, NodeKind::Bridge | NodeKind::Switch)
            && let Some(why) = crate::model::name::ifname_problem(&rn.name.v)
        {
            p.error(
                "name",
                format!(
                    "{} name `{}` cannot name its bridge device",
                    rn.kind.as_str(),
                    rn.name.v
                ),
                rn.name.at,
                why,
                Some("the bridge device is named after the node; choose a shorter name".into()),
            );
        }
        if rn.kind == NodeKind::Bridge {
            let mut device = Interface::plain(&rn.name.v, rn.name.at.into());
            device.addresses = rn.addresses.iter().map(|a| a.v).collect();
            interfaces.push(device);
        }
        for svi in &rn.svis {
            let mut i = Interface::plain(&crate::model::svi_name(svi.vlan.v), svi.vlan.at.into());
            i.addresses = svi.addresses.iter().map(|a| a.v).collect();
            interfaces.push(i);
        }
        lab.nodes.push(Node {
            name: rn.name.v.clone(),
            kind: rn.kind,
            interfaces,
            gateways: rn.gateways.iter().map(|g| g.v).collect(),
            routes: rn
                .routes
                .iter()
                .map(|r| Route {
                    to: r.to.v,
                    via: r.via.v,
                })
                .collect(),
            exec: rn.exec.clone(),
            exec_timeout_ms: rn.exec_timeout,
            stp: rn.stp,
            ports: Vec::new(),
            nat: rn.nat.as_ref().map(|n| crate::model::Nat {
                masquerade: n.masquerade.iter().map(|m| m.v.clone()).collect(),
                publish: n
                    .publish
                    .iter()
                    .map(|r| crate::model::Publish {
                        on: r.on.v.clone(),
                        proto: if r.proto.v == "udp" {
                            crate::model::Proto::Udp
                        } else {
                            crate::model::Proto::Tcp
                        },
                        port: r.port.v,
                        to: r.to.v,
                    })
                    .collect(),
                at: n.at.into(),
            }),
            svis: rn
                .svis
                .iter()
                .map(|s| crate::model::Svi {
                    vlan: s.vlan.v,
                    addresses: s.addresses.iter().map(|a| a.v).collect(),
                })
                .collect(),
            at: rn.name.at.into(),
        });
    }
    super::links::links(p, &raw, &mut lab);
    super::links::nat_interfaces(p, &raw, &lab);
    super::vlan::ports_and_vlans(p, &raw, &mut lab);
    unused_interfaces(p, &raw);
    addresses(p, &raw, &lab);
    next_hops(p, &raw, &lab);
    loops(p, &raw, &lab);
    super::checks::checks(p, &raw, &mut lab);
    lab
}

pub(super) fn resolve_node(
    p: &mut Problems,
    lab: &Lab,
    name: &str,
    at: SourceSpan,
) -> Option<usize> {
    if let Some(i) = lab.node_index(name) {
        return Some(i);
    }
    let help = match closest(name, lab.nodes.iter().map(|n| n.name.as_str())) {
        Some(near) => format!("did you mean `{near}`?"),
        None if lab.nodes.is_empty() => "there are no nodes under `nodes:`".into(),
        None => format!(
            "known nodes: {}",
            lab.nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    p.error(
        "unknown_node",
        format!("unknown node `{name}`"),
        at,
        "not declared under `nodes:`",
        Some(help),
    );
    None
}

fn unused_interfaces(p: &mut Problems, raw: &RawLab) {
    for rn in &raw.nodes {
        for ri in &rn.interfaces {
            // A sub-interface is linked when its parent is.
            let name = ri.vlan.as_ref().map_or(&ri.name.v, |v| &v.0);
            // Judged on the links as written, so a link with a bad other end still counts.
            let linked = raw.links.iter().any(|l| {
                [&l.a, &l.b]
                    .iter()
                    .any(|e| e.node == rn.name.v && &e.iface == name)
            });
            if !linked {
                let problem = p
                    .new_problem(
                        "unlinked_interface",
                        format!(
                            "interface `{}:{}` is not linked to anything",
                            rn.name.v, ri.name.v
                        ),
                    )
                    .label(ri.name.at, "no link ends here; it will not be created")
                    .help(format!(
                        "add a link such as `[{}:{}, OTHER:IFACE]`",
                        rn.name.v, ri.name.v
                    ))
                    .warning();
                p.push(problem);
            }
        }
    }
}

/// Every address with its owner and place, for duplicate and subnet checks.
fn all_addresses(raw: &RawLab) -> Vec<(usize, IpNet, SourceSpan)> {
    let mut out = Vec::new();
    for (ni, rn) in raw.nodes.iter().enumerate() {
        for a in rn
            .interfaces
            .iter()
            .flat_map(|i| i.addresses.iter())
            .chain(rn.addresses.iter())
        {
            out.push((ni, a.v, a.at));
        }
    }
    out
}

fn addresses(p: &mut Problems, raw: &RawLab, _lab: &Lab) {
    let mut seen: HashMap<IpAddr, SourceSpan> = HashMap::new();
    for (_, net, at) in all_addresses(raw) {
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
        if let IpNet::V4(v4) = net
            && v4.prefix_len() < 31
            && (v4.addr() == v4.network() || v4.addr() == v4.broadcast())
        {
            let which = if v4.addr() == v4.network() {
                "network"
            } else {
                "broadcast"
            };
            p.error(
                "address",
                format!("{} is the {which} address of {}", v4.addr(), v4.trunc()),
                at,
                format!("the {which} address cannot be an interface's"),
                Some(format!(
                    "hosts in {} go from {} to {}",
                    v4.trunc(),
                    v4.hosts().next().map(|a| a.to_string()).unwrap_or_default(),
                    v4.hosts().last().map(|a| a.to_string()).unwrap_or_default()
                )),
            );
        }
        if net.addr().is_loopback() || net.addr().is_multicast() || net.addr().is_unspecified() {
            p.error(
                "address",
                format!("{} cannot be an interface address", net.addr()),
                at,
                "loopback, multicast or unspecified",
                None,
            );
        }
    }
}

/// A gateway or route's next hop must sit on a subnet the node is attached to.
fn next_hops(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    for (ni, rn) in raw.nodes.iter().enumerate() {
        let connected: Vec<IpNet> = lab.addresses(ni).collect();
        let mut hops: Vec<(IpAddr, SourceSpan, &str)> =
            rn.gateways.iter().map(|g| (g.v, g.at, "gateway")).collect();
        hops.extend(rn.routes.iter().map(|r| (r.via.v, r.via.at, "next hop")));
        let mut families = HashMap::new();
        for g in &rn.gateways {
            if let Some(first) = families.insert(g.v.is_ipv4(), g.at) {
                let problem = p
                    .new_problem(
                        "gateway",
                        format!(
                            "node `{}` has two IPv{} gateways",
                            rn.name.v,
                            if g.v.is_ipv4() { 4 } else { 6 }
                        ),
                    )
                    .label(first, "first gateway")
                    .label(g.at, "second gateway")
                    .help("a node has one default route per IP version; use `routes:` for others");
                p.push(problem);
            }
        }
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
                        if hop.is_ipv4() { 4 } else { 6 }
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
            }
        }
    }
}

/// Bridges joined in a cycle flood broadcasts forever unless spanning tree breaks the loop.
fn loops(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    let mut uf = UnionFind::<usize>::new(lab.nodes.len());
    for l in &lab.links {
        let (a, b) = (l.a.node, l.b.node);
        let bridged = |n: usize| matches!(lab.nodes[n].kind, NodeKind::Bridge | NodeKind::Switch);
        if !(bridged(a) && bridged(b)) {
            continue;
        }
        if !uf.union(a, b) {
            if lab.nodes[a].stp && lab.nodes[b].stp {
                continue;
            }
            let (na, nb) = (&lab.nodes[a], &lab.nodes[b]);
            let names = if a == b {
                format!("{} `{}` to itself", na.kind.as_str(), na.name)
            } else if na.kind == nb.kind {
                format!(
                    "{} `{}` and `{}`",
                    crate::terminal::plural(2, na.kind.as_str()),
                    na.name,
                    nb.name
                )
            } else {
                format!(
                    "{} `{}` and {} `{}`",
                    na.kind.as_str(),
                    na.name,
                    nb.kind.as_str(),
                    nb.name
                )
            };
            let _ = raw;
            p.error(
                "l2_loop",
                format!("this link closes a layer-2 loop through {names}"),
                SourceSpan::from(l.at),
                "broadcasts would circle this loop forever",
                Some("remove one link of the loop, or set `stp: true` on the bridges in it".into()),
            );
        }
    }
}
