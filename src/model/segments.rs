//! Layer-2 segments: which interfaces share a broadcast domain (the two ends of a veth pair,
//! the ports of one bridge, one VLAN of a switch and the trunks that carry it, a macvlan
//! child and its parent). Validation uses them twice: a MAC must be unique in its segment,
//! and an ARP spoofer must share the victim's.

use std::collections::HashMap;

use super::{Endpoint, Lab, LinkKind, NodeKind, PortMode};

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

/// The lab's broadcast domains, as a union of what each link joins.
#[derive(Default)]
pub(crate) struct Segments {
    ids: HashMap<Key, usize>,
    parent: Vec<usize>,
}

impl Segments {
    pub(crate) fn of(lab: &Lab) -> Segments {
        let mut s = Segments::default();
        for l in &lab.links {
            match l.kind {
                // The child's frames go out of its parent, onto the parent's segment.
                LinkKind::Macvlan { .. } => s.join(
                    &Key::Iface(l.a.node, l.a.iface.clone()),
                    &Key::Iface(l.b.node, l.b.iface.clone()),
                ),
                LinkKind::Veth | LinkKind::Vxlan { .. } => {
                    s.link(&end(lab, &l.a), &end(lab, &l.b));
                }
            }
        }
        s
    }

    /// The segment of a host's or router's interface: equal numbers, one broadcast domain.
    pub(crate) fn of_iface(&mut self, node: usize, iface: &str) -> usize {
        let id = self.id(&Key::Iface(node, iface.to_owned()));
        self.find(id)
    }

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
