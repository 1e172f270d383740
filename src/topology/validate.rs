//! Second pass: the raw lab becomes the model; references across the file, addresses,
//! routes, VLANs and layer-2 loops are checked by the modules this calls.

use miette::SourceSpan;
use petgraph::unionfind::UnionFind;

use super::diag::Problems;
use super::schema::RawLab;
use crate::model::{Interface, Lab, Node, NodeKind, Route};

pub(crate) fn build(p: &mut Problems, raw: RawLab, lab_name: String) -> Lab {
    let mut lab = Lab {
        name: lab_name,
        nodes: Vec::new(),
        links: Vec::new(),
        taps: Vec::new(),
        checks: Vec::new(),
        stages: Vec::new(),
    };
    for rn in &raw.nodes {
        let mut interfaces: Vec<Interface> = rn
            .interfaces
            .iter()
            .map(|i| Interface {
                name: i.name.v.clone(),
                vlan: i.vlan.clone(),
                addresses: i.addresses.iter().map(|a| a.v).collect(),
                mac: i.mac.as_ref().map(|m| m.v.clone()),
                mtu: i.mtu.as_ref().map(|m| m.v),
                at: i.name.at.into(),
            })
            .collect();
        // `eth0.10` without `eth0` declared: the parent exists all the same, unaddressed.
        for i in &rn.interfaces {
            if let Some((parent, _)) = &i.vlan
                && !interfaces.iter().any(|x| &x.name == parent)
            {
                interfaces.push(Interface::plain(parent, i.name.at.into()));
            }
        }
        if matches!(rn.kind, NodeKind::Bridge | NodeKind::Switch)
            && let Some(why) = crate::model::name::ifname_problem(&rn.name.v)
        {
            p.error(
                "name",
                format!(
                    "{} name `{}` cannot name its bridge device",
                    rn.kind.as_str(),
                    rn.name.v
                ),
                rn.name.at,
                why,
                Some("the bridge device is named after the node; choose a shorter name".into()),
            );
        }
        if rn.kind == NodeKind::Bridge {
            let mut device = Interface::plain(&rn.name.v, rn.name.at.into());
            device.addresses = rn.addresses.iter().map(|a| a.v).collect();
            interfaces.push(device);
        }
        for svi in &rn.svis {
            let mut i = Interface::plain(&crate::model::svi_name(svi.vlan.v), svi.vlan.at.into());
            i.addresses = svi.addresses.iter().map(|a| a.v).collect();
            interfaces.push(i);
        }
        lab.nodes.push(Node {
            name: rn.name.v.clone(),
            kind: rn.kind,
            interfaces,
            gateways: rn.gateways.iter().map(|g| g.v).collect(),
            routes: rn
                .routes
                .iter()
                .map(|r| Route {
                    to: r.to.v,
                    via: r.via.v,
                })
                .collect(),
            exec: rn.exec.clone(),
            exec_timeout_ms: rn.exec_timeout,
            stp: rn.stp,
            stp_priority: rn.priority.as_ref().map(|p| p.v),
            hub: rn.hub,
            inside: None,
            isolate: rn.isolate.iter().map(|i| i.v.clone()).collect(),
            ports: Vec::new(),
            nat: rn.nat.as_ref().map(|n| crate::model::Nat {
                masquerade: n.masquerade.iter().map(|m| m.v.clone()).collect(),
                publish: n
                    .publish
                    .iter()
                    .map(|r| crate::model::Publish {
                        on: r.on.v.clone(),
                        proto: if r.proto.v == "udp" {
                            crate::model::Proto::Udp
                        } else {
                            crate::model::Proto::Tcp
                        },
                        port: r.port.v,
                        to: r.to.v,
                    })
                    .collect(),
                at: n.at.into(),
            }),
            svis: rn
                .svis
                .iter()
                .map(|s| crate::model::Svi {
                    vlan: s.vlan.v,
                    addresses: s.addresses.iter().map(|a| a.v).collect(),
                })
                .collect(),
            at: rn.name.at.into(),
        });
    }
    placements(p, &raw, &mut lab);
    isolations(p, &raw, &lab);
    super::links::links(p, &raw, &mut lab);
    super::links::nat_interfaces(p, &raw, &lab);
    super::mtu::mtus(p, &raw);
    super::vlan::ports_and_vlans(p, &raw, &mut lab);
    super::segments::macs(p, &raw, &lab);
    unused_interfaces(p, &raw);
    super::addresses::addresses(p, &raw);
    super::routes::routes(p, &raw, &lab);
    loops(p, &lab);
    super::checks::checks(p, &raw, &mut lab);
    lab
}

