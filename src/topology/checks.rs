//! The `expect:` list: who probes whom, how (ICMP, ARP, TCP, UDP), and what must be seen.

use std::net::{IpAddr, SocketAddr};

use super::diag::Problems;
use super::resolve::resolve_node;
use super::schema::address::padded;
use super::schema::{RawAction, RawCheck, RawLab, Sp};
use crate::model::attack::Part;
use crate::model::{Action, Check, Lab, Proto, Stage, Target};

/// `to:` as written: a node or an address, maybe with a port (`web:80`, `10.0.0.1:80`,
/// `[fd00::1]:80`).
fn parse_target(p: &mut Problems, lab: &Lab, to: &Sp<String>) -> Option<(Target, Option<u16>)> {
    let text = to.v.as_str();
    if padded(p, to) {
        return None;
    }
    if let Ok(a) = text.parse::<IpAddr>() {
        return Some((Target::Addr(a), None));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some((Target::Addr(sa.ip()), Some(sa.port())));
    }
    if text.contains('/') {
        p.error(
            "address",
            format!("`{text}` is not a single address"),
            to.at,
            "a check probes an address or a node",
            text.split_once('/')
                .map(|(a, _)| format!("write `to: {a}`")),
        );
        return None;
    }
    let (node, port) = match text.rsplit_once(':') {
        Some((node, port)) if !node.contains(':') => match port.parse::<u16>() {
            Ok(port) if port > 0 => (node, Some(port)),
            _ => {
                p.error(
                    "port",
                    format!("`{port}` is not a port number"),
                    to.at,
                    "expected NODE:PORT with a port from 1 to 65535",
                    None,
                );
                return None;
            }
        },
        _ => (text, None),
    };
    resolve_node(p, lab, node, to.at).map(|n| (Target::Node(n), port))
}

fn proto(p: &mut Problems, rc: &RawCheck) -> Option<Proto> {
    let Some(text) = &rc.proto else {
        return Some(Proto::Icmp);
    };
    match text.v.as_str() {
        "icmp" => Some(Proto::Icmp),
        "tcp" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        other => {
            p.error(
                "proto",
                format!("unknown protocol `{other}`"),
                text.at,
                "vnet probes icmp, tcp and udp",
                None,
            );
            None
        }
    }
}

pub(crate) fn checks(p: &mut Problems, raw: &RawLab, lab: &mut Lab) {
    for rc in &raw.checks {
        if let Some(c) = check(p, lab, rc) {
            lab.checks.push(c);
        }
    }
    for rs in &raw.stages {
        let actions = rs
            .actions
            .iter()
            .filter_map(|a| action(p, lab, a))
            .collect();
        let checks = rs.checks.iter().filter_map(|c| check(p, lab, c)).collect();
        lab.stages.push(Stage {
            name: rs.name.v.clone(),
            actions,
            checks,
            at: rs.at.into(),
        });
    }
}

