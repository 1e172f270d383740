//! Layer 3: a packet from node to node as each namespace's routes, forwarding, NAT and
//! isolation send it, until it is delivered or stops; then its reply, back.

use std::net::IpAddr;

use super::l2;
use super::world::World;
use super::{Hop, Packet, Stop};
use crate::apply::live::{Route, RouteKind, Space};
use crate::model::Proto;

const FILTER_TABLE: &str = "inet vnet_filter";
/// More routers than any lab has: past it the routes send the packet round in a loop.
const MAX_HOPS: usize = 64;

/// An address translation done on the way there, undone for the reply (conntrack).
#[derive(Debug, Clone)]
pub(super) enum Nat {
    /// The source `from` left `node` as `to`.
    Source {
        node: usize,
        from: IpAddr,
        to: IpAddr,
    },
    /// The destination `from` (a published port) was sent on to `to`.
    Destination {
        node: usize,
        from: IpAddr,
        to: IpAddr,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    There,
    Back,
}

/// Where the packet was delivered, and what it looked like there.
pub(super) struct Arrived {
    pub node: usize,
    pub hops: Vec<Hop>,
    pub packet: Packet,
}

pub(super) fn walk(
    w: &World,
    start: usize,
    mut p: Packet,
    dir: Dir,
    nats: &mut Vec<Nat>,
    notes: &mut Vec<String>,
) -> Result<Arrived, (Vec<Hop>, Stop)> {
    let lab = w.lab;
    let mut hops: Vec<Hop> = Vec::new();
    let (mut node, mut came_in): (usize, Option<String>) = (start, None);
    for _ in 0..MAX_HOPS {
        let name = lab.nodes[node].name.clone();
        let mut hop = Hop {
            node: name.clone(),
            came_in: came_in.clone(),
            ..Hop::default()
        };
        let stop = |hops: &mut Vec<Hop>, hop: Hop, reason: String| {
            hops.push(hop);
            Err((
                std::mem::take(hops),
                Stop {
                    node: lab.nodes[node].name.clone(),
                    back: dir == Dir::Back,
                    reason,
                },
            ))
        };
        let space = match w.space(node) {
            Ok(s) => s,
            Err(e) => return stop(&mut hops, hop, e),
        };
        let nat_table = w.nat_table(node);
        let has_nat_table = tables_have(&space, &nat_table);
        if dir == Dir::Back {
            for n in nats.iter().filter(|n| nat_node(n) == node) {
                match *n {
                    Nat::Source { from, to, .. } if p.dst == to => p.dst = from,
                    Nat::Destination { from, to, .. } if p.src == to => p.src = from,
                    _ => {}
                }
            }
        } else if came_in.is_some()
            && let Some(to) = published(w, node, &p)
        {
            if has_nat_table {
                hop.note = Some(format!("{name} forwards {} to {to}", p.dst));
                nats.push(Nat::Destination {
                    node,
                    from: p.dst,
                    to: to.ip(),
                });
                p.dst = to.ip();
                p.port = Some(to.port());
            } else {
                notes.push(format!(
                    "{name} publishes {} in the file, but its table {nat_table} is gone",
                    p.dst
                ));
            }
        }
        if space.has(p.dst) {
            // To itself: the kernel sends from the address it sends to.
            if p.src.is_unspecified() {
                p.src = p.dst;
            }
            hops.push(hop);
            return Ok(Arrived {
                node,
                hops,
                packet: p,
            });
        }
        let v4 = p.dst.is_ipv4();
        if came_in.is_some() && space.forwards(v4) == Some(false) {
            let key = if v4 {
                "net.ipv4.ip_forward"
            } else {
                "net.ipv6.conf.all.forwarding"
            };
            let reason = format!("{name} does not forward ({key} = 0)");
            return stop(&mut hops, hop, reason);
        }
        let Some(route) = lookup(&space, p.dst) else {
            let reason = no_route(w, node, &space, p.dst, dir);
            return stop(&mut hops, hop, reason);
        };
        match route.kind {
            RouteKind::Unicast => {}
            k => {
                let what = match k {
                    RouteKind::Blackhole => "blackhole",
                    RouteKind::Unreachable => "unreachable",
                    _ => "prohibit",
                };
                let reason = format!(
                    "{name} drops packets to {}: route {what} {}",
                    p.dst, route.to
                );
                return stop(&mut hops, hop, reason);
            }
        }
        let Some(out) = route.dev.map(|d| space.name_of(d)) else {
            let reason = format!("{name}'s route to {} names no interface", route.to);
            return stop(&mut hops, hop, reason);
        };
        if let Some(inside) = &came_in
            && isolated(w, node, inside, &out)
            && tables_have(&space, FILTER_TABLE)
        {
            let reason =
                format!("{name} isolates {inside} from {out} (`isolate:`, table {FILTER_TABLE})");
            return stop(&mut hops, hop, reason);
        }
        if p.src.is_unspecified() {
            p.src = source(&space, route.dev, v4).unwrap_or(p.src);
        }
        if came_in.is_some() && v4 && masquerades(w, node, &out) {
            if has_nat_table {
                if let Some(to) = source(&space, route.dev, true).filter(|a| *a != p.src) {
                    hop.note = Some(format!("{name} masquerades: {} leaves as {to}", p.src));
                    nats.push(Nat::Source {
                        node,
                        from: p.src,
                        to,
                    });
                    p.src = to;
                }
            } else {
                notes.push(format!(
                    "{name} masquerades out of {out} in the file, but its table {nat_table} is gone, so {} leaves untranslated",
                    p.src
                ));
            }
        }
        let next = route.via.unwrap_or(p.dst);
        hop.out = Some(out.clone());
        hop.via = route.via;
        match l2::owner(w, node, &out, next, p.src, dir == Dir::Back) {
            Ok(o) => {
                hop.through = o
                    .through
                    .iter()
                    .map(|&b| lab.nodes[b].name.clone())
                    .collect();
                hops.push(hop);
                node = o.node;
                came_in = Some(o.iface);
            }
            Err(missed) => {
                let reason = super::words::missed(w, node, &out, next, route, &p, &missed);
                return stop(&mut hops, hop, reason);
            }
        }
    }
    let reason = format!("the packet loops: more than {MAX_HOPS} routers on the way");
    Err((
        hops,
        Stop {
            node: lab.nodes[node].name.clone(),
            back: dir == Dir::Back,
            reason,
        },
    ))
}

fn nat_node(n: &Nat) -> usize {
    match n {
        Nat::Source { node, .. } | Nat::Destination { node, .. } => *node,
    }
}

/// Tables are known only where vnet put some; elsewhere (or without `nft`) they count as there.
fn tables_have(space: &Space, table: &str) -> bool {
    space
        .tables
        .as_ref()
        .is_none_or(|t| t.iter().any(|x| x == table))
}

/// The longest prefix of the main table that holds the address.
pub(super) fn lookup(space: &Space, dst: IpAddr) -> Option<&Route> {
    // Of routes of one length the kernel takes the first it holds (two interfaces on one
    // subnet: the first one's), so the first of the longest, not the last.
    space
        .routes
        .iter()
        .filter(|r| r.to.contains(&dst))
        .fold(None, |best: Option<&Route>, r| match best {
            Some(b) if b.to.prefix_len() >= r.to.prefix_len() => Some(b),
            _ => Some(r),
        })
}

/// The address a packet leaving through `dev` is sent from: that device's, or any of the
/// namespace's of that IP version.
fn source(space: &Space, dev: Option<u32>, v4: bool) -> Option<IpAddr> {
    let fits = |a: &ipnet::IpNet| a.addr().is_ipv4() == v4 && !a.addr().is_loopback();
    space
        .addrs
        .iter()
        .find(|(i, a)| Some(*i) == dev && fits(a))
        .or_else(|| space.addrs.iter().find(|(_, a)| fits(a)))
        .map(|(_, a)| a.addr())
}

/// Where a published port sends the packet, if it is for one of this router's.
fn published(w: &World, node: usize, p: &Packet) -> Option<std::net::SocketAddr> {
    let nat = w.lab.nodes[node].nat.as_ref()?;
    let port = p.port?;
    nat.publish.iter().find_map(|pb| {
        let on = w.lab.nodes[node]
            .interfaces
            .iter()
            .find(|f| f.name == pb.on)?;
        (pb.proto == p.proto
            && pb.port == port
            && p.proto != Proto::Icmp
            && on.addresses.iter().any(|a| a.addr() == p.dst))
        .then_some(pb.to)
    })
}

fn masquerades(w: &World, node: usize, out: &str) -> bool {
    w.lab.nodes[node]
        .nat
        .as_ref()
        .is_some_and(|n| n.masquerade.iter().any(|m| m == out))
}

fn isolated(w: &World, node: usize, a: &str, b: &str) -> bool {
    let iso = &w.lab.nodes[node].isolate;
    a != b && iso.iter().any(|x| x == a) && iso.iter().any(|x| x == b)
}

/// Why a node has no route: the interface the file's route uses is down or gone, or the
/// route itself is missing.
fn no_route(w: &World, node: usize, space: &Space, dst: IpAddr, dir: Dir) -> String {
    let name = &w.lab.nodes[node].name;
    let back = if dir == Dir::Back { " back" } else { "" };
    let listed: Vec<String> = space
        .routes
        .iter()
        .filter(|r| r.to.addr().is_ipv4() == dst.is_ipv4())
        .take(6)
        .map(|r| super::words::route(space, r))
        .collect();
    let routes = if listed.is_empty() {
        "it has none".to_owned()
    } else {
        format!("its routes: {}", listed.join(", "))
    };
    let mut reason = format!("{name} has no route{back} to {dst} ({routes})");
    if let Some(exp) = w.expected(node)
        && let Some(r) = lookup(exp, dst)
    {
        let dev = r.dev.map(|d| exp.name_of(d)).unwrap_or_default();
        match space.dev(&dev) {
            None => {
                reason = format!(
                    "interface {name}:{dev} is gone, and with it {name}'s route{back} to {dst}"
                )
            }
            Some(d) if !d.admin_up => {
                reason = format!("link {name}:{dev} is down, so {name} has no route{back} to {dst}")
            }
            Some(_) => {
                reason.push_str(&format!("; vnet set up {}", super::words::route(exp, r)));
            }
        }
    }
    reason
}
