//! `stages:`: a scenario the running lab goes through, each stage things done to it (`do:`)
//! and then what must hold (`expect:`).

use super::address::ip;
use super::fields::*;
use super::*;
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

pub(super) fn read_stage(p: &mut Problems, n: &Node) -> Option<RawStage> {
    let mut f = Fields::of(p, n, "a stage")?;
    let named = f.has("name");
    let name = f.get("name").and_then(|v| string(p, v, "name"));
    let actions = f
        .get("do")
        .map(|v| {
            one_or_many(v)
                .into_iter()
                .filter_map(|a| read_action(p, a))
                .collect()
        })
        .unwrap_or_default();
    let checks = f
        .get("expect")
        .map(|v| super::check::read_checks(p, v))
        .unwrap_or_default();
    f.finish(p, STAGE_KEYS, "a stage");
    let Some(name) = name else {
        if named {
            return None;
        }
        p.error(
            "missing_key",
            "a stage needs a `name:`",
            n.span,
            "what is this stage?",
            Some("for example `name: the attacker claims the gateway`".into()),
        );
        return None;
    };
    Some(RawStage {
        name,
        actions,
        checks,
        at: n.span,
    })
}

/// One action: a mapping with one key naming what is done.
fn read_action(p: &mut Problems, n: &Node) -> Option<RawAction> {
    let Value::Map(entries) = &n.value else {
        p.error(
            "type",
            format!("an action must be a mapping, found {}", n.value.kind()),
            n.span,
            "expected one of `arp_spoof:`, `link_down:`, `link_up:`, `impair:`, `clear:`, `exec:`",
            None,
        );
        return None;
    };
    let [(key, body)] = entries.as_slice() else {
        p.error(
            "action",
            "an action is one key: what is done",
            n.span,
            "one of `arp_spoof:`, `link_down:`, `link_up:`, `impair:`, `clear:`, `exec:`",
            Some("write each action as its own list item".into()),
        );
        return None;
    };
    let what = key.scalar_text().unwrap_or_default();
    match what.as_str() {
        "arp_spoof" => {
            let mut f = Fields::of(p, body, "arp_spoof")?;
            let written = ["from", "claim", "to"].iter().all(|k| f.has(k));
            let from = f.get("from").and_then(|v| string(p, v, "from"));
            let claim = f.get("claim").and_then(|v| ip(p, v, "claim"));
            let to = f.get("to").and_then(|v| string(p, v, "to"));
            f.finish(p, ARP_SPOOF_KEYS, "arp_spoof");
            match (from, claim, to) {
                (Some(from), Some(claim), Some(to)) => Some(RawAction::ArpSpoof {
                    from,
                    claim,
                    to,
                    at: n.span,
                }),
                _ if written => None,
                _ => {
                    p.error(
                        "missing_key",
                        "`arp_spoof` needs `from:` (the attacker), `claim:` (the address it claims) and `to:` (the victim)",
                        body.span,
                        "incomplete",
                        Some("for example `arp_spoof: {from: attacker, claim: 10.0.1.1, to: victim}`".into()),
                    );
                    None
                }
            }
        }
        "link_down" | "link_up" | "clear" => {
            let end = string(p, body, &what)?;
            let (node, iface) = node_iface(p, &what, end)?;
            Some(match what.as_str() {
                "clear" => RawAction::Impair {
                    node,
                    iface,
                    settings: None,
                    at: n.span,
                },
                _ => RawAction::Link {
                    node,
                    iface,
                    up: what == "link_up",
                    at: n.span,
                },
            })
        }
        "impair" => {
            let (end, settings) = super::impair::read_impair_action(p, body)?;
            let (node, iface) = node_iface(p, &what, end)?;
            Some(RawAction::Impair {
                node,
                iface,
                settings: Some(settings),
                at: n.span,
            })
        }
        "exec" => {
            let mut f = Fields::of(p, body, "exec")?;
            let written = f.has("on") && f.has("run");
            let on = f.get("on").and_then(|v| string(p, v, "on"));
            let run = f.get("run").and_then(|v| exec_command(p, v));
            f.finish(p, EXEC_ACTION_KEYS, "exec");
            match (on, run) {
                (Some(on), Some(run)) => Some(RawAction::Exec {
                    on,
                    run,
                    at: n.span,
                }),
                _ if written => None,
                _ => {
                    p.error(
                        "missing_key",
                        "`exec` needs `on:` (the node) and `run:` (the command)",
                        body.span,
                        "incomplete",
                        Some("for example `exec: {on: h1, run: \"ip route del default\"}`".into()),
                    );
                    None
                }
            }
        }
        other => {
            let help = match crate::model::name::closest(other, ACTIONS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("actions: {}", ACTIONS.join(", ")),
            };
            p.error(
                "action",
                format!("unknown action `{other}`"),
                key.span,
                "not an action vnet knows",
                Some(help),
            );
            None
        }
    }
}

/// `NODE:IFACE`, split, both halves pointing at the text.
fn node_iface(p: &mut Problems, what: &str, end: Sp<String>) -> Option<(Sp<String>, Sp<String>)> {
    let Some((node, iface)) = end
        .v
        .split_once(':')
        .filter(|(n, i)| !n.is_empty() && !i.is_empty())
    else {
        p.error(
            "action",
            format!("`{what}` names a node's interface as NODE:IFACE"),
            end.at,
            "not NODE:IFACE",
            Some(format!("for example `{what}: r1:eth1`")),
        );
        return None;
    };
    Some((
        Sp {
            v: node.to_owned(),
            at: end.at,
        },
        Sp {
            v: iface.to_owned(),
            at: end.at,
        },
    ))
}
