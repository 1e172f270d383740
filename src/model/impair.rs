//! Impairments: what a link does to the packets sent over it on purpose (delay, jitter, loss,
//! duplication, reordering, corruption, a rate limit), as netem and TBF take them.
//!
//! An impairment belongs to one end of a link and acts on what that end *sends* (a qdisc
//! shapes egress only). A link-wide `impair:` gives both ends the same, so each direction is
//! impaired alike and a round trip crosses the delay twice.
//!
//! The parsers here are shared by the topology reader (which turns their refusals into
//! diagnostics at the line) and by `vnet impair` (which turns them into usage errors).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A probability in billionths (1_000_000_000 = 100 %), with an optional correlation to the
/// previous packet's outcome, as netem takes both (`loss 1% 25%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chance {
    pub ppb: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub correlation_ppb: u32,
}

fn is_zero(x: &u32) -> bool {
    *x == 0
}

/// How jitter spreads the delay. `uniform` needs no table; `normal` sends netem the table
/// iproute2 ships as `normal.dist`, computed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    #[default]
    Uniform,
    Normal,
}

impl Distribution {
    pub const NAMES: [&'static str; 2] = ["uniform", "normal"];

    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "uniform" => Ok(Distribution::Uniform),
            "normal" => Ok(Distribution::Normal),
            "pareto" | "paretonormal" => Err(format!(
                "the `{text}` distribution is not built in; vnet has `uniform` and `normal`"
            )),
            other => Err(format!(
                "unknown distribution `{other}`; vnet has `uniform` and `normal`"
            )),
        }
    }
}

/// What one end does to what it sends. Every field is optional; an empty one does nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impair {
    /// One-way delay added to every packet, in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ns: Option<u64>,
    /// Random variation of the delay (its correlation in `correlation_ppb`), in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Chance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<Chance>,
    /// Packets sent at once, ahead of the delayed others (needs `delay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<Chance>,
    /// Packets with one bit flipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<Chance>,
    /// A rate limit in bits per second (TBF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jitter {
    pub ns: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub correlation_ppb: u32,
    #[serde(default)]
    pub distribution: Distribution,
}

impl Impair {
    pub fn is_empty(&self) -> bool {
        *self == Impair::default()
    }

    /// Whether netem is needed: anything but a rate limit.
    pub fn needs_netem(&self) -> bool {
        self.delay_ns.is_some()
            || self.jitter.is_some()
            || self.loss.is_some()
            || self.duplicate.is_some()
            || self.reorder.is_some()
            || self.corrupt.is_some()
    }

    /// What makes these settings meaningless together, in words, with how to write them: the
    /// one rule the file, a stage's `impair:` and `vnet impair` all apply.
    pub(crate) fn problem(&self) -> Option<(&'static str, &'static str)> {
        if self.reorder.is_some() && self.delay_ns.unwrap_or(0) == 0 {
            return Some((
                "`reorder` needs a `delay`: nothing is delayed, so nothing can overtake",
                "netem reorders by sending some packets at once and delaying the rest: add a delay, like `delay: 10ms` with `reorder: 25%`",
            ));
        }
        if self.jitter.is_some() && self.delay_ns.is_none() {
            return Some((
                "`jitter` varies a `delay`, and there is none",
                "add a delay, like `delay: 40ms` with `jitter: 5ms`",
            ));
        }
        None
    }

    /// `other`'s settings over this one's: a direction's own settings over the link's.
    pub fn overlaid(&self, other: &Impair) -> Impair {
        Impair {
            delay_ns: other.delay_ns.or(self.delay_ns),
            jitter: other.jitter.or(self.jitter),
            loss: other.loss.or(self.loss),
            duplicate: other.duplicate.or(self.duplicate),
            reorder: other.reorder.or(self.reorder),
            corrupt: other.corrupt.or(self.corrupt),
            rate_bps: other.rate_bps.or(self.rate_bps),
        }
    }
}