/// A stage's action, its names resolved.
fn action(p: &mut Problems, lab: &Lab, a: &RawAction) -> Option<Action> {
    match a {
        RawAction::ArpSpoof {
            from,
            claim,
            to,
            at,
        } => {
            let (from_at, to_at) = (from.at, to.at);
            let from = resolve_node(p, lab, &from.v, from.at);
            let to = resolve_node(p, lab, &to.v, to.at);
            let (from, to) = (from?, to?);
            if let Err(r) = crate::model::attack::arp_spoof(lab, from, claim.v, to) {
                let at = match r.part {
                    Part::Attacker => from_at,
                    Part::Claim => claim.at,
                    Part::Victim => to_at,
                };
                p.error("action", r.message, at, r.label, r.help);
                return None;
            }
            Some(Action::ArpSpoof {
                from,
                claim: claim.v,
                to,
                at: (*at).into(),
            })
        }
        RawAction::Link {
            node,
            iface,
            up,
            at,
        } => {
            let n = resolve_node(p, lab, &node.v, node.at)?;
            let has = lab.nodes[n].interfaces.iter().any(|i| i.name == iface.v)
                || lab.links.iter().any(|l| {
                    [&l.a, &l.b]
                        .iter()
                        .any(|e| e.node == n && e.iface == iface.v)
                });
            if !has {
                p.error(
                    "action",
                    format!("node `{}` has no interface `{}`", node.v, iface.v),
                    iface.at,
                    "not one of its interfaces",
                    None,
                );
                return None;
            }
            Some(Action::Link {
                node: n,
                iface: iface.v.clone(),
                up: *up,
                at: (*at).into(),
            })
        }
        RawAction::Impair {
            node,
            iface,
            settings,
            at,
        } => {
            let n = resolve_node(p, lab, &node.v, node.at)?;
            let veth_end = lab.nodes[n].name != crate::model::MACHINE
                && lab.links.iter().any(|l| {
                    l.kind == crate::model::LinkKind::Veth
                        && [&l.a, &l.b]
                            .iter()
                            .any(|e| e.node == n && e.iface == iface.v)
                });
            if !veth_end {
                let ends: Vec<String> = lab
                    .links
                    .iter()
                    .filter(|l| l.kind == crate::model::LinkKind::Veth)
                    .flat_map(|l| [&l.a, &l.b])
                    .filter(|e| e.node == n)
                    .map(|e| format!("{}:{}", node.v, e.iface))
                    .collect();
                p.error(
                    "action",
                    format!(
                        "`{}:{}` is not the lab's end of a veth link, so nothing can be impaired there",
                        node.v, iface.v
                    ),
                    iface.at,
                    "a qdisc shapes what a veth end sends",
                    Some(if ends.is_empty() {
                        format!("`{}` has no veth link of its own", node.v)
                    } else {
                        format!("its veth ends: {}", ends.join(", "))
                    }),
                );
                return None;
            }
            Some(Action::Impair {
                node: n,
                iface: iface.v.clone(),
                impair: settings.clone(),
                at: (*at).into(),
            })
        }
        RawAction::Exec { on, run, at } => {
            let node = resolve_node(p, lab, &on.v, on.at)?;
            if lab.on_machine(node) {
                p.error(
                    "action",
                    "commands on the machine are yours to run, not the lab's",
                    on.at,
                    "`host` is the machine itself",
                    None,
                );
                return None;
            }
            Some(Action::Exec {
                node,
                cmd: run.v.clone(),
                at: (*at).into(),
            })
        }
    }
}

