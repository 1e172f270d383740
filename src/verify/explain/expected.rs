//! What vnet builds in each namespace, from the lab's model: every device up, the file's
//! addresses, the connected routes the kernel adds and the file's routes, forwarding on
//! routers and layer-3 switches, and the nftables tables of `nat:`, `isolate:` and `allow:`.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::apply::live::{Dev, PortState, Route, RouteKind, Space};
use crate::model::{Lab, MACHINE, NodeKind};

pub(crate) fn spaces(lab: &Lab) -> HashMap<String, Space> {
    let mut out: HashMap<String, Space> = HashMap::new();
    // Each namespace's devices by name, as they are added (a bridge may have thousands).
    let mut index: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for (i, node) in lab.nodes.iter().enumerate() {
        let machine = node.name == MACHINE;
        let ns = lab.netns(i);
        let by_name = index.entry(ns.clone()).or_default();
        let space = out.entry(ns).or_default();
        let bridge_like = matches!(node.kind, NodeKind::Bridge | NodeKind::Switch);
        let mut names: Vec<String> = node.interfaces.iter().map(|f| f.name.clone()).collect();
        names.extend(node.ports.iter().map(|p| p.name.clone()));
        for l in &lab.links {
            for e in [&l.a, &l.b] {
                if e.node == i {
                    names.push(e.iface.clone());
                }
            }
        }
        let master = bridge_like.then(|| space.devs.len() as u32 + 1);
        for name in names {
            if by_name.contains_key(&name) {
                continue;
            }
            let index = space.devs.len() as u32 + 1;
            by_name.insert(name.clone(), index);
            let port = bridge_like && name != node.name && !name.starts_with("vlan");
            space.devs.push(Dev {
                index,
                name,
                admin_up: true,
                carrier: true,
                lacks_carrier: false,
                master: if port { master } else { None },
                port: port.then_some(PortState::Forwarding),
                vlans: Vec::new(),
                mac: None,
                vlan_filtering: false,
            });
        }
        let forward = node.kind == NodeKind::Router
            || (node.kind == NodeKind::Switch && !node.svis.is_empty());
        // The machine's own forwarding and tables are its own, not the lab's, but for NAT.
        if node.inside.is_none() && !machine {
            space.forward_v4 = Some(forward);
            space.forward_v6 = Some(forward);
        }
        let mut tables: Vec<String> = space.tables.take().unwrap_or_default();
        if node.nat.is_some() {
            tables.push(if machine {
                format!("inet vnet-{}", lab.name)
            } else {
                "inet vnet_nat".into()
            });
        }
        if !node.isolate.is_empty() {
            tables.push("inet vnet_filter".into());
        }
        if node.ports.iter().any(|p| !p.allow.is_empty()) {
            tables.push(super::l2::SECURITY_TABLE.into());
        }
        space.tables = (!machine || !tables.is_empty()).then_some(tables);
        for f in &node.interfaces {
            let Some(&index) = by_name.get(&f.name) else {
                continue;
            };
            for a in &f.addresses {
                space.addrs.push((index, *a));
                space.routes.push(Route {
                    to: a.trunc(),
                    via: None,
                    dev: Some(index),
                    kind: RouteKind::Unicast,
                });
            }
        }
        let via_dev = |space: &Space, via: IpAddr| {
            space
                .addrs
                .iter()
                .find(|(_, a)| a.contains(&via))
                .map(|(i, _)| *i)
        };
        let mut routes: Vec<(IpNet, IpAddr)> = node.routes.iter().map(|r| (r.to, r.via)).collect();
        for g in &node.gateways {
            let any: IpNet = if g.is_ipv4() {
                "0.0.0.0/0".parse().unwrap_or_default()
            } else {
                "::/0".parse().unwrap_or_default()
            };
            routes.push((any, *g));
        }
        for (to, via) in routes {
            let dev = via_dev(space, via);
            space.routes.push(Route {
                to,
                via: Some(via),
                dev,
                kind: RouteKind::Unicast,
            });
        }
    }
    out
}
