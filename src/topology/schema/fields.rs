//! Readers for the shapes and scalars of a topology: mappings with known keys, strings,
//! numbers, addresses, names. Each records what is wrong and returns `None`.

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

    /// Whether the mapping has the key, whatever its value: a key whose value was refused
    /// is not also reported missing.
    pub(super) fn has(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
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

/// A shell command for `sh -c`: a NUL byte cannot be passed in an argument (the command
/// would fail in `up`, after the lab is built), and other control characters are invisible
/// in the plan and the logs. Tabs and line breaks (a `|` block of commands) are shell's own.
pub(in crate::topology::schema) fn exec_command(
    p: &mut Problems,
    node: &Node,
) -> Option<Sp<String>> {
    let text = string(p, node, "an exec command")?;
    let Some(c) = text
        .v
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n'))
    else {
        return Some(text);
    };
    let (message, label) = if c == '\0' {
        (
            "an exec command contains a NUL byte".to_string(),
            "no command line can carry it: `sh -c` would never run",
        )
    } else {
        (
            format!(
                "an exec command contains the control character U+{:04X}",
                u32::from(c)
            ),
            "invisible in the plan and the logs",
        )
    };
    p.error(
        "exec",
        message,
        node.span,
        label,
        Some("remove it; a command that needs the byte can make it with `printf '\\NNN'`".into()),
    );
    None
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

/// A whole number, written as one: `"10"` is a string and `10.0` a fraction, both refused
/// alike wherever a number is meant (an MTU, a VLAN id, a VNI, a port, a layer).
pub(super) fn number(p: &mut Problems, node: &Node, what: &str, example: &str) -> Option<i64> {
    let (found, label, help) = match &node.value {
        Value::Int(n) => return Some(*n),
        Value::Float(f) => {
            // `{f:?}`: 1e3 reads `1000.0`, which says why it is not taken.
            p.error(
                "type",
                format!("{what} must be a whole number, found {f:?}"),
                node.span,
                "not a whole number",
                None,
            );
            return None;
        }
        Value::Str(s) if s.trim().parse::<f64>().is_ok() => (
            "a string".to_string(),
            "a number in quotes is a string".to_string(),
            Some(format!("write the number without quotes: `{}`", s.trim())),
        ),
        other => (
            other.kind().to_string(),
            format!("expected a number such as {example}"),
            None,
        ),
    };
    p.error(
        "type",
        format!("{what} must be a number, found {found}"),
        node.span,
        label,
        help,
    );
    None
}

pub(super) fn mtu(p: &mut Problems, node: &Node) -> Option<Sp<u32>> {
    match number(p, node, "mtu", "1500")? {
        n @ 68..=65535 => Some(Sp {
            v: n as u32,
            at: node.span,
        }),
        n => {
            p.error(
                "mtu",
                format!("MTU {n} is out of range"),
                node.span,
                "Linux accepts 68 to 65535",
                None,
            );
            None
        }
    }
}

/// A span of time: `30s`, `2m`, `500ms`, `1h`; in milliseconds, more than nothing and at most
/// a day. A bare number is refused, as the impairments' times are: `30` could be seconds or
/// milliseconds, and the file never guesses a unit.
pub(super) fn duration(p: &mut Problems, node: &Node, what: &str) -> Option<u64> {
    let bare = match &node.value {
        Value::Int(_) | Value::Float(_) => node.scalar_text(),
        Value::Str(s) if s.trim().parse::<f64>().is_ok() => Some(s.trim().to_owned()),
        _ => None,
    };
    if let Some(n) = bare {
        p.error(
            "duration",
            format!("`{what}` needs a unit"),
            node.span,
            "a bare number",
            Some(format!(
                "write it with its unit, like `{what}: {n}s` (or ms, m, h)"
            )),
        );
        return None;
    }
    let ms = match &node.value {
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
                Value::Str(s) if s.trim().starts_with('-') => "it cannot be negative".to_string(),
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
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
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

pub(super) fn read_mac(p: &mut Problems, n: &Node) -> Option<Sp<String>> {
    let text = string(p, n, "mac")?;
    let parts: Vec<&str> = text.v.split(':').collect();
    // Two hex digits each: `from_str_radix` alone would take `+f`.
    let hex = |b: &&str| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit());
    if parts.len() != 6 || !parts.iter().all(hex) {
        p.error(
            "mac",
            format!("`{}` is not a MAC address", text.v),
            n.span,
            "expected six hex bytes",
            Some("write it like `02:00:00:00:00:01`".into()),
        );
        return None;
    }
    let bytes: Vec<u8> = parts
        .iter()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    let unicast =
        "an interface needs a unicast address; locally administered ones start with `02:`";
    let refusal = if bytes.iter().all(|b| *b == 0) {
        Some((
            format!("`{}` is the all-zero MAC address", text.v),
            "no interface can have it",
        ))
    } else if bytes.iter().all(|b| *b == 0xff) {
        Some((
            format!("`{}` is the broadcast MAC address", text.v),
            "every station on the link receives frames sent to it",
        ))
    } else if bytes[0] & 1 == 1 {
        Some((
            format!("`{}` is a multicast MAC address", text.v),
            "the first byte is odd",
        ))
    } else {
        None
    };
    if let Some((message, label)) = refusal {
        p.error("mac", message, n.span, label, Some(unicast.into()));
        return None;
    }
    Some(Sp {
        v: text.v.to_ascii_lowercase(),
        at: n.span,
    })
}