/// In words, as `tc` would be told: `delay 40ms 5ms loss 1% rate 10mbit`.
impl fmt::Display for Impair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(d) = self.delay_ns {
            parts.push(format!("delay {}", time(d)));
        }
        if let Some(j) = self.jitter {
            let mut s = format!("jitter {}", time(j.ns));
            if j.correlation_ppb != 0 {
                s += &format!(" {}", percent(j.correlation_ppb));
            }
            if j.distribution != Distribution::Uniform {
                s += &format!(" distribution {}", j.distribution.as_str());
            }
            parts.push(s);
        }
        for (name, c) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
        ] {
            if let Some(c) = c {
                parts.push(format!("{name} {}", chance(c)));
            }
        }
        if let Some(r) = self.rate_bps {
            parts.push(format!("rate {}", rate(r)));
        }
        if parts.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&parts.join(" "))
    }
}

/// `1%`, or `1% 25%` with a correlation.
pub(crate) fn chance(c: Chance) -> String {
    if c.correlation_ppb == 0 {
        percent(c.ppb)
    } else {
        format!("{} {}", percent(c.ppb), percent(c.correlation_ppb))
    }
}

/// Billionths as a percentage, without trailing zeros: `1%`, `0.5%`, `0.0001%`.
pub(crate) fn percent(ppb: u32) -> String {
    let whole = ppb / 10_000_000;
    let frac = ppb % 10_000_000;
    if frac == 0 {
        return format!("{whole}%");
    }
    let digits = format!("{frac:07}");
    format!("{whole}.{}%", digits.trim_end_matches('0'))
}

/// Nanoseconds as `tc` writes a time: `40ms`, `1.5ms`, `250us`, `2s`.
pub(crate) fn time(ns: u64) -> String {
    let trim = |n: u64, unit: u64, name: &str| {
        let whole = n / unit;
        let frac = n % unit;
        if frac == 0 {
            format!("{whole}{name}")
        } else {
            let width = unit.ilog10() as usize;
            let digits = format!("{frac:0width$}");
            format!("{whole}.{}{name}", digits.trim_end_matches('0'))
        }
    };
    if ns >= 1_000_000_000 && ns.is_multiple_of(1_000_000) {
        trim(ns, 1_000_000_000, "s")
    } else if ns >= 1_000_000 && ns.is_multiple_of(1000) {
        trim(ns, 1_000_000, "ms")
    } else if ns >= 1000 {
        trim(ns, 1000, "us")
    } else {
        format!("{ns}ns")
    }
}

/// Bits per second as `tc` writes a rate: `10mbit`, `1.5mbit`, `64kbit`.
pub(crate) fn rate(bps: u64) -> String {
    for (unit, name) in [(1_000_000_000, "gbit"), (1_000_000, "mbit"), (1000, "kbit")] {
        if bps >= unit {
            let whole = bps / unit;
            let frac = bps % unit;
            if frac == 0 {
                return format!("{whole}{name}");
            }
            let width = unit.ilog10() as usize;
            let digits = format!("{frac:0width$}");
            return format!("{whole}.{}{name}", digits.trim_end_matches('0'));
        }
    }
    format!("{bps}bit")
}

/// A number and its unit: `40ms` → (40.0, "ms"). A sign is part of the number.
fn split_unit(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let n: f64 = number.parse().ok()?;
    n.is_finite().then_some((n, unit.trim()))
}

/// A time as `tc` writes one (`40ms`, `1.5ms`, `250us`, `1s`), in nanoseconds: at least 0 and
/// at most a minute (netem's queue would hold a minute of packets).
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    let Some((n, unit)) = split_unit(text) else {
        return Err(format!(
            "`{}` is not a time; write it like `40ms`, `250us` or `1s`",
            short(text)
        ));
    };
    let scale = match unit.to_ascii_lowercase().as_str() {
        "ns" => 1.0,
        "us" | "µs" | "usec" => 1e3,
        "ms" | "msec" => 1e6,
        "s" | "sec" => 1e9,
        "" => {
            return Err(format!(
                "`{}` has no unit; write it like `{}ms`",
                short(text),
                short(text)
            ));
        }
        other => {
            return Err(format!("unknown time unit `{other}`; use ns, us, ms or s"));
        }
    };
    if n < 0.0 {
        return Err("a time cannot be negative".into());
    }
    let ns = n * scale;
    if ns > 60e9 {
        return Err("at most 60s".into());
    }
    Ok(ns.round() as u64)
}

