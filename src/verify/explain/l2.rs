//! Layer 2: which node on an interface's segment owns an address, following the lab's links
//! through bridges and switches (and their VLANs), and checking each link and port on the way
//! in the snapshot. A port spanning tree blocks is a path not taken, not a break.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::world::World;
use crate::apply::live::{Dev, PortState};
use crate::model::{LinkKind, NodeKind, PortMode, svi_name};
use crate::verify::membership;

/// The nftables table of a switch's port security (`allow:`).
pub(super) const SECURITY_TABLE: &str = "bridge vnet";

/// Where the address was found: the node (whose namespace holds it) and its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Owner {
    pub node: usize,
    pub iface: String,
    /// The bridges and switches crossed on the way.
    pub through: Vec<usize>,
}

/// Why no owner was found: each thing broken on the way, and the switch VLANs the frame was in.
#[derive(Debug, Default)]
pub(crate) struct Missed {
    /// (node, interface, what is wrong).
    pub breaks: Vec<(usize, String, String)>,
    pub vlans: Vec<(usize, u16)>,
    /// Where a bridge's forwarding table sent the frame out of one port only: how many
    /// bridges the frame had crossed there, the bridge, the port, and the reason, said when
    /// nothing on the way broke (the deepest is the one that sent it the wrong way: those
    /// before it led toward the destination).
    pub steered: Vec<(usize, usize, String, String)>,
}

/// A frame leaving `node` through `iface`, tagged or not, having crossed `through`.
struct Wire {
    node: usize,
    iface: String,
    tag: Option<u16>,
    through: Vec<usize>,
}

/// The owner of `addr` on the segment `node:out` sends to, for a packet from `src`; `reply`
/// when it answers a packet that came the other way.
pub(super) fn owner(
    w: &World,
    node: usize,
    out: &str,
    addr: IpAddr,
    src: IpAddr,
    reply: bool,
) -> Result<Owner, Missed> {
    let mut peers = HashMap::new();
    let mut parents = HashSet::new();
    for l in &w.lab.links {
        if matches!(l.kind, LinkKind::Macvlan { .. }) {
            parents.insert(l.b.node);
            continue;
        }
        peers.insert(
            (l.a.node, l.a.iface.as_str()),
            (l.b.node, l.b.iface.as_str()),
        );
        peers.insert(
            (l.b.node, l.b.iface.as_str()),
            (l.a.node, l.a.iface.as_str()),
        );
    }
    let mut s = Search {
        w,
        addr,
        src,
        mac: mac_of(w, node, out),
        target: target(w, addr),
        pinned_only: reply || !knows(w, node, out, addr),
        peers,
        parents,
        queue: Vec::new(),
        seen: HashSet::new(),
        missed: Missed::default(),
        found: None,
    };
    s.start(node, out);
    while let Some(wire) = s.queue.pop() {
        if s.found.is_some() {
            break;
        }
        s.wire(wire);
    }
    s.found.ok_or(s.missed)
}

/// The MAC the file gives an interface (a sub-interface has its parent's).
fn mac_of(w: &World, node: usize, iface: &str) -> Option<String> {
    let ifaces = &w.lab.nodes[node].interfaces;
    let f = ifaces.iter().find(|f| f.name == iface)?;
    f.mac.clone().or_else(|| {
        let (parent, _) = f.vlan.as_ref()?;
        ifaces.iter().find(|g| &g.name == parent)?.mac.clone()
    })
}

/// The MAC of the interface that has `addr` in the running lab, and its `node:iface`: what a
/// bridge's forwarding table is looked up by. Unknown offline (the kernel chooses MACs).
fn target(w: &World, addr: IpAddr) -> Option<(String, String)> {
    if !w.live {
        return None;
    }
    let node = w.lab.owner(addr)?;
    let space = w.space(node).ok()?;
    let dev = space.holder(addr)?;
    Some((
        dev.mac.clone()?,
        format!("{}:{}", w.lab.nodes[node].name, dev.name),
    ))
}

/// Whether `node`'s neighbour cache has `addr` on `out` in a state it sends to without asking
/// first (`ip neigh`: REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP).
fn knows(w: &World, node: usize, out: &str, addr: IpAddr) -> bool {
    let Ok(space) = w.space(node) else {
        return false;
    };
    space.neighbours.iter().any(|n| {
        n.ip == addr
            && space.dev_at(n.dev).is_some_and(|d| d.name == out)
            && matches!(
                n.state.as_str(),
                "reachable" | "stale" | "delay" | "probe" | "permanent" | "noarp"
            )
    })
}

