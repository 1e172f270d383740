//! `impair:` on a link: settings for both directions, and settings of one direction under the
//! name of the end that sends it (`{h1: {rate: 1mbit}, sw: {loss: 0.5%}}`).

use super::fields::*;
use super::*;
use crate::model::impair::{self as imp, Distribution, Impair, Jitter};
use crate::topology::diag::Problems;
use crate::topology::yaml::{Node, Value};

/// An impairment as written: the link's own settings, and those of the end named by a key
/// (`node` or `node:iface`), each with where it was written.
#[derive(Debug)]
pub(crate) struct RawImpair {
    pub both: Impair,
    pub ends: Vec<(Sp<String>, Impair, SourceSpan)>,
    pub at: SourceSpan,
}

/// Reads a whole `impair:` mapping.
pub(super) fn read_impair(p: &mut Problems, n: &Node) -> Option<RawImpair> {
    let Value::Map(entries) = &n.value else {
        p.error(
            "type",
            format!("`impair` must be a mapping, found {}", n.value.kind()),
            n.span,
            "expected `{delay: 40ms, loss: 1%, rate: 10mbit}`",
            None,
        );
        return None;
    };
    let mut out = RawImpair {
        both: Impair::default(),
        ends: Vec::new(),
        at: n.span,
    };
    let mut jitter_corr = None;
    let mut distribution = None;
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if IMPAIR_KEYS.contains(&key.as_str()) {
            setting(
                p,
                &key,
                v,
                &mut out.both,
                &mut jitter_corr,
                &mut distribution,
            );
            continue;
        }
        // Not a setting: the end that sends, with settings of its own.
        if matches!(v.value, Value::Map(_)) && !key.is_empty() {
            let mut mine = Impair::default();
            let (mut jc, mut dist) = (None, None);
            if let Value::Map(inner) = &v.value {
                for (ik, iv) in inner {
                    let ikey = ik.scalar_text().unwrap_or_default();
                    if IMPAIR_KEYS.contains(&ikey.as_str()) {
                        setting(p, &ikey, iv, &mut mine, &mut jc, &mut dist);
                    } else {
                        unknown(p, &ikey, ik.span, "an impairment of one direction");
                    }
                }
            }
            finish_jitter(p, &mut mine, jc, dist, v.span);
            out.ends.push((Sp { v: key, at: k.span }, mine, v.span));
            continue;
        }
        unknown(p, &key, k.span, "an impairment");
    }
    finish_jitter(p, &mut out.both, jitter_corr, distribution, n.span);
    Some(out)
}

fn unknown(p: &mut Problems, key: &str, at: SourceSpan, what: &str) {
    let hint = match crate::model::name::closest(key, IMPAIR_KEYS.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!(
            "{what} takes: {}; or, for one direction, the sending end's node name with those keys (`{{h1: {{rate: 1mbit}}}}`)",
            IMPAIR_KEYS.join(", ")
        ),
    };
    p.error(
        "unknown_key",
        format!("unknown key `{key}` in {what}"),
        at,
        "not a known key here",
        Some(hint),
    );
}

/// `distribution:` and the jitter's correlation go with the jitter.
fn finish_jitter(
    p: &mut Problems,
    imp: &mut Impair,
    _corr: Option<u32>,
    distribution: Option<Sp<Distribution>>,
    at: SourceSpan,
) {
    if let Some(d) = distribution {
        match &mut imp.jitter {
            Some(j) => j.distribution = d.v,
            None => p.error(
                "impair",
                "`distribution` shapes the jitter, and there is none",
                d.at,
                "no `jitter:` here",
                Some(
                    "add `jitter:`, like `{delay: 40ms, jitter: 5ms, distribution: normal}`".into(),
                ),
            ),
        }
    }
    if imp.reorder.is_some() && imp.delay_ns.unwrap_or(0) == 0 {
        p.error(
            "impair",
            "`reorder` needs a `delay`",
            at,
            "nothing is delayed, so nothing can overtake",
            Some("netem reorders by sending some packets at once and delaying the rest: add `delay:`, like `{delay: 10ms, reorder: 25%}`".into()),
        );
    }
    if imp.jitter.is_some() && imp.delay_ns.is_none() {
        p.error(
            "impair",
            "`jitter` varies a `delay`, and there is none",
            at,
            "no `delay:` here",
            Some("add `delay:`, like `{delay: 40ms, jitter: 5ms}`".into()),
        );
    }
}

