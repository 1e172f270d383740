//! `vnet graph`: a picture of the lab. One neutral description ([`Picture`]: boxes by kind,
//! links with the interface and addresses at each end, VLANs, trunks, NAT, what is down) is
//! drawn three ways: Mermaid (pastes into GitHub and GitLab Markdown), DOT (Graphviz), and an
//! SVG that vnet lays out itself.

use std::collections::{BTreeSet, HashMap};

use crate::model::{Lab, LinkKind, MACHINE, NodeKind, PortMode};

pub(crate) mod dot;
mod layout;
pub(crate) mod mermaid;
pub(crate) mod svg;

/// More hosts than this hanging off one bridge (or one VLAN of a switch) are drawn as one
/// box: a thousand boxes in a row are no picture.
pub(crate) const GROUP_OVER: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Host,
    Router,
    Bridge,
    Hub,
    Switch,
    /// The machine vnet runs on (`host` in the file).
    Machine,
    /// Many hosts alike, on one bridge.
    Group,
}

#[derive(Debug, Clone)]
pub(crate) struct Figure {
    /// A name safe as an identifier in Mermaid and DOT (`n_` and the node's name).
    pub id: String,
    pub name: String,
    pub shape: Shape,
    /// Under the name: NAT, SVIs, TAP devices, how many hosts a group stands for.
    pub lines: Vec<String>,
}

/// One end of a line: the interface, and what it carries (addresses, or a switch port's mode).
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub node: usize,
    pub iface: String,
    pub notes: Vec<String>,
}

impl End {
    /// The interface, then each note, one per line (where a picture has room for lines).
    pub(crate) fn lines(&self) -> Vec<String> {
        std::iter::once(self.iface.clone())
            .chain(self.notes.iter().cloned())
            .collect()
    }

