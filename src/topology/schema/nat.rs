//! `nat:` on a router: masquerade out of some interfaces, publish ports (DNAT) on others.

use std::net::SocketAddr;

use super::address::*;
use super::fields::*;
use super::*;
use crate::topology::diag::Problems;
use crate::topology::yaml::Node;

#[derive(Debug)]
pub(crate) struct RawNat {
    pub masquerade: Vec<Sp<String>>,
    pub publish: Vec<RawPublish>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub(crate) struct RawPublish {
    pub on: Sp<String>,
    pub proto: Sp<String>,
    pub port: Sp<u16>,
    pub to: Sp<SocketAddr>,
}

pub(super) fn read_nat(p: &mut Problems, n: &Node) -> Option<RawNat> {
    let mut f = Fields::of(p, n, "nat")?;
    let masquerade = f
        .get("masquerade")
        .map(|m| {
            one_or_many(m)
                .into_iter()
                .filter_map(|i| string(p, i, "an interface"))
                .collect()
        })
        .unwrap_or_default();
    let mut publish = Vec::new();
    if let Some(list_node) = f.get("publish") {
        for item in list(p, list_node, "publish") {
            let Some(rule) = read_publish(p, item) else {
                continue;
            };
            // nft would take both rules, and the first would win without a word.
            let same = |r: &&RawPublish| {
                r.on.v == rule.on.v && r.proto.v == rule.proto.v && r.port.v == rule.port.v
            };
            if let Some(first) = publish.iter().find(same) {
                let problem = p
                    .new_problem(
                        "publish",
                        format!(
                            "{} port {} on `{}` is published twice",
                            rule.proto.v, rule.port.v, rule.on.v
                        ),
                    )
                    .label(first.port.at, "first published here")
                    .label(rule.port.at, "published again here")
                    .help("one published port leads to one destination; publish another port for the second");
                p.push(problem);
                continue;
            }
            publish.push(rule);
        }
    }
    f.finish(p, NAT_KEYS, "nat");
    Some(RawNat {
        masquerade,
        publish,
        at: n.span,
    })
}

fn read_publish(p: &mut Problems, n: &Node) -> Option<RawPublish> {
    let mut f = Fields::of(p, n, "a published port")?;
    let (on_node, port_node, to_node) = (f.get("on"), f.get("port"), f.get("to"));
    let on = on_node.and_then(|v| string(p, v, "on"));
    let proto = f.get("proto").and_then(|v| string(p, v, "proto"));
    let port = port_node.and_then(|v| port(p, v));
    let to = to_node.and_then(|v| socket_addr(p, v));
    f.finish(p, PUBLISH_KEYS, "a published port");
    let (Some(on), Some(port), Some(to)) = (on, port, to) else {
        // A value that is there but wrong has been reported already.
        if on_node.is_none() || port_node.is_none() || to_node.is_none() {
            p.error(
                "missing_key",
                "a published port needs `on:`, `port:` and `to:`",
                n.span,
                "incomplete",
                Some(
                    "for example `{on: wan, proto: tcp, port: 49153, to: 172.17.0.2:8080}`".into(),
                ),
            );
        }
        return None;
    };
    let proto = match proto {
        Some(pr) if pr.v == "tcp" || pr.v == "udp" => pr,
        Some(pr) => {
            p.error(
                "proto",
                format!("cannot publish `{}`", pr.v),
                pr.at,
                "ports are tcp or udp",
                None,
            );
            return None;
        }
        None => Sp {
            v: "tcp".into(),
            at: n.span,
        },
    };
    Some(RawPublish {
        on,
        proto,
        port,
        to,
    })
}

pub(super) fn port(p: &mut Problems, n: &Node) -> Option<Sp<u16>> {
    match number(p, n, "a port", "8080")? {
        v @ 1..=65535 => Some(Sp {
            v: v as u16,
            at: n.span,
        }),
        0 => {
            p.error(
                "port",
                "port 0 cannot be published",
                n.span,
                "no connection is made to port 0",
                Some("publish a port from 1 to 65535".into()),
            );
            None
        }
        _ => {
            p.error(
                "port",
                "a port is a number from 1 to 65535",
                n.span,
                "not a port",
                None,
            );
            None
        }
    }
}
