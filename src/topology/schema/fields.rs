//! Readers for the shapes and scalars of a topology: mappings with known keys, strings,
//! numbers, addresses, names. Each records what is wrong and returns `None`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::Sp;
use crate::model::name::{closest, ifname_problem, node_name_problem};
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

/// The keys of a mapping, with a note of which ones were read.
pub(super) struct Fields<'n> {
    pub(super) entries: &'n [(Node, Node)],
    used: Vec<bool>,
}

impl<'n> Fields<'n> {
    pub(super) fn of(p: &mut Problems, node: &'n Node, what: &str) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(Fields {
                entries,
                used: vec![false; entries.len()],
            }),
            other => {
                p.error(
                    "type",
                    format!("{what} must be a mapping, found {}", other.kind()),
                    node.span,
                    "expected `key: value` pairs here",
                    None,
                );
                None
            }
        }
    }

    pub(super) fn get(&mut self, key: &str) -> Option<&'n Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// Reports every key that was not read, with the closest known key as a hint.
    pub(super) fn finish(self, p: &mut Problems, known: &[&str], what: &str) {
        for ((k, _), used) in self.entries.iter().zip(self.used) {
            if used {
                continue;
            }
            let key = k.scalar_text().unwrap_or_default();
            let hint = match closest(&key, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("{what} takes: {}", known.join(", ")),
            };
            p.error(
                "unknown_key",
                format!("unknown key `{key}` in {what}"),
                k.span,
                "not a known key here",
                Some(hint),
            );
        }
    }
}

pub(super) fn string(p: &mut Problems, node: &Node, what: &str) -> Option<Sp<String>> {
    match &node.value {
        Value::Str(s) => Some(Sp {
            v: s.clone(),
            at: node.span,
        }),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(Sp {
            v: node.scalar_text().unwrap_or_default(),
            at: node.span,
        }),
        other => {
            p.error(
                "type",
                format!("{what} must be a string, found {}", other.kind()),
                node.span,
                "expected a single value",
                None,
            );
            None
        }
    }
}

pub(super) fn boolean(p: &mut Problems, node: &Node, what: &str) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            p.error(
                "type",
                format!("{what} must be true or false, found {}", other.kind()),
                node.span,
                "expected `true` or `false`",
                None,
            );
            None
        }
    }
}

pub(super) fn mtu(p: &mut Problems, node: &Node) -> Option<u32> {
    match &node.value {
        Value::Int(n) if (68..=65535).contains(n) => Some(*n as u32),
        Value::Int(n) => {
            p.error(
                "mtu",
                format!("MTU {n} is out of range"),
                node.span,
                "Linux accepts 68 to 65535",
                None,
            );
            None
        }
        other => {
            p.error(
                "type",
                format!("mtu must be a number, found {}", other.kind()),
                node.span,
                "expected a number such as 1500",
                None,
            );
            None
        }
    }
}

/// A span of time: `30s`, `2m`, `500ms`, `1h`, or a number of seconds; in milliseconds,
/// more than nothing and at most a day.
pub(super) fn duration(p: &mut Problems, node: &Node, what: &str) -> Option<u64> {
    let ms = match &node.value {
        Value::Int(n) => u64::try_from(*n).ok().and_then(|s| s.checked_mul(1000)),
        Value::Str(s) => parse_duration(s),
        _ => None,
    };
    match ms {
        Some(ms) if ms > 0 && ms <= 86_400_000 => Some(ms),
        Some(_) => {
            p.error(
                "duration",
                format!("{what} must be more than 0 and at most 24h"),
                node.span,
                "out of range",
                None,
            );
            None
        }
        None => {
            let found = match &node.value {
                Value::Str(s) => format!("`{}` is not one", s.chars().take(40).collect::<String>()),
                other => format!("found {}", other.kind()),
            };
            p.error(
                "type",
                format!("{what} must be a duration; {found}"),
                node.span,
                "expected a duration such as `30s`, `2m` or `500ms`",
                None,
            );
            None
        }
    }
}

