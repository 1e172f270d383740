//! Which VLANs a switch port carries as the kernel has it, whichever way the switch was built:
//! natively, the VLAN-filtering bridge's table (the port's PVID is its untagged VLAN, its
//! other entries are tagged); emulated, the bridges its devices are ports of (the port itself
//! in `vlanN` is untagged in VLAN N, its `PORT.N` in `vlanN` carries N tagged).

use std::collections::BTreeSet;

use crate::apply::live::Space;
use crate::model::{PortMode, svi_name};

/// `port`'s VLANs in `space`, in the file's terms; `None` when the port is not there.
pub(crate) fn live(space: &Space, port: &str) -> Option<PortMode> {
    let dev = space.dev(port)?;
    let mut untagged = None;
    let mut tagged = BTreeSet::new();
    if dev.vlans.is_empty() {
        untagged = dev.master.and_then(|m| emulated_vid(&space.name_of(m)));
        for d in &space.devs {
            let vid = d
                .name
                .strip_prefix(port)
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|v| v.parse::<u16>().ok());
            if let Some(vid) = vid
                && d.master.map(|m| space.name_of(m)) == Some(svi_name(vid))
            {
                tagged.insert(vid);
            }
        }
    } else {
        for v in &dev.vlans {
            if v.pvid {
                untagged = Some(v.vid);
            } else {
                tagged.insert(v.vid);
            }
        }
    }
    Some(match untagged {
        Some(v) if tagged.is_empty() => PortMode::Access(v),
        native => PortMode::Trunk {
            vlans: tagged.into_iter().collect(),
            native,
        },
    })
}

/// An emulated trunk's VLAN veths (`t1.10`) that are ports of another bridge than their VLAN's
/// (`vlan20`), joining the two: (device, its VLAN, the bridge it is in).
pub(crate) fn joined(space: &Space, port: &str) -> Vec<(String, u16, String)> {
    space
        .devs
        .iter()
        .filter_map(|d| {
            let vid: u16 = d.name.strip_prefix(port)?.strip_prefix('.')?.parse().ok()?;
            let bridge = space.name_of(d.master?);
            (bridge != svi_name(vid)).then(|| (d.name.clone(), vid, bridge))
        })
        .collect()
}

/// The VLAN an emulated switch's per-VLAN bridge stands for: `vlan10` → 10.
fn emulated_vid(bridge: &str) -> Option<u16> {
    let vid: u16 = bridge.strip_prefix("vlan")?.parse().ok()?;
    (svi_name(vid) == bridge).then_some(vid)
}

/// Whether two modes carry the same VLANs the same way (a trunk whose only VLAN is its
/// native one is an access port).
pub(crate) fn same(a: &PortMode, b: &PortMode) -> bool {
    let key = |m: &PortMode| {
        let mut t = m.tagged();
        t.sort_unstable();
        t.dedup();
        (m.untagged(), t)
    };
    key(a) == key(b)
}

/// In words: `VLAN 10 untagged`, `VLANs 10, 20 tagged and VLAN 1 untagged`, `no VLAN`.
pub(crate) fn describe(m: &PortMode) -> String {
    let mut tagged = m.tagged();
    tagged.sort_unstable();
    tagged.dedup();
    let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
    let tagged = match tagged.len() {
        0 => None,
        1 => Some(format!("VLAN {} tagged", tagged[0])),
        _ => Some(format!("VLANs {} tagged", list(&tagged))),
    };
    let untagged = m.untagged().map(|v| format!("VLAN {v} untagged"));
    match (tagged, untagged) {
        (None, None) => "no VLAN".to_owned(),
        (Some(t), None) => t,
        (None, Some(u)) => u,
        (Some(t), Some(u)) => format!("{t} and {u}"),
    }
}

/// Short, for a port's line in `status`: `VLAN 10`, `VLANs 10, 20 tagged, 1 untagged`.
pub(crate) fn brief(m: &PortMode) -> String {
    match m {
        PortMode::Access(v) => format!("VLAN {v}"),
        other => describe(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::live::{Dev, PortVlan};

    fn dev(index: u32, name: &str, master: Option<u32>, vlans: Vec<PortVlan>) -> Dev {
        Dev {
            index,
            name: name.into(),
            admin_up: true,
            carrier: true,
            lacks_carrier: false,
            master,
            port: None,
            vlans,
            mac: None,
            vlan_filtering: false,
        }
    }

    fn vlan(vid: u16, pvid: bool) -> PortVlan {
        PortVlan {
            vid,
            pvid,
            untagged: pvid,
        }
    }

    #[test]
    fn emulated_membership_is_read_from_the_vlan_bridges() {
        let space = Space {
            devs: vec![
                dev(1, "vlan10", None, vec![]),
                dev(2, "vlan20", None, vec![]),
                dev(3, "p1", Some(1), vec![]),
                dev(4, "p2", None, vec![]),
                dev(5, "p2.10", Some(1), vec![]),
                dev(6, "p2.20", Some(2), vec![]),
                // Tagged 30, but in VLAN 20's bridge: it carries no VLAN 30.
                dev(7, "p2.30", Some(2), vec![]),
                dev(8, "p3", None, vec![]),
            ],
            ..Space::default()
        };
        assert_eq!(live(&space, "p1"), Some(PortMode::Access(10)));
        assert_eq!(
            live(&space, "p2"),
            Some(PortMode::Trunk {
                vlans: vec![10, 20],
                native: None
            })
        );
        assert_eq!(
            live(&space, "p3").map(|m| describe(&m)),
            Some("no VLAN".into())
        );
        assert_eq!(live(&space, "p9"), None);
        assert_eq!(
            joined(&space, "p2"),
            [("p2.30".to_string(), 30, "vlan20".to_string())]
        );
    }

    #[test]
    fn native_membership_is_read_from_the_vlan_table() {
        let space = Space {
            devs: vec![
                dev(1, "sw", None, vec![]),
                dev(2, "p1", Some(1), vec![vlan(20, true)]),
                dev(
                    3,
                    "p2",
                    Some(1),
                    vec![vlan(1, true), vlan(10, false), vlan(20, false)],
                ),
            ],
            ..Space::default()
        };
        assert_eq!(live(&space, "p1"), Some(PortMode::Access(20)));
        let p2 = live(&space, "p2").unwrap();
        assert_eq!(describe(&p2), "VLANs 10, 20 tagged and VLAN 1 untagged");
        assert!(same(
            &p2,
            &PortMode::Trunk {
                vlans: vec![20, 10],
                native: Some(1)
            }
        ));
        assert!(same(
            &PortMode::Trunk {
                vlans: vec![],
                native: Some(5)
            },
            &PortMode::Access(5)
        ));
        assert!(!same(&p2, &PortMode::Access(1)));
    }
}