fn check(p: &mut Problems, lab: &Lab, rc: &RawCheck) -> Option<Check> {
    if let Some(is) = &rc.neighbour_is {
        return super::neighbour::check(p, lab, rc, is);
    }
    let seen_by: Vec<Option<usize>> = rc
        .seen_by
        .iter()
        .map(|v| resolve_node(p, lab, &v.v, v.at))
        .collect();
    let unseen_by: Vec<Option<usize>> = rc
        .unseen_by
        .iter()
        .map(|v| resolve_node(p, lab, &v.v, v.at))
        .collect();
    let seen_by: Vec<usize> = seen_by.into_iter().collect::<Option<_>>()?;
    let unseen_by: Vec<usize> = unseen_by.into_iter().collect::<Option<_>>()?;
    let from = resolve_node(p, lab, &rc.from.v, rc.from.at);
    let to = parse_target(p, lab, &rc.to);
    let proto = proto(p, rc);
    let via: Vec<Option<usize>> = rc
        .via
        .iter()
        .map(|v| resolve_node(p, lab, &v.v, v.at))
        .collect();
    let seen_as =
        rc.seen_as
            .as_ref()
            .filter(|s| !padded(p, s))
            .and_then(|s| match s.v.parse::<IpAddr>() {
                Ok(a) => Some(Target::Addr(a)),
                Err(_) => resolve_node(p, lab, &s.v, s.at).map(Target::Node),
            });
    let (from, (to, port), proto) = (from?, to?, proto?);
    let via: Vec<usize> = via.into_iter().collect::<Option<_>>()?;
    if lab.addresses(from).next().is_none() {
        p.error(
            "check_source",
            format!("`{}` has no address to probe from", lab.nodes[from].name),
            rc.from.at,
            "no IP address on this node",
            Some("give one of its interfaces an address".into()),
        );
        return None;
    }
    let families: Vec<bool> = lab.addresses(from).map(|a| a.addr().is_ipv4()).collect();
    match to {
        Target::Node(t)
            if !lab
                .addresses(t)
                .any(|a| families.contains(&a.addr().is_ipv4())) =>
        {
            p.error(
                "check_target",
                format!(
                    "`{}` has no address `{}` could reach",
                    lab.nodes[t].name, lab.nodes[from].name
                ),
                rc.to.at,
                "no address of a family the source has",
                None,
            );
            return None;
        }
        Target::Addr(a) if !families.contains(&a.is_ipv4()) => {
            p.error(
                "check_family",
                format!(
                    "`{}` has no IPv{} address to probe {a} from",
                    lab.nodes[from].name,
                    if a.is_ipv4() { 4 } else { 6 }
                ),
                rc.to.at,
                "other IP version than the source's",
                None,
            );
            return None;
        }
        _ => {}
    }
    let layer = rc.layer.as_ref().map_or(3, |l| l.v);
    if layer == 2
        && (proto != Proto::Icmp || port.is_some() || !via.is_empty() || rc.seen_as.is_some())
    {
        p.error(
            "layer",
            "a layer-2 check only asks for an address",
            rc.at,
            "`proto`, ports, `via` and `seen_as` are layer 3 and above",
            None,
        );
        return None;
    }
    match (proto, port) {
        (Proto::Icmp, Some(_)) => {
            p.error(
                "port",
                "an ICMP check has no port",
                rc.to.at,
                "a port here needs `proto: tcp` or `proto: udp`",
                Some("add `proto: tcp` (or udp), or drop the port".into()),
            );
            return None;
        }
        (Proto::Tcp, None) if rc.rate_at.is_some() => {}
        (Proto::Tcp | Proto::Udp, None) => {
            // `fd00:b::2:80` is an IPv6 address, not an address and a port.
            let help = match (to, rc.to.v.rsplit_once(':')) {
                (Target::Addr(IpAddr::V6(_)), Some((addr, port)))
                    if port.parse::<u16>().is_ok() && addr.parse::<IpAddr>().is_ok() =>
                {
                    format!(
                        "an IPv6 address with a port is written in brackets: `to: \"[{addr}]:{port}\"`"
                    )
                }
                (Target::Addr(IpAddr::V6(a)), _) => {
                    format!(
                        "an IPv6 address with a port is written in brackets: `to: \"[{a}]:PORT\"`"
                    )
                }
                _ => format!("write `to: {}:PORT`", rc.to.v),
            };
            p.error(
                "port",
                format!("a {} check needs a port", proto.as_str()),
                rc.to.at,
                "no port",
                Some(help),
            );
            return None;
        }
        _ => {}
    }
    if let Some(s) = &rc.seen_as {
        if proto == Proto::Icmp {
            p.error(
                "seen_as",
                "`seen_as` needs a TCP or UDP check",
                s.at,
                "only vnet's listener can tell who connected",
                Some("add `proto: tcp` and a port".into()),
            );
            return None;
        }
        if rc.listen == Some(false) {
            p.error(
                "seen_as",
                "`seen_as` needs vnet's own listener",
                s.at,
                "with `listen: false` vnet cannot see who connected",
                None,
            );
            return None;
        }
        seen_as.as_ref()?;
    }
    if let (false, Proto::Tcp | Proto::Udp, None, Some(port)) = (rc.reach, proto, rc.listen, port) {
        // vnet listens there itself, so the check connects unless the path is closed: on a
        // router it proves a filter, not that no service of the lab answers.
        let owner = match to {
            Target::Node(n) => Some(n),
            Target::Addr(a) => lab.owner(a),
        };
        if let Some(o) = owner.filter(|o| {
            lab.nodes[*o].kind == crate::model::NodeKind::Router || lab.nodes[*o].nat.is_some()
        }) {
            let w = p
                .new_problem(
                    "listener",
                    format!(
                        "vnet opens a listener of its own on `{}` port {port} for this check",
                        lab.nodes[o].name
                    ),
                )
                .label(rc.to.at, "a router: vnet listens here if nobody does")
                .help(
                    "so `reach: false` holds only if the path itself is closed; add `listen: false` to prove instead that no service of the lab answers there",
                )
                .warning();
            p.push(w);
        }
    }
    if !via.is_empty() && !rc.reach {
        p.error(
            "via",
            "`via` needs a check that must reach",
            rc.at,
            "a path is only known when the packets arrive",
            None,
        );
        return None;
    }
    let measure = measured(p, rc, proto, port, layer, &via)?;
    Some(Check {
        from,
        to,
        reach: rc.reach,
        layer,
        proto,
        port,
        seen_as,
        listen: rc.listen.unwrap_or(true),
        via,
        seen_by,
        unseen_by,
        neighbour_is: None,
        measure,
        within_ms: rc.within,
        at: rc.at.into(),
    })
}