/// `500ms`, `30s`, `1.5s`, `2m`, `1h` in milliseconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    let ms = n * scale;
    (ms.is_finite() && (0.0..1e15).contains(&ms)).then(|| ms.round() as u64)
}

/// A list, or a single item standing for a list of one (`gateway: 10.0.0.1`).
pub(super) fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![node],
    }
}

pub(super) fn list<'n>(p: &mut Problems, node: &'n Node, what: &str) -> &'n [Node] {
    match &node.value {
        Value::Seq(items) => items,
        Value::Null => &[],
        other => {
            p.error(
                "type",
                format!("{what} must be a list, found {}", other.kind()),
                node.span,
                "expected a list (`- item` lines or `[a, b]`)",
                None,
            );
            &[]
        }
    }
}

/// An interface address: `10.0.1.11/24` or `fd00::1/64`; the prefix length is required.
pub fn cidr(p: &mut Problems, node: &Node) -> Option<Sp<IpNet>> {
    let text = string(p, node, "an address")?;
    match text.v.parse::<IpNet>() {
        Ok(net) => Some(Sp {
            v: net,
            at: node.span,
        }),
        Err(_) if text.v.parse::<IpAddr>().is_ok() => {
            let suggestion = if text.v.contains(':') { "/64" } else { "/24" };
            p.error(
                "address",
                format!("address `{}` has no prefix length", text.v),
                node.span,
                "needs a prefix length",
                Some(format!(
                    "write it in CIDR form, such as `{}{suggestion}`",
                    text.v
                )),
            );
            None
        }
        Err(_) => {
            p.error(
                "address",
                format!("`{}` is not an IP address in CIDR form", text.v),
                node.span,
                "not an address",
                Some("write addresses like `10.0.1.11/24` or `fd00:1::11/64`".into()),
            );
            None
        }
    }
}

pub(super) fn ip(p: &mut Problems, node: &Node, what: &str) -> Option<Sp<IpAddr>> {
    let text = string(p, node, what)?;
    match text.v.parse::<IpAddr>() {
        Ok(a) => Some(Sp {
            v: a,
            at: node.span,
        }),
        Err(_) => {
            let help = text
                .v
                .split_once('/')
                .filter(|(a, _)| a.parse::<IpAddr>().is_ok())
                .map(|(a, _)| format!("a {what} is a single address: `{a}`"));
            p.error(
                "address",
                format!("`{}` is not an IP address", text.v),
                node.span,
                "not an address",
                help,
            );
            None
        }
    }
}

pub(super) fn name_key(p: &mut Problems, key: &Node, what: &str) -> Option<Sp<String>> {
    let text = string(p, key, what)?;
    let problem = if what == "interface name" {
        ifname_problem(&text.v)
    } else {
        node_name_problem(&text.v)
    };
    if let Some(why) = problem {
        p.error(
            "name",
            format!("invalid {what} `{}`", text.v),
            key.span,
            why,
            None,
        );
        return None;
    }
    Some(text)
}

pub(super) fn read_mac(p: &mut Problems, n: &Node) -> Option<String> {
    let text = string(p, n, "mac")?;
    let bytes: Vec<_> = text
        .v
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect();
    let ok = bytes.len() == 6 && bytes.iter().all(|b| b.is_ok()) && text.v.len() == 17;
    if !ok {
        p.error(
            "mac",
            format!("`{}` is not a MAC address", text.v),
            n.span,
            "expected six hex bytes",
            Some("write it like `02:00:00:00:00:01`".into()),
        );
        return None;
    }
    if matches!(bytes[0], Ok(b) if b & 1 == 1) {
        p.error(
            "mac",
            format!("`{}` is a multicast MAC address", text.v),
            n.span,
            "the first byte is odd",
            Some(
                "an interface needs a unicast address; locally administered ones start with `02:`"
                    .into(),
            ),
        );
        return None;
    }
    Some(text.v.to_ascii_lowercase())
}
