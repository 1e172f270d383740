//! The explanation in words: one line for a table, the hops for `vnet explain`.

use std::net::IpAddr;

use super::l2::Missed;
use super::world::World;
use super::{Explanation, Hop, Packet};
use crate::apply::live::{Route, RouteKind, Space};
use crate::model::{NodeKind, svi_name};

/// A route as `ip route` prints it.
pub(crate) fn route(space: &Space, r: &Route) -> String {
    let to = if r.to.prefix_len() == 0 {
        "default".to_owned()
    } else {
        r.to.to_string()
    };
    let kind = match r.kind {
        RouteKind::Unicast => "",
        RouteKind::Blackhole => "blackhole ",
        RouteKind::Unreachable => "unreachable ",
        RouteKind::Prohibit => "prohibit ",
    };
    let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
    let dev = r
        .dev
        .map(|d| format!(" dev {}", space.name_of(d)))
        .unwrap_or_default();
    format!("{kind}{to}{via}{dev}")
}

/// Why no node on the segment took the packet for `next`: the break on the way the file's
/// lab would take (or the first one), or that nobody there has the address.
pub(crate) fn missed(
    w: &World,
    node: usize,
    out: &str,
    next: IpAddr,
    route: &Route,
    p: &Packet,
    m: &Missed,
) -> String {
    let lab = w.lab;
    let name = &lab.nodes[node].name;
    if !m.breaks.is_empty() {
        // The way the file's own lab reaches the address says which break is on the path.
        let planned = World::planned(lab);
        let on_path: Vec<usize> = match super::l2::owner(&planned, node, out, next, p.src, false) {
            Ok(o) => {
                let mut v = vec![node, o.node];
                v.extend(o.through);
                v
            }
            Err(_) => Vec::new(),
        };
        let chosen = m.breaks.iter().find(|(n, _, _)| on_path.contains(n));
        // A bridge that sent the frame the wrong way is the news when nothing on the way broke.
        if let Some(steered) = deepest(m)
            && chosen.is_none()
        {
            return steered.to_owned();
        }
        return chosen.unwrap_or(&m.breaks[0]).2.clone();
    }
    if let Some(steered) = deepest(m) {
        return format!("{steered}; no node that way has {next}");
    }
    let role = match route.via {
        Some(_) if route.to.prefix_len() == 0 => format!("{name}'s gateway"),
        Some(_) => format!("{name}'s next hop to {}", p.dst),
        None => "the destination".to_owned(),
    };
    let mut text = format!("no node on {name}:{out}'s segment has {next} ({role})");
    // What the sender's own cache says: its ARP (or NDP) asked and got no answer.
    if let Ok(space) = w.space(node)
        && let Some(n) = space
            .neighbours
            .iter()
            .find(|n| n.ip == next && space.dev_at(n.dev).is_some_and(|d| d.name == out))
        && matches!(n.state.as_str(), "failed" | "incomplete")
    {
        text.push_str(&format!(
            " ({name}'s neighbour entry for {next} is {})",
            n.state.to_uppercase()
        ));
    }
    if let Some(o) = lab.owner(next) {
        let theirs = vlan_of(w, o, next);
        let mine: Vec<u16> = m.vlans.iter().map(|(_, v)| *v).collect();
        match theirs {
            Some(t) if !mine.is_empty() && !mine.contains(&t.vid) => {
                // A port the kernel has in other VLANs than the file is the likely cause.
                let theirs_port = t.port.clone().map(|p| (t.switch, p));
                let drift = [switch_port(w, node, out), theirs_port]
                    .into_iter()
                    .flatten()
                    .map(|(sw, port)| w.vlans_drift(sw, &port))
                    .collect::<String>();
                text = format!(
                    "{name} and {} are in different VLANs: {name}:{out}'s frames are in VLAN {} of {}, {}:{} is in VLAN {} of {}{drift}",
                    lab.nodes[o].name,
                    mine[0],
                    lab.nodes[m.vlans[0].0].name,
                    lab.nodes[o].name,
                    t.iface,
                    t.vid,
                    lab.nodes[t.switch].name
                );
            }
            _ => text.push_str(&format!(
                "; {} has it, on another segment",
                lab.nodes[o].name
            )),
        }
    }
    text
}

/// The forwarding entry that sent the frame the wrong way: the deepest on its way (each one
/// before it led on toward the destination).
fn deepest(m: &Missed) -> Option<&str> {
    m.steered
        .iter()
        .max_by_key(|(depth, ..)| *depth)
        .map(|(.., why)| why.as_str())
}