/// `1%`, `0.5%`, `100%`: a percentage from 0 to 100, in billionths.
pub(crate) fn parse_percent(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let Some(number) = t.strip_suffix('%') else {
        return Err(format!(
            "`{}` is not a percentage; write it with `%`, like `1%`",
            short(text)
        ));
    };
    let Ok(n) = number.trim().parse::<f64>() else {
        return Err(format!("`{}` is not a percentage", short(text)));
    };
    if !n.is_finite() {
        return Err(format!("`{}` is not a percentage", short(text)));
    }
    if n < 0.0 {
        return Err("a percentage cannot be negative".into());
    }
    if n > 100.0 {
        return Err(format!("{} is more than 100%", short(t)));
    }
    Ok((n * 1e7).round() as u32)
}

/// The values of a setting, each a number with its unit: `5ms 25%`, also written `5 ms 25 %`
/// (a unit apart from its number joins it, as `40 ms` and `10 mbit` are read alone).
fn values(text: &str) -> std::vec::IntoIter<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split_whitespace() {
        let unit = w.starts_with(|c: char| c.is_alphabetic() || c == '%');
        match out.last_mut() {
            Some(last) if unit && last.ends_with(|c: char| c.is_ascii_digit() || c == '.') => {
                last.push_str(w)
            }
            _ => out.push(w.to_owned()),
        }
    }
    out.into_iter()
}

/// `1%` or `1% 25%`: a chance and its correlation.
pub(crate) fn parse_chance(text: &str) -> Result<Chance, String> {
    let mut words = values(text);
    let p = parse_percent(&words.next().unwrap_or_default())?;
    let corr = match words.next() {
        Some(w) => parse_percent(&w).map_err(|e| format!("correlation: {e}"))?,
        None => 0,
    };
    if words.next().is_some() {
        return Err("at most two values: the chance and its correlation (`1% 25%`)".into());
    }
    Ok(Chance {
        ppb: p,
        correlation_ppb: corr,
    })
}

/// `5ms` or `5ms 25%`: a jitter and its correlation.
pub(crate) fn parse_jitter(text: &str) -> Result<(u64, u32), String> {
    let mut words = values(text);
    let ns = parse_time(&words.next().unwrap_or_default())?;
    let corr = match words.next() {
        Some(w) => parse_percent(&w).map_err(|e| format!("correlation: {e}"))?,
        None => 0,
    };
    if words.next().is_some() {
        return Err("at most two values: the jitter and its correlation (`5ms 25%`)".into());
    }
    Ok((ns, corr))
}

/// A rate as `tc` writes one, in bits per second: `10mbit`, `1gbit`, `500kbit`, `64kbps`
/// (`bps` is bytes per second, as in `tc`). More than 0, at most 100 Gbit/s.
pub(crate) fn parse_rate(text: &str) -> Result<u64, String> {
    let Some((n, unit)) = split_unit(text) else {
        return Err(format!(
            "`{}` is not a rate; write it like `10mbit`, `500kbit` or `1gbit`",
            short(text)
        ));
    };
    let unit = unit.to_ascii_lowercase();
    let unit = unit.strip_suffix("/s").unwrap_or(&unit);
    let scale = match unit {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        "" => {
            return Err(format!(
                "`{}` has no unit; write it like `{}mbit`",
                short(text),
                short(text)
            ));
        }
        other => {
            return Err(format!(
                "unknown rate unit `{other}`; use bit, kbit, mbit, gbit (or bps, kbps, mbps, gbps: bytes per second, as in tc)"
            ));
        }
    };
    if n <= 0.0 {
        return Err("a rate must be more than 0".into());
    }
    let bps = n * scale;
    if bps < 8.0 {
        return Err("a rate must be at least 8bit (one byte per second)".into());
    }
    if bps > 100e9 {
        return Err("at most 100gbit".into());
    }
    Ok(bps.round() as u64)
}

