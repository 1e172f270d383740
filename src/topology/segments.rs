//! Layer-2 segments: which interfaces share a broadcast domain (the two ends of a veth pair,
//! the ports of one bridge, one VLAN of a switch and the trunks that carry it), so that a MAC
//! address given twice in one segment is refused. The same MAC in two segments is fine.

use std::collections::HashMap;

use miette::SourceSpan;

use super::diag::Problems;
use super::schema::RawLab;
use crate::model::{Endpoint, Lab, LinkKind, NodeKind, PortMode};

/// Something frames reach: an interface of a host or router, or a bridge (VLAN 0) or one VLAN
/// of a switch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Iface(usize, String),
    Hub(usize, u16),
}

/// What one end of a link puts on the wire.
#[derive(Default)]
struct End {
    untagged: Option<Key>,
    tagged: Vec<(u16, Key)>,
    /// A VLAN-unaware bridge: every frame, tagged or not, reaches the same bridge.
    everything: Option<Key>,
}

fn end(lab: &Lab, e: &Endpoint) -> End {
    let n = &lab.nodes[e.node];
    match n.kind {
        NodeKind::Bridge => End {
            everything: Some(Key::Hub(e.node, 0)),
            ..End::default()
        },
        NodeKind::Switch => {
            let mode = n
                .ports
                .iter()
                .find(|p| p.name == e.iface)
                .map_or(PortMode::Access(1), |p| p.mode.clone());
            End {
                untagged: mode.untagged().map(|v| Key::Hub(e.node, v)),
                tagged: mode
                    .tagged()
                    .into_iter()
                    .map(|v| (v, Key::Hub(e.node, v)))
                    .collect(),
                everything: None,
            }
        }
        NodeKind::Host | NodeKind::Router => End {
            untagged: Some(Key::Iface(e.node, e.iface.clone())),
            tagged: n
                .interfaces
                .iter()
                .filter_map(|i| {
                    let (parent, vid) = i.vlan.as_ref()?;
                    (parent == &e.iface).then(|| (*vid, Key::Iface(e.node, i.name.clone())))
                })
                .collect(),
            everything: None,
        },
    }
}

#[derive(Default)]
struct Segments {
    ids: HashMap<Key, usize>,
    parent: Vec<usize>,
}

impl Segments {
    fn id(&mut self, k: &Key) -> usize {
        if let Some(&i) = self.ids.get(k) {
            return i;
        }
        let i = self.parent.len();
        self.parent.push(i);
        self.ids.insert(k.clone(), i);
        i
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: &Key, b: &Key) {
        let (a, b) = (self.id(a), self.id(b));
        let (a, b) = (self.find(a), self.find(b));
        self.parent[a] = b;
    }

    fn link(&mut self, a: &End, b: &End) {
        for (x, y) in [(a, b), (b, a)] {
            if let Some(hub) = &x.everything {
                let far = y.untagged.iter().chain(y.everything.iter());
                for k in far.chain(y.tagged.iter().map(|(_, k)| k)) {
                    self.join(hub, k);
                }
            }
        }
        if let (Some(x), Some(y)) = (&a.untagged, &b.untagged) {
            self.join(x, y);
        }
        for (vid, x) in &a.tagged {
            if let Some((_, y)) = b.tagged.iter().find(|(v, _)| v == vid) {
                self.join(x, y);
            }
        }
    }
}

pub(crate) fn macs(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    let mut segments = Segments::default();
    for l in &lab.links {
        match l.kind {
            // The child's frames go out of its parent, onto the parent's segment.
            LinkKind::Macvlan { .. } => segments.join(
                &Key::Iface(l.a.node, l.a.iface.clone()),
                &Key::Iface(l.b.node, l.b.iface.clone()),
            ),
            LinkKind::Veth | LinkKind::Vxlan { .. } => {
                segments.link(&end(lab, &l.a), &end(lab, &l.b));
            }
        }
    }
    let mut first: HashMap<(usize, &str), SourceSpan> = HashMap::new();
    // Raw and built nodes are in the same order.
    for (ni, rn) in raw.nodes.iter().enumerate() {
        for i in &rn.interfaces {
            let Some(mac) = &i.mac else { continue };
            let id = segments.id(&Key::Iface(ni, i.name.v.clone()));
            let segment = segments.find(id);
            match first.get(&(segment, mac.v.as_str())) {
                Some(at) => {
                    let problem = p
                        .new_problem(
                            "duplicate_mac",
                            format!("MAC address {} is used twice in one layer-2 segment", mac.v),
                        )
                        .label(*at, "first used here")
                        .label(mac.at, "used again here, in the same broadcast domain")
                        .help("frames for it would reach either interface; give each interface its own MAC");
                    p.push(problem);
                }
                None => {
                    first.insert((segment, mac.v.as_str()), mac.at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn valid(text: &str) -> bool {
        crate::topology::parse("lab.yaml", "lab", text.as_bytes()).is_ok()
    }

    fn lab(r1_a: &str) -> String {
        let iface =
            |a: &str, mac: &str| format!("{{addresses: [{a}], mac: '02:00:00:00:00:{mac}'}}");
        format!(
            "nodes:\n  h1: {{interfaces: {{eth0: {}}}}}\n  h2: {{interfaces: {{eth0: {}}}}}\n  h3: {{interfaces: {{eth0: {}}}}}\n  h4: {{interfaces: {{eth0: {}}}}}\n  r1: {{kind: router, interfaces: {{a: {}, b: {}}}}}\n  br1: {{kind: bridge}}\n  br2: {{kind: bridge}}\n  sw: {{kind: switch, ports: {{p3: {{vlan: 10}}, p4: {{vlan: 20}}}}}}\nlinks:\n  - [h1:eth0, br1:p1]\n  - [h2:eth0, br2:p1]\n  - [h3:eth0, sw:p3]\n  - [h4:eth0, sw:p4]\n  - [r1:a, br1:p2]\n  - [r1:b, br2:p2]\n",
            iface("10.0.1.1/24", "01"),
            iface("10.0.2.1/24", "01"),
            iface("10.0.3.1/24", "01"),
            iface("10.0.4.1/24", "01"),
            iface("10.0.1.9/24", r1_a),
            iface("10.0.2.9/24", "99"),
        )
    }

    /// One MAC in several segments: two bridges not joined (a router between them has the
    /// same MAC on both sides), two VLANs of one switch.
    #[test]
    fn the_same_mac_in_two_segments_is_fine_and_in_one_is_not() {
        assert!(valid(&lab("99")));
        assert!(!valid(&lab("01")), "r1:a and h1 share br1");
    }
}
