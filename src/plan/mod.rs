//! ③ Plan: a [`Lab`] becomes stages of [`Step`]s. Pure: no kernel, no files.
//!
//! Steps inside one stage are independent of each other, so the kernel backend may run them
//! concurrently; stages run in order (namespaces before the links that live in them, addresses
//! before the routes that need them).

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod step;

pub use step::{End, Step};

use crate::model::{Lab, NodeKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub stages: Vec<Stage>,
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages.iter().flat_map(|s| s.steps.iter())
    }

    pub fn len(&self) -> usize {
        self.stages.iter().map(|s| s.steps.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for stage in &self.stages {
            writeln!(f, "# {} ({} steps)", stage.name, stage.steps.len())?;
            for s in &stage.steps {
                writeln!(f, "{s}")?;
            }
        }
        Ok(())
    }
}

/// The mark vnet leaves on every namespace it makes, so that it can later prove ownership.
pub fn owner_tag(lab: &str) -> String {
    format!("vnet:{lab}")
}

/// Sysctls that differ between distributions' root namespaces (new namespaces inherit the IPv4
/// ones) and change what a lab does: set them all so a lab behaves the same everywhere.
fn sysctls(kind: NodeKind) -> Vec<(&'static str, &'static str)> {
    let forward = if kind == NodeKind::Router { "1" } else { "0" };
    vec![
        // Asymmetric paths are legitimate in a lab; strict reverse-path filtering would drop them.
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
        ("net.ipv4.conf.all.arp_ignore", "0"),
        ("net.ipv4.conf.default.arp_ignore", "0"),
        ("net.ipv4.conf.all.arp_announce", "0"),
        ("net.ipv4.conf.default.arp_announce", "0"),
        // Duplicate address detection would leave IPv6 addresses "tentative" for a second.
        ("net.ipv6.conf.all.accept_dad", "0"),
        ("net.ipv6.conf.default.accept_dad", "0"),
        ("net.ipv4.ip_forward", forward),
        ("net.ipv6.conf.all.forwarding", forward),
    ]
}

pub fn plan(lab: &Lab) -> Plan {
    let mut namespaces = Vec::new();
    let mut settings = Vec::new();
    let mut bridges = Vec::new();
    let mut links = Vec::new();
    let mut interfaces = Vec::new();
    let mut routes = Vec::new();
    let mut exec = Vec::new();
    let tag = owner_tag(&lab.name);

    for (i, node) in lab.nodes.iter().enumerate() {
        let ns = lab.netns(i);
        namespaces.push(Step::AddNetns { ns: ns.clone() });
        for (key, value) in sysctls(node.kind) {
            settings.push(Step::Sysctl {
                ns: ns.clone(),
                key: key.into(),
                value: value.into(),
            });
        }
        settings.push(Step::LoopbackUp {
            ns: ns.clone(),
            tag: tag.clone(),
        });
        if node.kind == NodeKind::Bridge {
            bridges.push(Step::AddBridge {
                ns: ns.clone(),
                name: node.name.clone(),
                stp: node.stp,
            });
        }
        for iface in &node.interfaces {
            let is_device = node.kind == NodeKind::Bridge && iface.name == node.name;
            let linked = is_device
                || lab.links.iter().any(|l| {
                    [&l.a, &l.b]
                        .iter()
                        .any(|e| e.node == i && e.iface == iface.name)
                });
            if !linked {
                continue;
            }
            if node.kind == NodeKind::Bridge && !is_device {
                interfaces.push(Step::SetMaster {
                    ns: ns.clone(),
                    dev: iface.name.clone(),
                    master: node.name.clone(),
                });
            }
            for addr in &iface.addresses {
                interfaces.push(Step::AddAddress {
                    ns: ns.clone(),
                    dev: iface.name.clone(),
                    addr: *addr,
                });
            }
            interfaces.push(Step::LinkUp {
                ns: ns.clone(),
                dev: iface.name.clone(),
            });
        }
        for gw in &node.gateways {
            let to = if gw.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
            routes.push(Step::AddRoute {
                ns: ns.clone(),
                to: to.parse().expect("a valid literal"),
                via: *gw,
            });
        }
        for r in &node.routes {
            routes.push(Step::AddRoute {
                ns: ns.clone(),
                to: r.to,
                via: r.via,
            });
        }
        for cmd in &node.exec {
            exec.push(Step::Exec {
                ns: ns.clone(),
                cmd: cmd.clone(),
            });
        }
    }
    for link in &lab.links {
        let end = |e: &crate::model::Endpoint| End {
            ns: lab.netns(e.node),
            dev: e.iface.clone(),
            mac: lab.nodes[e.node]
                .interfaces
                .iter()
                .find(|i| i.name == e.iface)
                .and_then(|i| i.mac.clone()),
        };
        let iface_mtu = |e: &crate::model::Endpoint| {
            lab.nodes[e.node]
                .interfaces
                .iter()
                .find(|i| i.name == e.iface)
                .and_then(|i| i.mtu)
        };
        links.push(Step::AddVeth {
            a: end(&link.a),
            b: end(&link.b),
            mtu: link.mtu.or(iface_mtu(&link.a)).or(iface_mtu(&link.b)),
        });
    }
    let stages = [
        ("namespaces", namespaces),
        ("settings", settings),
        ("bridges", bridges),
        ("links", links),
        ("interfaces", interfaces),
        ("routes", routes),
        ("exec", exec),
    ];
    Plan {
        stages: stages
            .into_iter()
            .filter(|(_, steps)| !steps.is_empty())
            .map(|(name, steps)| Stage {
                name: name.into(),
                steps,
            })
            .collect(),
    }
}