fn short(text: &str) -> String {
    text.trim().chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_and_print_like_tc() {
        assert_eq!(parse_time("40ms"), Ok(40_000_000));
        assert_eq!(parse_time("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_time("250us"), Ok(250_000));
        assert_eq!(parse_time("2s"), Ok(2_000_000_000));
        assert!(parse_time("-5ms").unwrap_err().contains("negative"));
        assert!(parse_time("40").unwrap_err().contains("no unit"));
        assert!(
            parse_time("40parsecs")
                .unwrap_err()
                .contains("unknown time unit")
        );
        assert!(parse_time("2m").unwrap_err().contains("unknown time unit"));
        assert_eq!(time(40_000_000), "40ms");
        assert_eq!(time(1_500_000), "1.5ms");
        assert_eq!(time(250_000), "250us");
        assert_eq!(time(2_000_000_000), "2s");
    }

    #[test]
    fn percentages_are_bounded() {
        assert_eq!(parse_percent("1%"), Ok(10_000_000));
        assert_eq!(parse_percent("0.5%"), Ok(5_000_000));
        assert_eq!(parse_percent("100%"), Ok(1_000_000_000));
        assert!(
            parse_percent("101%")
                .unwrap_err()
                .contains("more than 100%")
        );
        assert!(parse_percent("-1%").unwrap_err().contains("negative"));
        assert!(parse_percent("0.01").unwrap_err().contains("with `%`"));
        assert_eq!(percent(5_000_000), "0.5%");
        assert_eq!(percent(1_000_000_000), "100%");
        assert_eq!(
            parse_chance("1% 25%"),
            Ok(Chance {
                ppb: 10_000_000,
                correlation_ppb: 250_000_000
            })
        );
    }

    #[test]
    fn rates_take_tc_units() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1Gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("1mbps"), Ok(8_000_000));
        assert_eq!(parse_rate("10mbit/s"), Ok(10_000_000));
        assert!(parse_rate("0mbit").unwrap_err().contains("more than 0"));
        assert!(parse_rate("10").unwrap_err().contains("no unit"));
        assert!(
            parse_rate("10mb")
                .unwrap_err()
                .contains("unknown rate unit")
        );
        assert_eq!(rate(10_000_000), "10mbit");
        assert_eq!(rate(1_500_000), "1.5mbit");
        assert_eq!(parse_rate("10 mbit"), parse_rate("10mbit"));
    }

    /// A unit may stand apart from its number in every setting, as it may in `delay: 40 ms`.
    #[test]
    fn a_unit_apart_from_its_number_is_the_same_value() {
        assert_eq!(parse_jitter("5 ms 25 %"), parse_jitter("5ms 25%"));
        assert_eq!(parse_chance("1 % 25 %"), parse_chance("1% 25%"));
        assert_eq!(parse_chance("1 %"), parse_chance("1%"));
        assert!(parse_chance("1% 2% 3%").is_err());
        assert!(
            parse_chance("nan%")
                .unwrap_err()
                .contains("not a percentage")
        );
        assert!(
            parse_chance("inf%")
                .unwrap_err()
                .contains("not a percentage")
        );
    }

    #[test]
    fn a_direction_overrides_the_link() {
        let link = Impair {
            delay_ns: Some(1),
            rate_bps: Some(8),
            ..Impair::default()
        };
        let mine = Impair {
            rate_bps: Some(16),
            ..Impair::default()
        };
        let both = link.overlaid(&mine);
        assert_eq!(both.delay_ns, Some(1));
        assert_eq!(both.rate_bps, Some(16));
        assert_eq!(both.to_string(), "delay 1ns rate 16bit");
        assert!(both.needs_netem());
        assert!(!mine.needs_netem());
    }
}
