//! `nat:` on a router: masquerade out of some interfaces, publish ports (DNAT) on others.

use std::net::SocketAddr;

use super::fields::*;
use super::*;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

#[derive(Debug)]
pub struct RawNat {
    pub masquerade: Vec<Sp<String>>,
    pub publish: Vec<RawPublish>,
    pub at: SourceSpan,
}

#[derive(Debug)]
pub struct RawPublish {
    pub on: Sp<String>,
    pub proto: Sp<String>,
    pub port: Sp<u16>,
    pub to: Sp<SocketAddr>,
}

const NAT_KEYS: &[&str] = &["masquerade", "publish"];
const PUBLISH_KEYS: &[&str] = &["on", "proto", "port", "to"];

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
            if let Some(rule) = read_publish(p, item) {
                publish.push(rule);
            }
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
    let on = f.get("on").and_then(|v| string(p, v, "on"));
    let proto = f.get("proto").and_then(|v| string(p, v, "proto"));
    let port = f.get("port").and_then(|v| port(p, v));
    let to = f.get("to").and_then(|v| {
        let text = string(p, v, "to")?;
        match text.v.parse::<SocketAddr>() {
            Ok(sa) => Some(Sp { v: sa, at: v.span }),
            Err(_) => {
                p.error(
                    "publish",
                    format!("`{}` is not ADDRESS:PORT", text.v),
                    v.span,
                    "where published connections go",
                    Some("for example `to: 172.17.0.2:8080` (IPv6: `[fd00::2]:8080`)".into()),
                );
                None
            }
        }
    });
    f.finish(p, PUBLISH_KEYS, "a published port");
    let (Some(on), Some(port), Some(to)) = (on, port, to) else {
        p.error(
            "missing_key",
            "a published port needs `on:`, `port:` and `to:`",
            n.span,
            "incomplete",
            Some("for example `{on: wan, proto: tcp, port: 49153, to: 172.17.0.2:8080}`".into()),
        );
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
    match &n.value {
        Value::Int(v) if (1..=65535).contains(v) => Some(Sp {
            v: *v as u16,
            at: n.span,
        }),
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
