//! An 802.1Q switch, built natively (one VLAN-filtering bridge) or emulated (a bridge per VLAN).

use std::collections::BTreeSet;

use super::{Stages, Step, VlanMode, address_and_up};
use crate::model::{Interface, Lab, PortMode, svi_name};

pub(super) fn plan_switch(lab: &Lab, i: usize, mode: VlanMode, st: &mut Stages) {
    let node = &lab.nodes[i];
    let ns = lab.netns(i);
    let svi_iface = |vid: u16| node.interfaces.iter().find(|f| f.name == svi_name(vid));
    match mode {
        VlanMode::Native => {
            st.bridges.push(Step::AddBridge {
                ns: ns.clone(),
                name: node.name.clone(),
                stp: node.stp,
                priority: node.stp_priority,
                vlan_filtering: true,
                hub: false,
            });
            for port in &node.ports {
                st.ports.push(Step::SetMaster {
                    ns: ns.clone(),
                    dev: port.name.clone(),
                    master: node.name.clone(),
                });
                let untagged = port.mode.untagged();
                for vid in port.mode.vlans() {
                    st.devices.push(Step::BridgeVlan {
                        ns: ns.clone(),
                        dev: port.name.clone(),
                        vid,
                        untagged: Some(vid) == untagged,
                        bridge_self: false,
                    });
                }
                st.interfaces.push(Step::LinkUp {
                    ns: ns.clone(),
                    dev: port.name.clone(),
                });
            }
            for svi in &node.svis {
                // The bridge itself joins the VLAN; a VLAN device on it is the switch's interface.
                st.devices.push(Step::BridgeVlan {
                    ns: ns.clone(),
                    dev: node.name.clone(),
                    vid: svi.vlan,
                    untagged: false,
                    bridge_self: true,
                });
                st.devices.push(Step::AddVlan {
                    ns: ns.clone(),
                    parent: node.name.clone(),
                    name: svi_name(svi.vlan),
                    vid: svi.vlan,
                });
                if let Some(iface) = svi_iface(svi.vlan) {
                    address_and_up(&ns, iface, st);
                }
            }
        }
        VlanMode::Emulated => {
            let mut vlans: BTreeSet<u16> = node.ports.iter().flat_map(|p| p.mode.vlans()).collect();
            vlans.extend(node.svis.iter().map(|s| s.vlan));
            for vid in &vlans {
                st.bridges.push(Step::AddBridge {
                    ns: ns.clone(),
                    name: svi_name(*vid),
                    stp: node.stp,
                    priority: node.stp_priority,
                    vlan_filtering: false,
                    hub: false,
                });
            }
            for port in &node.ports {
                if let Some(vid) = port.mode.untagged() {
                    st.ports.push(Step::SetMaster {
                        ns: ns.clone(),
                        dev: port.name.clone(),
                        master: svi_name(vid),
                    });
                }
                st.interfaces.push(Step::LinkUp {
                    ns: ns.clone(),
                    dev: port.name.clone(),
                });
                if let PortMode::Trunk { .. } = port.mode {
                    for vid in port.mode.tagged() {
                        let dev = format!("{}.{vid}", port.name);
                        st.ports.push(Step::SetMaster {
                            ns: ns.clone(),
                            dev: dev.clone(),
                            master: svi_name(vid),
                        });
                        st.interfaces.push(Step::LinkUp {
                            ns: ns.clone(),
                            dev,
                        });
                    }
                }
            }
            for svi in &node.svis {
                // The VLAN's own bridge is the switch's interface into it.
                let fallback = Interface::plain(&svi_name(svi.vlan), node.at);
                address_and_up(&ns, svi_iface(svi.vlan).unwrap_or(&fallback), st);
            }
        }
    }
    if let Some(ruleset) = super::security::ruleset(node) {
        st.firewall.push(Step::Nft { ns, ruleset });
    }
}