/// `rtt:` and `loss:` measure ICMP echo, `rate:` a TCP transfer; all of a path that must reach.
/// `Some(None)`: nothing measured; `None`: refused (reported).
fn measured(
    p: &mut Problems,
    rc: &RawCheck,
    proto: Proto,
    port: Option<u16>,
    layer: u8,
    via: &[usize],
) -> Option<Option<crate::model::measure::Measure>> {
    let (rtt, loss, rate) = (&rc.rtt, &rc.loss, &rc.rate);
    if rtt.is_none() && loss.is_none() && rate.is_none() {
        return Some(None);
    }
    let mut ok = true;
    let first = [rtt, loss, rate]
        .into_iter()
        .flatten()
        .map(|b| b.at)
        .next()
        .unwrap_or(rc.at);
    if !rc.reach {
        p.error(
            "measure",
            "a measuring check must reach",
            first,
            "nothing to measure when nothing arrives",
            Some("drop `reach: false`, or the bound".into()),
        );
        ok = false;
    }
    if layer == 2 || !via.is_empty() {
        p.error(
            "measure",
            "`rtt`, `loss` and `rate` measure layer 3 and 4, without `via`",
            first,
            "not with `layer: 2` or `via:`",
            Some("write the measurement as a check of its own".into()),
        );
        ok = false;
    }
    for b in [rtt, loss].into_iter().flatten() {
        if proto != Proto::Icmp {
            p.error(
                "measure",
                "`rtt` and `loss` measure ICMP echo",
                b.at,
                "not with `proto: tcp|udp`",
                Some("write them on a check without `proto:` (ICMP)".into()),
            );
            ok = false;
        }
    }
    if let Some(b) = rate {
        if proto != Proto::Tcp {
            p.error(
                "measure",
                "`rate` needs `proto: tcp`",
                b.at,
                "vnet measures throughput with a TCP transfer",
                Some("add `proto: tcp` (no port needed: vnet listens on one of its own)".into()),
            );
            ok = false;
        } else if port.is_some() && rc.listen == Some(false) {
            p.error(
                "measure",
                "`rate` needs vnet's own listener",
                b.at,
                "with `listen: false` vnet cannot count what arrives",
                None,
            );
            ok = false;
        }
    }
    ok.then(|| {
        Some(crate::model::measure::Measure {
            rtt_us: rtt.as_ref().map(|b| b.v),
            loss_ppb: loss.as_ref().map(|b| b.v),
            rate_bps: rate.as_ref().map(|b| b.v),
        })
    })
}