/// The switch and its port at the other end of `node:iface`'s link, if a switch is there.
fn switch_port(w: &World, node: usize, iface: &str) -> Option<(usize, String)> {
    w.lab.links.iter().find_map(|l| {
        let peer = if l.a.node == node && l.a.iface == iface {
            &l.b
        } else if l.b.node == node && l.b.iface == iface {
            &l.a
        } else {
            return None;
        };
        (w.lab.nodes[peer.node].kind == NodeKind::Switch).then(|| (peer.node, peer.iface.clone()))
    })
}

/// Where an address's interface meets a switch: the interface, the switch and its port (none
/// for the switch's own SVI), and the VLAN its frames are in there.
struct InVlan {
    iface: String,
    switch: usize,
    port: Option<String>,
    vid: u16,
}

/// The interface of `node` holding `addr`, and the switch port it is plugged in and its VLAN
/// (or the switch's own SVI and its VLAN).
fn vlan_of(w: &World, node: usize, addr: IpAddr) -> Option<InVlan> {
    let n = &w.lab.nodes[node];
    if let Some(svi) = n
        .svis
        .iter()
        .find(|s| s.addresses.iter().any(|a| a.addr() == addr))
    {
        return Some(InVlan {
            iface: svi_name(svi.vlan),
            switch: node,
            port: None,
            vid: svi.vlan,
        });
    }
    let f = n
        .interfaces
        .iter()
        .find(|f| f.addresses.iter().any(|a| a.addr() == addr))?;
    let (wire, tag) = match &f.vlan {
        Some((p, v)) => (p.clone(), Some(*v)),
        None => (f.name.clone(), None),
    };
    let (switch, port) = switch_port(w, node, &wire)?;
    let vid = tag.or(w.port_mode(switch, &port).untagged())?;
    Some(InVlan {
        iface: f.name.clone(),
        switch,
        port: Some(port),
        vid,
    })
}

fn path(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| h.node.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// One line: `arrives: pc1 → r1 → srv (2 hops)` or `stops at gw: link gw:wan is down`.
pub(crate) fn line(e: &Explanation) -> String {
    let n = e.there.len().saturating_sub(1);
    let mut text = match &e.stop {
        None => format!(
            "arrives: {} ({n} hop{})",
            path(&e.there),
            if n == 1 { "" } else { "s" }
        ),
        Some(s) => {
            let way = if s.back { "the reply " } else { "" };
            format!("{way}stops at {}: {}", s.node, s.reason)
        }
    };
    if e.stop.is_some() && !e.notes.is_empty() {
        text.push_str(&format!(" ({})", e.notes.join("; ")));
    }
    text
}

/// Every hop, there and back, then the verdict.
pub(crate) fn text(e: &Explanation) -> String {
    let port = e
        .port
        .map(|p| format!(" {} port {p}", e.proto.as_str()))
        .unwrap_or_default();
    let source = if e.source == "kernel" {
        "as the running kernel has it"
    } else {
        "as the file builds it (the lab is not running)"
    };
    let to = if e.to == e.address.to_string() {
        e.to.clone()
    } else {
        format!("{} ({})", e.to, e.address)
    };
    let mut out = vec![format!("{} → {to}{port}, {source}", e.from)];
    let show = |out: &mut Vec<String>, hops: &[Hop]| {
        for h in hops {
            let mut parts = Vec::new();
            if let Some(i) = &h.came_in {
                parts.push(format!("in {i}"));
            }
            match (&h.out, h.via) {
                (Some(o), Some(v)) => parts.push(format!("out {o} via {v}")),
                (Some(o), None) => parts.push(format!("out {o}")),
                (None, _) => {}
            }
            if !h.through.is_empty() {
                parts.push(format!("through {}", h.through.join(", ")));
            }
            if let Some(n) = &h.note {
                parts.push(n.clone());
            }
            out.push(
                format!("  {:<12} {}", h.node, parts.join(", "))
                    .trim_end()
                    .to_owned(),
            );
        }
    };
    show(&mut out, &e.there);
    let translated = e.there.iter().any(|h| h.note.is_some());
    if let (Some(s), Some(last), true) = (e.seen_as, e.there.last(), translated) {
        out.push(format!("  {} sees the packet come from {s}", last.node));
    }
    if !e.back.is_empty() {
        out.push("  the reply:".to_owned());
        show(&mut out, &e.back);
    }
    for n in &e.notes {
        out.push(format!("  note: {n}"));
    }
    out.push(line(e));
    out.join("\n")
}
