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
    pub ends: Vec<RawEnd>,
    pub at: SourceSpan,
    /// A `delay:` was written and refused (and reported): that it is missing is not.
    pub delay_refused: bool,
}

/// The settings of one direction, under the sending end's name.
#[derive(Debug)]
pub(crate) struct RawEnd {
    pub key: Sp<String>,
    pub settings: Impair,
    pub at: SourceSpan,
    pub delay_refused: bool,
}

/// Reads a whole `impair:` mapping. Whether its settings mean something together is judged
/// on each direction's, once the link's ends are known ([`meaningful`]).
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
    if entries.is_empty() {
        sets_nothing(p, n.span, "`impair: {delay: 40ms}`, or no `impair:` at all");
        return None;
    }
    let mut out = RawImpair {
        both: Impair::default(),
        ends: Vec::new(),
        at: n.span,
        delay_refused: false,
    };
    let mut distribution = None;
    let mut jitter_refused = false;
    // Each end's `distribution:`, and whether its `jitter:` was refused, for after the loop:
    // a direction's distribution may shape the link's jitter, and the link's an end's.
    let mut pending: Vec<(Option<Sp<Distribution>>, bool)> = Vec::new();
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if IMPAIR_KEYS.contains(&key.as_str()) {
            let ok = setting(p, &key, v, &mut out.both, &mut distribution);
            out.delay_refused |= !ok && key == "delay";
            jitter_refused |= !ok && key == "jitter";
            continue;
        }
        // Not a setting: the end that sends, with settings of its own.
        if matches!(v.value, Value::Map(_)) && !key.is_empty() {
            let mut mine = Impair::default();
            let mut dist = None;
            let (mut delay_refused, mut my_jitter_refused) = (false, false);
            if let Value::Map(inner) = &v.value {
                if inner.is_empty() {
                    sets_nothing(
                        p,
                        v.span,
                        &format!("`{key}: {{delay: 40ms}}`, or leave `{key}` out"),
                    );
                }
                for (ik, iv) in inner {
                    let ikey = ik.scalar_text().unwrap_or_default();
                    if IMPAIR_KEYS.contains(&ikey.as_str()) {
                        let ok = setting(p, &ikey, iv, &mut mine, &mut dist);
                        delay_refused |= !ok && ikey == "delay";
                        my_jitter_refused |= !ok && ikey == "jitter";
                    } else {
                        unknown(p, &ikey, ik.span, "an impairment of one direction");
                    }
                }
            }
            pending.push((dist, my_jitter_refused));
            out.ends.push(RawEnd {
                key: Sp { v: key, at: k.span },
                settings: mine,
                at: v.span,
                delay_refused,
            });
            continue;
        }
        unknown(p, &key, k.span, "an impairment");
    }
    // The link's distribution shapes its jitter, or failing one every end's that says none.
    let ends_jitter = out.ends.iter().any(|e| e.settings.jitter.is_some());
    match distribution {
        Some(d) if out.both.jitter.is_none() && ends_jitter => {
            for (e, (own, _)) in out.ends.iter_mut().zip(&pending) {
                if let (Some(j), None) = (&mut e.settings.jitter, own) {
                    j.distribution = d.v;
                }
            }
        }
        d => finish_jitter(p, &mut out.both, d, jitter_refused),
    }
    for (e, (d, refused)) in out.ends.iter_mut().zip(pending) {
        if e.settings.jitter.is_none()
            && let (Some(d), Some(mut link)) = (&d, out.both.jitter)
        {
            link.distribution = d.v;
            e.settings.jitter = Some(link);
            continue;
        }
        finish_jitter(p, &mut e.settings, d, refused || jitter_refused);
    }
    Some(out)
}

/// An impairment that changes nothing is refused: it was meant to say something.
fn sets_nothing(p: &mut Problems, at: SourceSpan, like: &str) {
    p.error(
        "impair",
        "this `impair` sets nothing",
        at,
        "no delay, jitter, loss, duplicate, reorder, corrupt or rate",
        Some(format!("add a setting, like {like}")),
    );
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

/// `distribution:` goes with the jitter of the same settings; with none (and none refused:
/// that one was reported), it is refused.
fn finish_jitter(
    p: &mut Problems,
    imp: &mut Impair,
    distribution: Option<Sp<Distribution>>,
    jitter_refused: bool,
) {
    let Some(d) = distribution else {
        return;
    };
    match &mut imp.jitter {
        Some(j) => j.distribution = d.v,
        None if jitter_refused => {}
        None => p.error(
            "impair",
            "`distribution` shapes the jitter, and there is none",
            d.at,
            "no `jitter:` here",
            Some("add `jitter:`, like `{delay: 40ms, jitter: 5ms, distribution: normal}`".into()),
        ),
    }
}

/// The model's rule for settings that mean nothing together (`reorder` without `delay`),
/// on what a direction ends up with.
pub(crate) fn meaningful(p: &mut Problems, imp: &Impair, at: SourceSpan) -> bool {
    let Some((message, help)) = imp.problem() else {
        return true;
    };
    p.error(
        "impair",
        message,
        at,
        "in these settings",
        Some(help.into()),
    );
    false
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
    distribution: &mut Option<Sp<Distribution>>,
) -> bool {
    let Some(t) = text(p, v, key) else {
        return false;
    };
    let bad = |p: &mut Problems, why: String| -> bool {
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
        false
    };
    let read: Result<(), String> = match key {
        "delay" => imp::parse_time(&t.v).map(|ns| imp.delay_ns = Some(ns)),
        "jitter" => imp::parse_jitter(&t.v).map(|(ns, corr)| {
            imp.jitter = Some(Jitter {
                ns,
                correlation_ppb: corr,
                distribution: Distribution::Uniform,
            })
        }),
        "distribution" => {
            Distribution::parse(&t.v).map(|d| *distribution = Some(Sp { v: d, at: t.at }))
        }
        "rate" => imp::parse_rate(&t.v).map(|bps| imp.rate_bps = Some(bps)),
        "loss" | "duplicate" | "reorder" | "corrupt" => imp::parse_chance(&t.v).map(|c| {
            let slot = match key {
                "loss" => &mut imp.loss,
                "duplicate" => &mut imp.duplicate,
                "reorder" => &mut imp.reorder,
                _ => &mut imp.corrupt,
            };
            *slot = Some(c);
        }),
        _ => Ok(()),
    };
    match read {
        Ok(()) => true,
        Err(e) => bad(p, e),
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
    let mut dist = None;
    // A setting written, valid or not: a refused one is not also "nothing set".
    let (mut written, mut delay_refused, mut jitter_refused) = (false, false, false);
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if key == "on" {
            on = string(p, v, "on");
            continue;
        }
        written = true;
        if IMPAIR_KEYS.contains(&key.as_str()) {
            let ok = setting(p, &key, v, &mut settings, &mut dist);
            delay_refused |= !ok && key == "delay";
            jitter_refused |= !ok && key == "jitter";
        } else {
            unknown(p, &key, k.span, "a stage's `impair:` (besides `on:`)");
        }
    }
    finish_jitter(p, &mut settings, dist, jitter_refused);
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
        if written {
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
    // A refused `delay:` is not also the delay that is missing.
    if delay_refused || !meaningful(p, &settings, n.span) {
        return None;
    }
    Some((on, settings))
}