    /// `eth0 10.0.1.11/24 fd00:1::11/64`
    pub(crate) fn label(&self) -> String {
        let mut parts = vec![self.iface.clone()];
        parts.extend(self.notes.iter().cloned());
        parts.join(" ")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub a: End,
    pub b: End,
    /// The VLAN the link is in, when one end is a switch's access port.
    pub vlan: Option<u16>,
    /// The VLANs a trunk carries tagged.
    pub trunk: Vec<u16>,
    /// `macvlan bridge`, `vxlan 42`: a link that is not a veth pair.
    pub kind: Option<String>,
    /// Why the running lab does not carry traffic here: `gw:wan is down`.
    pub down: Option<String>,
}

impl Line {
    /// What is said on the line as a whole: both ends, the kind, the trunk, the fault.
    pub(crate) fn label(&self) -> String {
        let mut text = format!("{} — {}", self.a.label(), self.b.label());
        if let Some(k) = &self.kind {
            text.push_str(&format!(" ({k})"));
        }
        if let Some(d) = &self.down {
            text.push_str(&format!(" DOWN: {d}"));
        }
        text
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Picture {
    pub title: String,
    pub boxes: Vec<Figure>,
    pub lines: Vec<Line>,
    /// Every VLAN seen, for the colours and the legend.
    pub vlans: Vec<u16>,
}

/// What a running lab's kernel and record say that the file cannot: the interfaces not up,
/// by node index and name, with their state in words (`down`, `lowerlayerdown`, `missing`,
/// `taken down with vnet link`), and what `vnet impair` (or a stage) made an end send
/// instead of the file's settings (`None`: cleared).
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    pub not_up: HashMap<(usize, String), String>,
    pub impaired: HashMap<(usize, String), Option<crate::model::impair::Impair>>,
}

fn ident(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("n_{clean}")
}

/// The picture of `lab`, with `live`'s faults marked when the lab is running.
pub(crate) fn picture(lab: &Lab, live: Option<&Live>) -> Picture {
    let degree = |n: usize| {
        lab.links
            .iter()
            .filter(|l| l.a.node == n || l.b.node == n)
            .count()
    };
    // Leaf hosts (one link, to a bridge or switch), by where they hang: (bridge, VLAN).
    let mut hanging: HashMap<(usize, Option<u16>), Vec<usize>> = HashMap::new();
    let mut leaf_link: HashMap<usize, usize> = HashMap::new();
    for (li, l) in lab.links.iter().enumerate() {
        for (host, other) in [(&l.a, &l.b), (&l.b, &l.a)] {
            let h = &lab.nodes[host.node];
            let o = &lab.nodes[other.node];
            if h.kind == NodeKind::Host
                && h.name != MACHINE
                && matches!(o.kind, NodeKind::Bridge | NodeKind::Switch)
                && degree(host.node) == 1
                && l.kind == LinkKind::Veth
            {
                let vlan = port_mode(lab, other.node, &other.iface).and_then(|m| m.untagged());
                hanging
                    .entry((other.node, vlan))
                    .or_default()
                    .push(host.node);
                leaf_link.insert(host.node, li);
            }
        }
    }
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    let mut boxes: Vec<Figure> = Vec::new();
    let mut box_of: Vec<usize> = vec![usize::MAX; lab.nodes.len()];
    let mut groups: Vec<(usize, Option<u16>, Vec<usize>)> = hanging
        .into_iter()
        .filter(|(_, hosts)| hosts.len() > GROUP_OVER)
        .map(|((b, v), hosts)| (b, v, hosts))
        .collect();
    groups.sort_by_key(|(b, v, hosts)| (*b, *v, hosts.first().copied()));
    for (gi, (_, _, hosts)) in groups.iter().enumerate() {
        for h in hosts {
            group_of.insert(*h, gi);
        }
    }
    let mut group_box: Vec<usize> = Vec::new();
    for (i, n) in lab.nodes.iter().enumerate() {
        if let Some(&gi) = group_of.get(&i) {
            // The group's box stands where its first host would.
            if group_box.len() <= gi {
                group_box.resize(gi + 1, usize::MAX);
            }
            if group_box[gi] == usize::MAX {
                let hosts = &groups[gi].2;
                let (first, last) = (
                    &lab.nodes[hosts[0]].name,
                    &lab.nodes[hosts[hosts.len() - 1]].name,
                );
                boxes.push(Figure {
                    id: ident(&format!("group_{gi}_{first}")),
                    name: format!("{} hosts", hosts.len()),
                    shape: Shape::Group,
                    lines: vec![format!("{first} … {last}")],
                });
                group_box[gi] = boxes.len() - 1;
            }
            box_of[i] = group_box[gi];
            continue;
        }
        boxes.push(Figure {
            id: ident(&n.name),
            name: n.name.clone(),
            shape: shape(lab, i),
            lines: lines(lab, i),
        });
        box_of[i] = boxes.len() - 1;
    }
    let mut vlans: BTreeSet<u16> = BTreeSet::new();
    let mut lines_out = Vec::new();
    let mut grouped_done: BTreeSet<usize> = BTreeSet::new();
    for (li, l) in lab.links.iter().enumerate() {
        let grouped = [l.a.node, l.b.node].into_iter().find_map(|n| {
            group_of
                .get(&n)
                .filter(|_| leaf_link.get(&n) == Some(&li))
                .copied()
        });
        if let Some(gi) = grouped {
            if !grouped_done.insert(gi) {
                continue;
            }
            lines_out.push(group_line(lab, &groups[gi], &box_of, live));
            continue;
        }
        // What each end sends through its qdiscs (`impair:`, or what replaced it at
        // runtime), said at that end.
        let sends = |which: usize| {
            let e = if which == 0 { &l.a } else { &l.b };
            if let Some(now) = live.and_then(|lv| lv.impaired.get(&(e.node, e.iface.clone()))) {
                return now
                    .as_ref()
                    .filter(|i| !i.is_empty())
                    .map(|i| format!("sends {i} (at runtime)"));
            }
            l.impair
                .as_ref()
                .and_then(|i| {
                    if which == 0 {
                        i.a.as_ref()
                    } else {
                        i.b.as_ref()
                    }
                })
                .map(|i| format!("sends {i}"))
        };
        let end = |e: &crate::model::Endpoint, which: usize| End {
            node: box_of[e.node],
            iface: e.iface.clone(),
            notes: notes(lab, e.node, &e.iface)
                .into_iter()
                .chain(sends(which))
                .collect(),
        };
        let (mut vlan, mut trunk) = (None, Vec::new());
        for e in [&l.a, &l.b] {
            match port_mode(lab, e.node, &e.iface) {
                Some(PortMode::Access(v)) => vlan = Some(*v),
                Some(m @ PortMode::Trunk { .. }) => trunk = m.vlans(),
                None => {}
            }
        }
        vlans.extend(vlan);
        vlans.extend(trunk.iter().copied());
        let kind = match &l.kind {
            LinkKind::Veth => None,
            LinkKind::Macvlan { mode } => Some(format!("macvlan {mode}")),
            LinkKind::Vxlan { vni, underlay } => Some(format!(
                "vxlan {vni} over {}–{}",
                lab.nodes[underlay.0].name, lab.nodes[underlay.1].name
            )),
        };
        lines_out.push(Line {
            a: end(&l.a, 0),
            b: end(&l.b, 1),
            vlan,
            trunk,
            kind,
            down: live
                .and_then(|lv| fault(lab, lv, &[(&l.a.node, &l.a.iface), (&l.b.node, &l.b.iface)])),
        });
    }
    for n in &lab.nodes {
        vlans.extend(n.svis.iter().map(|s| s.vlan));
    }
    Picture {
        title: lab.name.clone(),
        boxes,
        lines: lines_out,
        vlans: vlans.into_iter().collect(),
    }
}

/// `gw:wan is down`, for the end of a line that is not up: the cause (an end down, missing
/// or taken down) before the consequence (the other end without carrier).
fn fault(lab: &Lab, live: &Live, ends: &[(&usize, &String)]) -> Option<String> {
    let state = |(n, i): &(&usize, &String)| live.not_up.get(&(**n, (*i).clone()));
    let cause = ends
        .iter()
        .find(|e| state(e).is_some_and(|s| s != "no-carrier"))
        .or_else(|| ends.iter().find(|e| state(e).is_some()));
    cause.and_then(|(n, i)| {
        live.not_up.get(&(**n, (*i).clone())).map(|state| {
            let state = match state.as_str() {
                "no-carrier" => "without carrier",
                other => other,
            };
            format!("{}:{i} is {state}", lab.nodes[**n].name)
        })
    })
}

/// The one line from a group to its bridge: the first and last host's end, and the ports.
fn group_line(
    lab: &Lab,
    (bridge, vlan, hosts): &(usize, Option<u16>, Vec<usize>),
    box_of: &[usize],
    live: Option<&Live>,
) -> Line {
    let ends: Vec<(&crate::model::Endpoint, &crate::model::Endpoint)> = hosts
        .iter()
        .filter_map(|h| {
            lab.links.iter().find_map(|l| {
                if l.a.node == *h {
                    Some((&l.a, &l.b))
                } else if l.b.node == *h {
                    Some((&l.b, &l.a))
                } else {
                    None
                }
            })
        })
        .collect();
    let first_addr = |e: &crate::model::Endpoint| notes(lab, e.node, &e.iface).into_iter().next();
    let span = |a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) if a != b => vec![format!("{a} … {b}")],
        (Some(a), _) => vec![a],
        _ => Vec::new(),
    };
    let (h0, hn) = (ends[0], ends[ends.len() - 1]);
    let down: Vec<String> = match live {
        Some(lv) => ends
            .iter()
            .filter_map(|(h, p)| fault(lab, lv, &[(&h.node, &h.iface), (&p.node, &p.iface)]))
            .collect(),
        None => Vec::new(),
    };
    let down = match down.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [first, rest @ ..] => Some(format!("{first} and {} more", rest.len())),
    };
    Line {
        a: End {
            node: box_of[h0.0.node],
            iface: h0.0.iface.clone(),
            notes: span(first_addr(h0.0), first_addr(hn.0)),
        },
        b: End {
            node: box_of[*bridge],
            iface: if h0.1.iface == hn.1.iface {
                h0.1.iface.clone()
            } else {
                format!("{} … {}", h0.1.iface, hn.1.iface)
            },
            notes: vlan
                .map(|v| vec![format!("access {v}")])
                .unwrap_or_default(),
        },
        vlan: *vlan,
        trunk: Vec::new(),
        kind: None,
        down,
    }
}

