//! A probe's verdict: the row it reports, and the verdict of a run of them.

use std::net::IpAddr;
use std::time::Instant;

use serde::Serialize;

use super::icmp::Outcome;
use super::{measure, transport};
use crate::model::Lab;

/// How a probe asks: the layer follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Method {
    /// An ARP request (layer 2).
    Arp,
    /// An IPv6 neighbour solicitation (layer 2).
    Ndp,
    /// A node's neighbour cache read (layer 2).
    Neighbour,
    /// A probe's frames watched for at another node (layer 2).
    Frame,
    /// ICMP echo (layer 3).
    Icmp,
    /// ICMP echo with growing TTL, traceroute's way (layer 3).
    Trace,
    /// A TCP connection (layer 4).
    Tcp,
    /// A UDP datagram and its echo (layer 4).
    Udp,
}

impl Method {
    pub(crate) fn layer(self) -> u8 {
        match self {
            Method::Arp | Method::Ndp | Method::Neighbour | Method::Frame => 2,
            Method::Icmp | Method::Trace => 3,
            Method::Tcp | Method::Udp => 4,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Arp => "arp",
            Method::Ndp => "ndp",
            Method::Neighbour => "neighbour",
            Method::Frame => "frame",
            Method::Icmp => "icmp",
            Method::Trace => "trace",
            Method::Tcp => "tcp",
            Method::Udp => "udp",
        }
    }
}

/// A probe's verdict: what the file expects was seen, was not, or the probe could not be
/// carried out at all (which is never a pass, whatever the file expects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Pass,
    Fail,
    Error,
}

/// One probe's verdict, as reported.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub layer: u8,
    pub method: Method,
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub expect: bool,
    /// What was expected, in words, when it is more than reaching.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expect_text: String,
    pub got: String,
    /// The round trip of the try that was answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Which try was answered (1: the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub try_no: Option<u8>,
    /// Whose listener answered a TCP or UDP check: vnet's own, or the lab's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener: Option<transport::Listener>,
    pub verdict: Status,
    /// `verdict == "pass"`.
    pub pass: bool,
    /// What a measuring check measured (`rtt:`, `loss:`, `rate:`), and `within:`'s timing.
    #[serde(flatten)]
    pub measured: measure::Measured,
    /// Why a check that should reach did not: `vnet explain`'s verdict for its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

impl Row {
    pub(super) fn judged(mut self, verdict: Status) -> Row {
        self.verdict = verdict;
        self.pass = verdict == Status::Pass;
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verdict {
    pub rows: Vec<Row>,
    pub passed: usize,
    pub failed: usize,
    /// Probes that could not be carried out.
    pub errors: usize,
    pub seconds: f64,
}

impl Verdict {
    pub(crate) fn ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

pub(super) fn got(o: &Outcome) -> String {
    match o {
        Outcome::Reply { .. } => "reply".into(),
        Outcome::Timeout => "no reply".into(),
        Outcome::Unreachable { from, why } => format!("{why} (from {from})"),
        Outcome::NoRoute(e) => format!("not sent: {e}"),
        Outcome::Error(e) => format!("probe could not run: {e}"),
        Outcome::Refused => "refused (nothing listens)".into(),
    }
}

fn rtt(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Reply { rtt, .. } => Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
        _ => None,
    }
}

fn try_no(o: &Outcome) -> Option<u8> {
    match o {
        Outcome::Reply { try_no, .. } => Some(*try_no),
        _ => None,
    }
}

/// Pass when what was seen is what the file expects; an error whatever it expects.
fn status(o: &Outcome, expect: bool) -> Status {
    if o.is_error() {
        Status::Error
    } else if o.reached() == expect {
        Status::Pass
    } else {
        Status::Fail
    }
}

pub(super) fn row(
    lab: &Lab,
    method: Method,
    from: usize,
    to: String,
    address: IpAddr,
    expect: bool,
    o: &Outcome,
) -> Row {
    let verdict = status(o, expect);
    Row {
        layer: method.layer(),
        method,
        from: lab.nodes[from].name.clone(),
        to,
        address,
        expect,
        expect_text: String::new(),
        got: got(o),
        rtt_ms: rtt(o),
        try_no: try_no(o),
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

pub(super) fn verdict(rows: Vec<Row>, start: Instant) -> Verdict {
    let count = |s: Status| rows.iter().filter(|r| r.verdict == s).count();
    Verdict {
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        errors: count(Status::Error),
        rows,
        seconds: start.elapsed().as_secs_f64(),
    }
}
