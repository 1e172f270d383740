//! Checks that measure: a bound on the median round trip (`rtt: "< 60ms"`), on the share of
//! probes lost (`loss: "< 5%"`), on the throughput of a TCP transfer (`rate: ">= 9mbit"`).
//! Values are kept in whole units (microseconds, billionths, bits per second).

use serde::{Deserialize, Serialize};

use super::impair;

/// How many echo requests an `rtt:` or `loss:` check sends.
pub(crate) const PROBES: u32 = 10;
/// How long a `rate:` check's transfer lasts, in milliseconds.
pub(crate) const TRANSFER_MS: u64 = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    pub fn holds(self, measured: f64, bound: f64) -> bool {
        match self {
            Cmp::Lt => measured < bound,
            Cmp::Le => measured <= bound,
            Cmp::Gt => measured > bound,
            Cmp::Ge => measured >= bound,
        }
    }
}

/// A comparison and a value in the quantity's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub op: Cmp,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    /// Median round trip, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<Bound>,
    /// Probes lost, billionths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_ppb: Option<Bound>,
    /// TCP throughput, bits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<Bound>,
}

/// `< 60ms`, `<= 5%`, `>= 9mbit`; a bare value takes `default`.
fn split(text: &str, default: Cmp) -> (Cmp, &str) {
    let t = text.trim();
    for (sym, op) in [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ] {
        if let Some(rest) = t.strip_prefix(sym) {
            return (op, rest.trim());
        }
    }
    (default, t)
}

pub(crate) fn parse_rtt(text: &str) -> Result<Bound, String> {
    let (op, v) = split(text, Cmp::Lt);
    let ns = impair::parse_time(v)?;
    possible(Bound {
        op,
        value: ns / 1000,
    })
}

pub(crate) fn parse_loss(text: &str) -> Result<Bound, String> {
    let (op, v) = split(text, Cmp::Le);
    possible(Bound {
        op,
        value: u64::from(impair::parse_percent(v)?),
    })
}

/// Nothing measures less than nothing: a check bound by `< 0` would fail whatever the lab did.
fn possible(b: Bound) -> Result<Bound, String> {
    if b.op == Cmp::Lt && b.value == 0 {
        return Err("nothing is less than 0, so the check could never pass".into());
    }
    Ok(b)
}

pub(crate) fn parse_rate(text: &str) -> Result<Bound, String> {
    let (op, v) = split(text, Cmp::Ge);
    Ok(Bound {
        op,
        value: impair::parse_rate(v)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_read_with_or_without_a_comparison() {
        assert_eq!(
            parse_rtt("< 60ms"),
            Ok(Bound {
                op: Cmp::Lt,
                value: 60_000
            })
        );
        assert_eq!(parse_rate(">= 9mbit").map(|b| b.value), Ok(9_000_000));
        assert_eq!(parse_rate("9mbit").map(|b| b.op), Ok(Cmp::Ge));
        assert_eq!(parse_loss("<5%").map(|b| b.value), Ok(50_000_000));
        assert!(parse_loss("< 105%").is_err());
        assert!(parse_loss("< 0%").unwrap_err().contains("never pass"));
        assert!(parse_rtt("< 0ms").unwrap_err().contains("never pass"));
        assert!(parse_loss("<= 0%").is_ok());
        assert!(Cmp::Ge.holds(9.5, 9.0) && !Cmp::Lt.holds(60.0, 60.0));
    }
}