/// Bridges that live inside another node (`in:`): it must be a host or router of the lab (not
/// the machine), and nothing of the bridge may take a name that node's interfaces have.
fn placements(p: &mut Problems, raw: &RawLab, lab: &mut Lab) {
    for (i, rn) in raw.nodes.iter().enumerate() {
        let Some(inside) = &rn.inside else { continue };
        let Some(h) = super::resolve::resolve_node(p, lab, &inside.v, inside.at) else {
            continue;
        };
        let host = &lab.nodes[h];
        let why = if host.name == crate::model::MACHINE {
            Some("vnet puts no bridge on the machine itself")
        } else if !matches!(host.kind, NodeKind::Host | NodeKind::Router) {
            Some("a bridge lives inside a host or a router")
        } else {
            None
        };
        if let Some(why) = why {
            p.error(
                "inside",
                format!("bridge `{}` cannot live inside `{}`", rn.name.v, inside.v),
                inside.at,
                why,
                None,
            );
            continue;
        }
        if host.interfaces.iter().any(|x| x.name == rn.name.v) {
            p.error(
                "inside",
                format!(
                    "`{}` already has an interface `{}`, the name of the bridge inside it",
                    inside.v, rn.name.v
                ),
                rn.name.at,
                "the bridge device would take this name",
                Some(format!(
                    "drop `{}:{}` and give the bridge its address (`addresses:`), as docker0 has",
                    inside.v, rn.name.v
                )),
            );
            continue;
        }
        lab.nodes[i].inside = Some(h);
    }
    // Ports of bridges in one namespace, and that namespace's own interfaces, are one set of
    // names.
    for (i, rn) in raw.nodes.iter().enumerate() {
        let Some(h) = lab.nodes[i].inside else {
            continue;
        };
        for link in &raw.links {
            for e in [&link.a, &link.b]
                .into_iter()
                .filter(|e| e.node == rn.name.v)
            {
                let clash = lab.nodes[h].interfaces.iter().any(|x| x.name == e.iface)
                    || raw.nodes.iter().enumerate().any(|(j, other)| {
                        j != i
                            && lab.nodes[j].inside == Some(h)
                            && raw
                                .links
                                .iter()
                                .flat_map(|l| [&l.a, &l.b])
                                .any(|o| o.node == other.name.v && o.iface == e.iface)
                    });
                if clash {
                    p.error(
                        "inside",
                        format!(
                            "port `{}:{}` takes a name already used in `{}`'s namespace",
                            rn.name.v, e.iface, lab.nodes[h].name
                        ),
                        e.at,
                        "another interface there has this name",
                        Some(
                            "the bridge lives inside that node: give its ports names of their own"
                                .into(),
                        ),
                    );
                }
            }
        }
    }
}

/// `isolate:` names interfaces of a router, or bridges inside it, two at least.
fn isolations(p: &mut Problems, raw: &RawLab, lab: &Lab) {
    for (i, rn) in raw.nodes.iter().enumerate() {
        let Some(first) = rn.isolate.first() else {
            continue;
        };
        let node = &lab.nodes[i];
        if node.name == crate::model::MACHINE || node.kind != NodeKind::Router {
            p.error(
                "isolate",
                "`isolate:` is for routers",
                first.at,
                "only a router forwards between its interfaces",
                Some(if node.name == crate::model::MACHINE {
                    "vnet sets no filter on the machine itself".to_owned()
                } else {
                    format!("make `{}` a router (`kind: router`)", node.name)
                }),
            );
            continue;
        }
        let local: Vec<&str> = lab.local_interfaces(i).map(|x| x.name.as_str()).collect();
        for name in &rn.isolate {
            if !local.contains(&name.v.as_str()) {
                let help = match crate::model::name::closest(&name.v, local.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("its interfaces: {}", local.join(", ")),
                };
                p.error(
                    "isolate",
                    format!("`{}` has no interface `{}`", node.name, name.v),
                    name.at,
                    "not an interface of this router, nor a bridge inside it",
                    Some(help),
                );
            }
        }
        if rn.isolate.len() < 2 {
            p.error(
                "isolate",
                "`isolate:` needs two interfaces at least: the networks kept apart",
                first.at,
                "only one here",
                Some("for example `isolate: [docker0, br-app]`".into()),
            );
        }
    }
}