struct Search<'w, 'a> {
    w: &'w World<'a>,
    addr: IpAddr,
    /// The destination's MAC and `node:iface`, when known.
    target: Option<(String, String)>,
    /// Only sticky forwarding entries steer the frame. Any other entry follows the MAC: when
    /// the sender must first ask for it (ARP, NDP), the answer teaches every bridge on the way
    /// where it is, and a reply's destination has just sent the packet it answers.
    pinned_only: bool,
    /// The packet's source, and the MAC its frames carry: what port security checks.
    src: IpAddr,
    mac: Option<String>,
    /// The other end of each link's end, and the nodes that are macvlan parents: asked once
    /// per port, so looked up rather than searched (a bridge may have a thousand ports).
    peers: HashMap<(usize, &'a str), (usize, &'a str)>,
    parents: HashSet<usize>,
    queue: Vec<Wire>,
    seen: HashSet<(usize, String, Option<u16>)>,
    missed: Missed,
    found: Option<Owner>,
}

impl<'a> Search<'_, 'a> {
    fn lab(&self) -> &'a crate::model::Lab {
        self.w.lab
    }

    fn start(&mut self, node: usize, out: &str) {
        let lab = self.lab();
        if let Some(b) = lab.bridges_inside(node).find(|&b| lab.nodes[b].name == out) {
            self.flood(b, None, None, vec![b]);
            return;
        }
        let n = &lab.nodes[node];
        if n.kind == NodeKind::Switch
            && let Some(svi) = n.svis.iter().find(|s| svi_name(s.vlan) == out)
        {
            let vid = svi.vlan;
            self.switch(node, vid, None, vec![node]);
            return;
        }
        if let Some((parent, vid)) = n
            .interfaces
            .iter()
            .find(|f| f.name == out)
            .and_then(|f| f.vlan.clone())
        {
            self.push(node, parent, Some(vid), Vec::new());
            return;
        }
        // A macvlan child sends out of its parent's wire, and its siblings hear it.
        let parent = lab.links.iter().find_map(|l| match l.kind {
            LinkKind::Macvlan { .. } if l.a.node == node && l.a.iface == out => Some(l.b.clone()),
            _ => None,
        });
        if let Some(p) = parent {
            for c in self.children(p.node, &p.iface) {
                if c != (node, out.to_owned()) {
                    self.candidate(c.0, &c.1, &[]);
                }
            }
            self.push(p.node, p.iface, None, Vec::new());
            return;
        }
        self.push(node, out.to_owned(), None, Vec::new());
    }

    fn push(&mut self, node: usize, iface: String, tag: Option<u16>, through: Vec<usize>) {
        if self.seen.insert((node, iface.clone(), tag)) {
            self.queue.push(Wire {
                node,
                iface,
                tag,
                through,
            });
        }
    }

    /// The macvlan children of a parent interface.
    fn children(&self, node: usize, iface: &str) -> Vec<(usize, String)> {
        self.lab()
            .links
            .iter()
            .filter(|l| {
                matches!(l.kind, LinkKind::Macvlan { .. }) && l.b.node == node && l.b.iface == iface
            })
            .map(|l| (l.a.node, l.a.iface.clone()))
            .collect()
    }

    /// The other end of the link that ends at `node:iface`.
    fn peer(&self, node: usize, iface: &str) -> Option<(usize, String)> {
        self.peers
            .get(&(node, iface))
            .map(|(n, i)| (*n, (*i).to_owned()))
    }

    /// Whether a frame for the address could matter past this end: bridges and switches
    /// lead on; any other node only if the file gives it the address (so a flood over a
    /// thousand ports reads only the namespaces that count).
    fn worth(&self, node: usize) -> bool {
        let lab = self.lab();
        matches!(lab.nodes[node].kind, NodeKind::Bridge | NodeKind::Switch)
            || lab.addresses(node).any(|a| a.addr() == self.addr)
            || self.parents.contains(&node)
    }

    fn wire(&mut self, wire: Wire) {
        let Some((pn, pif)) = self.peer(wire.node, &wire.iface) else {
            return;
        };
        if !self.worth(pn) {
            return;
        }
        let here = self.dev(wire.node, &wire.iface, wire.tag);
        let there = self.dev(pn, &pif, wire.tag);
        let name = |n: usize, i: &str| format!("{}:{}", self.lab().nodes[n].name, i);
        // A namespace gone takes its veth ends with it: that, not the missing end, is the news.
        let gone = self.w.space(pn).err();
        let broken = match (&here, &there) {
            _ if gone.is_some() => Some((pn, pif.clone(), gone.unwrap_or_default())),
            (Err(e), _) => Some((wire.node, wire.iface.clone(), e.clone())),
            (_, Err(e)) => Some((pn, pif.clone(), e.clone())),
            // An emulated trunk's VLAN rides a veth of its own (`t1.20`): that is the one named.
            (Ok(a), _) if !a.admin_up => Some((
                wire.node,
                wire.iface.clone(),
                format!("link {} is down", name(wire.node, &a.name)),
            )),
            (_, Ok(b)) if !b.admin_up => Some((
                pn,
                pif.clone(),
                format!("link {} is down", name(pn, &b.name)),
            )),
            (Ok(a), Ok(b)) if !a.carrier || !b.carrier => Some((
                wire.node,
                wire.iface.clone(),
                format!(
                    "link {} – {} has no carrier",
                    name(wire.node, &a.name),
                    name(pn, &b.name)
                ),
            )),
            _ => None,
        };
        if let Some(b) = broken {
            self.missed.breaks.push(b);
            return;
        }
        let port = there.ok().and_then(|d| d.port);
        self.arrive(pn, &pif, wire.tag, port, wire.through);
    }

    /// The device of `node:iface` carrying frames of `tag` (an emulated trunk carries each
    /// VLAN on its own `iface.VID`), or what is wrong with it.
    fn dev(&self, node: usize, iface: &str, tag: Option<u16>) -> Result<Dev, String> {
        let tagged = match tag {
            Some(v) => self.w.dev(node, &format!("{iface}.{v}"))?,
            None => None,
        };
        match tagged {
            Some(d) => Some(d),
            None => self.w.dev(node, iface)?,
        }
        .ok_or_else(|| format!("interface {}:{iface} is gone", self.lab().nodes[node].name))
    }

    fn arrive(
        &mut self,
        node: usize,
        iface: &str,
        tag: Option<u16>,
        port: Option<PortState>,
        mut through: Vec<usize>,
    ) {
        let kind = self.lab().nodes[node].kind;
        let name = format!("{}:{iface}", self.lab().nodes[node].name);
        match kind {
            NodeKind::Bridge | NodeKind::Switch => {
                match port {
                    Some(PortState::Blocking) => return,
                    Some(PortState::Disabled) => {
                        self.missed.breaks.push((
                            node,
                            iface.to_owned(),
                            format!("bridge port {name} is disabled"),
                        ));
                        return;
                    }
                    _ => {}
                }
                if let Some(why) = self.secured(node, iface) {
                    self.missed.breaks.push((node, iface.to_owned(), why));
                    return;
                }
                through.push(node);
                if kind == NodeKind::Bridge {
                    self.flood(node, Some(iface), tag, through);
                    return;
                }
                let mode = self.mode(node, iface);
                let vid = match tag {
                    None => mode.untagged(),
                    Some(v) => mode.tagged().contains(&v).then_some(v),
                };
                match vid {
                    Some(v) => {
                        // Not a stop by itself: said if nothing in the VLAN has the address.
                        let built = self.w.built_mode(node, iface);
                        if !membership::same(&mode, &built) {
                            self.missed.breaks.push((
                                node,
                                iface.to_owned(),
                                format!(
                                    "{name} carries {}, not {} as built: the frame is in VLAN {v}",
                                    membership::describe(&mode),
                                    membership::describe(&built)
                                ),
                            ));
                        }
                        self.switch(node, v, Some(iface), through)
                    }
                    None => {
                        let carries = membership::describe(&mode);
                        let drift = self.w.vlans_drift(node, iface);
                        self.missed.breaks.push((
                            node,
                            iface.to_owned(),
                            match tag {
                                Some(v) => format!(
                                    "{name} does not carry VLAN {v}, the frame's (it carries {carries}{drift})"
                                ),
                                None => format!(
                                    "{name} takes no untagged frames (it carries {carries}{drift})"
                                ),
                            },
                        ))
                    }
                }
            }
            NodeKind::Host | NodeKind::Router => {
                let sub = match tag {
                    None => Some(iface.to_owned()),
                    Some(v) => self.lab().nodes[node]
                        .interfaces
                        .iter()
                        .find(|f| {
                            f.vlan
                                .as_ref()
                                .is_some_and(|(p, id)| p == iface && *id == v)
                        })
                        .map(|f| f.name.clone()),
                };
                if let Some(sub) = sub {
                    self.candidate(node, &sub, &through);
                }
                if tag.is_none() {
                    for (c, ci) in self.children(node, iface) {
                        self.candidate(c, &ci, &through);
                    }
                }
            }
        }
    }

    /// Why port security on a switch port drops the frame, if it does: its source MAC, or
    /// the packet's source address, is not bound to the port.
    fn secured(&self, node: usize, iface: &str) -> Option<String> {
        let n = &self.lab().nodes[node];
        let port = n.ports.iter().find(|p| p.name == iface)?;
        if port.allow.is_empty() {
            return None;
        }
        let space = self.w.space(node).ok()?;
        if space
            .tables
            .as_ref()
            .is_some_and(|t| !t.iter().any(|x| x == SECURITY_TABLE))
        {
            return None;
        }
        let allowed: Vec<&str> = port.allow.iter().map(|a| a.mac.as_str()).collect();
        let mac_ok = self
            .mac
            .as_deref()
            .is_some_and(|m| allowed.iter().any(|a| a.eq_ignore_ascii_case(m)));
        let name = format!("{}:{iface}", n.name);
        if !mac_ok {
            let mac = self.mac.as_deref().unwrap_or("(one the kernel chose)");
            return Some(format!(
                "port security on {name} drops source MAC {mac} (allowed: {})",
                allowed.join(", ")
            ));
        }
        let ips: Vec<IpAddr> = port.allow.iter().filter_map(|a| a.ip).collect();
        (self.src.is_ipv4()
            && !ips.is_empty()
            && !ips.contains(&self.src)
            && !self.src.is_unspecified())
        .then(|| {
            let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
            format!(
                "port security on {name} drops source address {} (allowed: {})",
                self.src,
                list.join(", ")
            )
        })
    }

    fn mode(&self, node: usize, port: &str) -> PortMode {
        self.w.port_mode(node, port)
    }

    /// The ports of a bridge or switch: the ends of links on it, and its TAP devices.
    fn ports(&self, node: usize) -> Vec<String> {
        let lab = self.lab();
        lab.links
            .iter()
            .flat_map(|l| [&l.a, &l.b])
            .filter(|e| e.node == node)
            .map(|e| e.iface.clone())
            .collect()
    }

    /// A frame inside a VLAN-unaware bridge (or hub): out of every other port, and to the
    /// bridge's own device.
    fn flood(&mut self, b: usize, from: Option<&str>, tag: Option<u16>, through: Vec<usize>) {
        let own = self.lab().nodes[b].name.clone();
        if tag.is_none() && from.is_some() {
            let host = self.lab().nodes[b].inside.unwrap_or(b);
            self.candidate(host, &own, &through);
        }
        let ports: Vec<(String, Option<u16>)> =
            self.ports(b).into_iter().map(|p| (p, tag)).collect();
        let only = match self.steer(b, from.map(|f| (f, tag)), &ports, None, through.len()) {
            Some(None) => return,
            Some(Some(p)) => Some(p),
            None => None,
        };
        for (p, _) in ports {
            if Some(p.as_str()) != from
                && only.as_ref().is_none_or(|o| *o == p)
                && self.open(b, &p, tag)
            {
                self.push(b, p, tag, through.clone());
            }
        }
    }

    /// Where `b`'s forwarding table sends a frame for the destination's MAC, when it has it:
    /// out of that one port only (`Some(Some(port))`), or nowhere (`Some(None)`: back where
    /// it came from, or into a port spanning tree blocks; the reason is recorded). `None`
    /// when the table does not have the MAC: the frame is flooded. `ports` are the ports in
    /// the frame's VLAN with their tags, `vid` the VLAN of a VLAN-filtering table's entries.
    fn steer(
        &mut self,
        b: usize,
        from: Option<(&str, Option<u16>)>,
        ports: &[(String, Option<u16>)],
        vid: Option<u16>,
        depth: usize,
    ) -> Option<Option<String>> {
        let (mac, label) = self.target.clone()?;
        let entry = self
            .w
            .forwarding(b, vid, &mac)
            .filter(|e| e.sticky || !self.pinned_only)?;
        let ingress = from.map(|(p, t)| (p.to_owned(), t));
        let (port, dev) = ports.iter().chain(ingress.iter()).find_map(|(p, t)| {
            let d = self.dev(b, p, *t).ok()?;
            (d.index == entry.port).then(|| (p.clone(), d))
        })?;
        let name = &self.lab().nodes[b].name;
        let how = match (entry.sticky, entry.fixed) {
            (true, _) => "a sticky entry of its forwarding table",
            (false, true) => "a static entry of its forwarding table",
            (false, false) => "its forwarding table learned it",
        };
        let stop = if from.is_some_and(|(f, _)| f == port) {
            Some(format!(
                "{name} has {mac} ({label}) on {name}:{port}, where the frame came in, so it drops the frame ({how})"
            ))
        } else if dev.port == Some(PortState::Blocking) {
            Some(format!(
                "{name} has {mac} ({label}) on {name}:{port}, which spanning tree blocks ({how})"
            ))
        } else {
            None
        };
        if let Some(why) = stop {
            self.missed.breaks.push((b, port, why));
            return Some(None);
        }
        self.missed.steered.push((
            depth,
            b,
            port.clone(),
            format!("{name} sends frames for {mac} ({label}) out of {name}:{port} only ({how})"),
        ));
        Some(Some(port))
    }

    /// Whether a bridge port forwards frames out (spanning tree may block it).
    fn open(&self, b: usize, port: &str, tag: Option<u16>) -> bool {
        self.dev(b, port, tag)
            .map(|d| d.port != Some(PortState::Blocking))
            .unwrap_or(true)
    }

    fn switch(&mut self, s: usize, vid: u16, from: Option<&str>, through: Vec<usize>) {
        self.missed.vlans.push((s, vid));
        if from.is_some() {
            self.candidate(s, &svi_name(vid), &through);
        }
        let mut ports = Vec::new();
        for p in self.ports(s) {
            if Some(p.as_str()) == from {
                continue;
            }
            let mode = self.mode(s, &p);
            if !mode.vlans().contains(&vid) {
                // A port the file has in the VLAN, that the kernel took out of it.
                if self.w.built_mode(s, &p).vlans().contains(&vid) {
                    self.missed.breaks.push((
                        s,
                        p.clone(),
                        format!(
                            "{}:{p} no longer carries VLAN {vid} (it carries {}{})",
                            self.lab().nodes[s].name,
                            membership::describe(&mode),
                            self.w.vlans_drift(s, &p)
                        ),
                    ));
                }
                continue;
            }
            let tag = (mode.untagged() != Some(vid)).then_some(vid);
            ports.push((p, tag));
        }
        let only = match self.steer(
            s,
            from.map(|f| (f, Some(vid))),
            &ports,
            Some(vid),
            through.len(),
        ) {
            Some(None) => return,
            Some(Some(p)) => Some(p),
            None => None,
        };
        for (p, tag) in ports {
            if only.as_ref().is_none_or(|o| *o == p) && self.open(s, &p, tag) {
                self.push(s, p, tag, through.clone());
            }
        }
    }

    /// Whether `node:iface` holds the address, as the snapshot has it.
    fn candidate(&mut self, node: usize, iface: &str, through: &[usize]) {
        let Ok(space) = self.w.space(node) else {
            return;
        };
        let Some(dev) = space.dev(iface) else {
            return;
        };
        if space
            .holder(self.addr)
            .is_some_and(|d| d.index == dev.index)
        {
            if !dev.admin_up {
                self.missed.breaks.push((
                    node,
                    iface.to_owned(),
                    format!("link {}:{iface} is down", self.lab().nodes[node].name),
                ));
                return;
            }
            self.found = Some(Owner {
                node,
                iface: iface.to_owned(),
                // A switch answering on its own SVI is the next node, not a switch crossed.
                through: through.iter().copied().filter(|&b| b != node).collect(),
            });
        } else if self
            .w
            .expected(node)
            .is_some_and(|e| e.holder(self.addr).is_some_and(|d| d.name == iface))
        {
            let has: Vec<String> = space
                .addrs
                .iter()
                .filter(|(i, _)| *i == dev.index)
                .map(|(_, a)| a.to_string())
                .collect();
            self.missed.breaks.push((
                node,
                iface.to_owned(),
                format!(
                    "{}:{iface} does not have {} (its addresses: {})",
                    self.lab().nodes[node].name,
                    self.addr,
                    if has.is_empty() {
                        "none".to_owned()
                    } else {
                        has.join(", ")
                    }
                ),
            ));
        }
    }
}
