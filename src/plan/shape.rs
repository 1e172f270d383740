//! An impairment as qdiscs on one device: netem for delay, jitter, loss, duplication,
//! reordering and corruption; TBF for a rate. Both: netem at the root and TBF as its child
//! (the layout of the netem documentation), so packets are delayed, then paced.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::impair::{self, Distribution, Impair};

/// netem's queue, in packets: `tc`'s default.
pub(crate) const NETEM_LIMIT: u32 = 1000;

/// The qdiscs that make an impairment, with every size decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// The netem part: everything but the rate. `None` when only a rate is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netem: Option<Impair>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tbf: Option<Tbf>,
}

/// A token bucket: the rate, the bucket (bytes sent back to back) and the queue (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tbf {
    pub rate_bps: u64,
    pub burst: u32,
    pub limit: u32,
}

impl Tbf {
    /// Sizes a user need not know: the bucket holds 10 ms at the rate but at least two
    /// full frames (a bucket smaller than a frame drops every frame of that size), and the
    /// queue 100 ms more, at least three frames (TCP needs room for its window to grow).
    pub fn for_rate(rate_bps: u64, mtu: u32) -> Tbf {
        let frame = u64::from(mtu) + 14;
        let bytes_per_sec = rate_bps / 8;
        let burst = (bytes_per_sec / 100).max(2 * frame).min(4 << 20);
        let limit = (burst + bytes_per_sec / 10)
            .max(burst + 3 * frame)
            .min(32 << 20);
        Tbf {
            rate_bps,
            burst: burst as u32,
            limit: limit as u32,
        }
    }
}

impl Shape {
    pub fn of(i: &Impair, mtu: u32) -> Shape {
        let netem = i.needs_netem().then(|| Impair {
            rate_bps: None,
            ..i.clone()
        });
        Shape {
            netem,
            tbf: i.rate_bps.map(|r| Tbf::for_rate(r, mtu)),
        }
    }

    /// The root qdisc's handle (`1:`) and the TBF's under netem (`10:`, parent `1:1`).
    pub const ROOT_HANDLE: u32 = 0x0001_0000;
    pub const CHILD_HANDLE: u32 = 0x000a_0000;
    pub const CHILD_PARENT: u32 = 0x0001_0001;

    /// The `tc` commands that build it, one per qdisc.
    pub fn tc_lines(&self, ns: &str, dev: &str) -> Vec<String> {
        let tc = if crate::model::Netns::of(ns).is_machine() {
            "tc".to_string()
        } else {
            format!("tc -n {ns}")
        };
        let mut out = Vec::new();
        if let Some(n) = &self.netem {
            out.push(format!(
                "{tc} qdisc add dev {dev} root handle 1: {}",
                netem_args(n)
            ));
        }
        if let Some(t) = &self.tbf {
            let place = if self.netem.is_some() {
                "parent 1:1 handle 10:"
            } else {
                "root handle 1:"
            };
            out.push(format!(
                "{tc} qdisc add dev {dev} {place} tbf rate {} burst {}b limit {}b",
                impair::rate(t.rate_bps),
                t.burst,
                t.limit
            ));
        }
        out
    }
}

/// netem's arguments as `tc` takes them.
pub(crate) fn netem_args(n: &Impair) -> String {
    let mut s = format!("netem limit {NETEM_LIMIT}");
    if let Some(d) = n.delay_ns {
        let _ = write!(s, " delay {}", impair::time(d));
        if let Some(j) = n.jitter {
            let _ = write!(s, " {}", impair::time(j.ns));
            if j.correlation_ppb != 0 {
                let _ = write!(s, " {}", impair::percent(j.correlation_ppb));
            }
            if j.distribution != Distribution::Uniform {
                let _ = write!(s, " distribution {}", j.distribution.as_str());
            }
        }
    }
    if let Some(c) = n.loss {
        let _ = write!(s, " loss random {}", impair::chance(c));
    }
    for (name, c) in [
        ("duplicate", n.duplicate),
        ("corrupt", n.corrupt),
        ("reorder", n.reorder),
    ] {
        if let Some(c) = c {
            let _ = write!(s, " {name} {}", impair::chance(c));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::impair::{Chance, Jitter};

    #[test]
    fn a_rate_alone_is_a_tbf_at_the_root() {
        let s = Shape::of(
            &Impair {
                rate_bps: Some(10_000_000),
                ..Impair::default()
            },
            1500,
        );
        assert_eq!(
            s.tc_lines("lab.h1", "eth0"),
            [
                "tc -n lab.h1 qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 12500b limit 137500b"
            ]
        );
        // 1 Mbit/s: 10 ms would be 1250 bytes, less than two frames.
        let t = Tbf::for_rate(1_000_000, 1500);
        assert_eq!((t.burst, t.limit), (3028, 15528));
    }

    #[test]
    fn netem_goes_first_and_tbf_under_it() {
        let s = Shape::of(
            &Impair {
                delay_ns: Some(40_000_000),
                jitter: Some(Jitter {
                    ns: 5_000_000,
                    correlation_ppb: 250_000_000,
                    distribution: Distribution::Normal,
                }),
                loss: Some(Chance {
                    ppb: 10_000_000,
                    correlation_ppb: 0,
                }),
                rate_bps: Some(1_000_000),
                ..Impair::default()
            },
            1500,
        );
        assert_eq!(
            s.tc_lines("l.a", "eth0"),
            [
                "tc -n l.a qdisc add dev eth0 root handle 1: netem limit 1000 delay 40ms 5ms 25% distribution normal loss random 1%",
                "tc -n l.a qdisc add dev eth0 parent 1:1 handle 10: tbf rate 1mbit burst 3028b limit 15528b",
            ]
        );
    }
}