fn text(p: &mut Problems, v: &Node, key: &str) -> Option<Sp<String>> {
    match &v.value {
        Value::Int(_) | Value::Float(_) => {
            let example = match key {
                "rate" => "10mbit",
                "delay" | "jitter" => "40ms",
                _ => "1%",
            };
            p.error(
                "impair",
                format!("`{key}` needs a unit"),
                v.span,
                "a bare number",
                Some(format!("write it with its unit, like `{key}: {example}`")),
            );
            None
        }
        _ => string(p, v, key),
    }
}

fn setting(
    p: &mut Problems,
    key: &str,
    v: &Node,
    imp: &mut Impair,
    jitter_corr: &mut Option<u32>,
    distribution: &mut Option<Sp<Distribution>>,
) {
    let Some(t) = text(p, v, key) else {
        return;
    };
    let bad = |p: &mut Problems, why: String| {
        p.error(
            "impair",
            format!("bad `{key}`: {why}"),
            v.span,
            "not a valid value",
            Some(match key {
                "delay" => "a time like `40ms`, `250us` or `1s`".to_string(),
                "jitter" => "a time, optionally with its correlation: `5ms` or `5ms 25%`".into(),
                "rate" => "a rate like `10mbit`, `500kbit` or `1gbit`".into(),
                "distribution" => "`uniform` (the default) or `normal`".into(),
                _ => "a percentage from 0% to 100%, optionally with its correlation: `1%` or `1% 25%`".into(),
            }),
        );
    };
    match key {
        "delay" => match imp::parse_time(&t.v) {
            Ok(ns) => imp.delay_ns = Some(ns),
            Err(e) => bad(p, e),
        },
        "jitter" => match imp::parse_jitter(&t.v) {
            Ok((ns, corr)) => {
                *jitter_corr = Some(corr);
                imp.jitter = Some(Jitter {
                    ns,
                    correlation_ppb: corr,
                    distribution: Distribution::Uniform,
                });
            }
            Err(e) => bad(p, e),
        },
        "distribution" => match Distribution::parse(&t.v) {
            Ok(d) => *distribution = Some(Sp { v: d, at: t.at }),
            Err(e) => bad(p, e),
        },
        "rate" => match imp::parse_rate(&t.v) {
            Ok(bps) => imp.rate_bps = Some(bps),
            Err(e) => bad(p, e),
        },
        "loss" | "duplicate" | "reorder" | "corrupt" => match imp::parse_chance(&t.v) {
            Ok(c) => {
                let slot = match key {
                    "loss" => &mut imp.loss,
                    "duplicate" => &mut imp.duplicate,
                    "reorder" => &mut imp.reorder,
                    _ => &mut imp.corrupt,
                };
                *slot = Some(c);
            }
            Err(e) => bad(p, e),
        },
        _ => {}
    }
}

/// A stage's `impair: {on: NODE:IFACE, delay: 40ms, ...}`: the interface and its settings.
pub(super) fn read_impair_action(p: &mut Problems, n: &Node) -> Option<(Sp<String>, Impair)> {
    let Value::Map(entries) = &n.value else {
        p.error(
            "type",
            format!("`impair` must be a mapping, found {}", n.value.kind()),
            n.span,
            "expected `{on: r1:wan, delay: 40ms, loss: 1%}`",
            None,
        );
        return None;
    };
    let mut on = None;
    let mut settings = Impair::default();
    let (mut corr, mut dist) = (None, None);
    let mut misspelt = false;
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if key == "on" {
            on = string(p, v, "on");
        } else if IMPAIR_KEYS.contains(&key.as_str()) {
            setting(p, &key, v, &mut settings, &mut corr, &mut dist);
        } else {
            misspelt = true;
            unknown(p, &key, k.span, "a stage's `impair:` (besides `on:`)");
        }
    }
    finish_jitter(p, &mut settings, corr, dist, n.span);
    let Some(on) = on else {
        p.error(
            "missing_key",
            "`impair` needs `on:`, the interface whose sending it impairs",
            n.span,
            "which interface?",
            Some("for example `impair: {on: r1:wan, delay: 40ms, loss: 1%}`".into()),
        );
        return None;
    };
    if settings.is_empty() {
        if misspelt {
            return None;
        }
        p.error(
            "impair",
            "this `impair` sets nothing",
            n.span,
            "no delay, jitter, loss, duplicate, reorder, corrupt or rate",
            Some(format!(
                "add a setting, like `{{on: {}, delay: 40ms}}`, or write `clear: {}` to remove the impairments",
                on.v, on.v
            )),
        );
        return None;
    }
    Some((on, settings))
}