fn port_mode<'a>(lab: &'a Lab, node: usize, iface: &str) -> Option<&'a PortMode> {
    lab.nodes[node]
        .ports
        .iter()
        .find(|p| p.name == iface)
        .map(|p| &p.mode)
}

fn shape(lab: &Lab, i: usize) -> Shape {
    let n = &lab.nodes[i];
    if n.name == MACHINE {
        return Shape::Machine;
    }
    match n.kind {
        NodeKind::Host => Shape::Host,
        NodeKind::Router => Shape::Router,
        NodeKind::Bridge if n.hub => Shape::Hub,
        NodeKind::Bridge => Shape::Bridge,
        NodeKind::Switch => Shape::Switch,
    }
}

/// What an end carries: its addresses, or a switch port's mode, and port security.
fn notes(lab: &Lab, node: usize, iface: &str) -> Vec<String> {
    let n = &lab.nodes[node];
    let mut out = Vec::new();
    if let Some(p) = n.ports.iter().find(|p| p.name == iface) {
        out.push(match &p.mode {
            PortMode::Access(v) => format!("access {v}"),
            PortMode::Trunk { vlans, native } => {
                let list: Vec<String> = vlans.iter().map(u16::to_string).collect();
                let native = native.map(|v| format!(" native {v}")).unwrap_or_default();
                format!("trunk {}{native}", list.join(","))
            }
        });
        if !p.allow.is_empty() {
            out.push("port security".into());
        }
    }
    if let Some(f) = n.interfaces.iter().find(|f| f.name == iface) {
        out.extend(f.addresses.iter().map(|a| a.to_string()));
    }
    out
}