fn unused_interfaces(p: &mut Problems, raw: &RawLab) {
    for rn in &raw.nodes {
        for ri in &rn.interfaces {
            // A sub-interface is linked when its parent is.
            let name = ri.vlan.as_ref().map_or(&ri.name.v, |v| &v.0);
            // Judged on the links as written, so a link with a bad other end still counts.
            let linked = raw.links.iter().any(|l| {
                [&l.a, &l.b]
                    .iter()
                    .any(|e| e.node == rn.name.v && &e.iface == name)
            });
            if !linked {
                let problem = p
                    .new_problem(
                        "unlinked_interface",
                        format!(
                            "interface `{}:{}` is not linked to anything",
                            rn.name.v, ri.name.v
                        ),
                    )
                    .label(ri.name.at, "no link ends here; it will not be created")
                    .help(format!(
                        "add a link such as `[{}:{}, OTHER:IFACE]`",
                        rn.name.v, ri.name.v
                    ))
                    .warning();
                p.push(problem);
            }
        }
    }
}

/// Bridges joined in a cycle flood broadcasts forever unless spanning tree breaks the loop:
/// every bridge of it must run STP. The error names the whole cycle, each link of it marked.
fn loops(p: &mut Problems, lab: &Lab) {
    let bridged = |n: usize| matches!(lab.nodes[n].kind, NodeKind::Bridge | NodeKind::Switch);
    let mut uf = UnionFind::<usize>::new(lab.nodes.len());
    // The links kept so far, a forest: the one path between two of its bridges is the rest
    // of the loop a new link between them closes.
    let mut tree: Vec<Vec<(usize, usize)>> = vec![Vec::new(); lab.nodes.len()];
    for (li, l) in lab.links.iter().enumerate() {
        let (a, b) = (l.a.node, l.b.node);
        if !(bridged(a) && bridged(b)) {
            continue;
        }
        if uf.union(a, b) {
            tree[a].push((b, li));
            tree[b].push((a, li));
            continue;
        }
        let path = path_between(&tree, b, a);
        let mut cycle: Vec<usize> = path.iter().map(|(n, _)| *n).collect();
        cycle.push(b);
        let without: Vec<&str> = {
            let mut seen: Vec<usize> = cycle.clone();
            seen.sort_unstable();
            seen.dedup();
            seen.iter()
                .filter(|n| !lab.nodes[**n].stp)
                .map(|n| lab.nodes[*n].name.as_str())
                .collect()
        };
        if without.is_empty() {
            continue;
        }
        let names: Vec<String> = cycle
            .iter()
            .map(|n| format!("`{}`", lab.nodes[*n].name))
            .collect();
        let mut problem = p
            .new_problem(
                "l2_loop",
                format!("this link closes a layer-2 loop: {}", names.join(" → ")),
            )
            .label(
                SourceSpan::from(l.at),
                "broadcasts would circle this loop forever",
            );
        for (_, link) in path.iter().skip(1) {
            problem = problem.label(SourceSpan::from(lab.links[*link].at), "part of the loop");
        }
        problem = problem.help(format!(
            "remove one link of the loop, or set `stp: true` on the bridges in it ({})",
            without
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        p.push(problem);
    }
}

/// The path from `from` to `to` in a forest, as (node, link that reached it) from `from`
/// (reached by no link: `usize::MAX`) to `to`; just `from` when they are one.
fn path_between(tree: &[Vec<(usize, usize)>], from: usize, to: usize) -> Vec<(usize, usize)> {
    let mut came: Vec<Option<(usize, usize)>> = vec![None; tree.len()];
    let mut queue = std::collections::VecDeque::from([from]);
    came[from] = Some((from, usize::MAX));
    while let Some(n) = queue.pop_front() {
        if n == to {
            break;
        }
        for &(m, link) in &tree[n] {
            if came[m].is_none() {
                came[m] = Some((n, link));
                queue.push_back(m);
            }
        }
    }
    let mut path = Vec::new();
    let mut n = to;
    while let Some((prev, link)) = came[n] {
        path.push((n, link));
        if n == from {
            break;
        }
        n = prev;
    }
    path.reverse();
    path
}