/// The lines under a box's name.
fn lines(lab: &Lab, i: usize) -> Vec<String> {
    let n = &lab.nodes[i];
    let mut out = vec![match shape(lab, i) {
        Shape::Machine => "the machine".to_string(),
        _ => n.kind_name().to_string(),
    }];
    // A bridge in another node's namespace (`in:`, as docker0 is in the Docker host), and
    // the address it has there.
    if let Some(host) = n.inside.filter(|h| *h != i) {
        out.push(format!("in {}", lab.nodes[host].name));
    }
    if let Some(own) = n.interfaces.iter().find(|f| f.name == n.name) {
        let addrs: Vec<String> = own.addresses.iter().map(|a| a.to_string()).collect();
        if !addrs.is_empty() {
            out.push(addrs.join(" "));
        }
    }
    if let Some(nat) = &n.nat {
        if !nat.masquerade.is_empty() {
            out.push(format!("NAT: masquerade out {}", nat.masquerade.join(", ")));
        }
        for p in &nat.publish {
            out.push(format!(
                "NAT: {} {}:{} → {}",
                p.proto.as_str(),
                p.on,
                p.port,
                p.to
            ));
        }
    }
    if n.stp {
        out.push(match n.stp_priority {
            Some(p) => format!("STP, priority {p}"),
            None => "STP".to_string(),
        });
    }
    for s in &n.svis {
        let addrs: Vec<String> = s.addresses.iter().map(|a| a.to_string()).collect();
        out.push(
            format!("vlan{} {}", s.vlan, addrs.join(" "))
                .trim_end()
                .to_string(),
        );
    }
    for f in &n.interfaces {
        // Interfaces that no link names (loopback-like, VLAN sub-interfaces): say them here.
        let linked = lab.links.iter().any(|l| {
            (l.a.node == i && l.a.iface == f.name) || (l.b.node == i && l.b.iface == f.name)
        });
        let svi = n
            .svis
            .iter()
            .any(|s| crate::model::svi_name(s.vlan) == f.name);
        if !linked && !svi && f.name != n.name && !f.addresses.is_empty() {
            let addrs: Vec<String> = f.addresses.iter().map(|a| a.to_string()).collect();
            out.push(format!("{} {}", f.name, addrs.join(" ")));
        }
    }
    for t in lab.taps.iter().filter(|t| t.node == i) {
        out.push(format!("tap {}", t.name));
    }
    out
}

/// A colour per VLAN, the same in every format: the n-th VLAN of the lab gets the n-th.
pub(crate) fn vlan_colour(vlans: &[u16], vid: u16) -> &'static str {
    const PALETTE: [&str; 8] = [
        "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22",
    ];
    let i = vlans.iter().position(|v| *v == vid).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// The colour of a link that is down.
pub(crate) const DOWN_COLOUR: &str = "#d62728";

#[cfg(test)]
mod tests;
