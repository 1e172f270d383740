//! ⑤ Verify: the lab's `expect:` checks, probed for real from inside the source namespaces.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub(crate) mod arp;
pub(crate) mod capture;
pub(crate) mod drift;
pub(crate) mod explain;
pub(crate) mod icmp;
pub(crate) mod measure;
pub(crate) mod neighbour;
pub(crate) mod observe;
pub(crate) mod report;
pub(crate) mod trace;
pub(crate) mod transport;

use crate::model::{Lab, NodeKind, Proto, Target};
use icmp::Outcome;

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

/// How many probes of one kind may run at once, each holding up to `each` descriptors: the
/// four kinds run side by side, so each takes at most a quarter of what the open-file limit
/// leaves, and never more than 256 threads.
fn at_once(each: usize) -> usize {
    (crate::apply::netns::spare_descriptors() / 4 / each.max(1)).clamp(1, 256)
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
    fn judged(mut self, verdict: Status) -> Row {
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

/// The addresses a check probes: the address itself, or every address of the target node that
/// the source can speak to (its IP versions).
fn addresses(lab: &Lab, from: usize, to: &Target) -> Vec<IpAddr> {
    let families: Vec<bool> = lab.addresses(from).map(|a| a.addr().is_ipv4()).collect();
    match to {
        Target::Addr(a) => vec![*a],
        Target::Node(n) => lab
            .addresses(*n)
            .map(|a| a.addr())
            .filter(|a| families.contains(&a.is_ipv4()))
            .collect(),
    }
}

fn got(o: &Outcome) -> String {
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

/// The interfaces a node can send an ARP request from: the ones `up` creates with an address
/// or a link (sub-interfaces included), a bridge's device, a switch's VLAN interfaces.
fn l2_interfaces(lab: &Lab, node: usize) -> Vec<String> {
    let n = &lab.nodes[node];
    let linked = |name: &str| {
        lab.links.iter().any(|l| {
            [&l.a, &l.b]
                .iter()
                .any(|e| e.node == node && e.iface == name)
        })
    };
    n.interfaces
        .iter()
        .filter(|i| match n.kind {
            NodeKind::Host | NodeKind::Router => linked(i.vlan.as_ref().map_or(&i.name, |v| &v.0)),
            NodeKind::Bridge => i.name == n.name,
            NodeKind::Switch => !linked(&i.name),
        })
        .map(|i| i.name.clone())
        .collect()
}

/// Where a connection to `addr:port` lands: the node with that address, or, when that node
/// publishes the port, the node it is published to. `None` when no node of the lab has it.
fn landing(lab: &Lab, addr: IpAddr, proto: Proto, port: u16) -> Option<(String, u16)> {
    let owner = lab.owner(addr)?;
    let published = lab.nodes[owner].nat.as_ref().and_then(|n| {
        n.publish
            .iter()
            .find(|p| p.proto == proto && p.port == port)
    });
    match published {
        Some(p) => lab.owner(p.to.ip()).map(|n| (lab.netns(n), p.to.port())),
        None => Some((lab.netns(owner), port)),
    }
}

/// One probe of a check, and where its answer will be.
enum Job {
    Arp(usize),
    Icmp(usize),
    Trace(usize),
    Transport(usize),
    Neighbour(usize),
    /// Observation probe `.0`, its observer `.1`, which must (`.2`) see the frames or not.
    Observe(usize, usize, bool),
}

/// Runs the lab's checks, all at once: ARP for layer 2, ICMP echo for layer 3, TTL-limited
/// echo for `via`, TCP or UDP (with vnet's listeners) for ports.
pub(crate) fn checks(lab: &Lab, timing: &icmp::Timing) -> Verdict {
    run_checks(lab, &lab.checks, timing)
}

/// [`checks`] for a list of checks of the lab's (a stage's, say), each tried once.
pub(crate) fn probe_checks(
    lab: &Lab,
    checks: &[crate::model::Check],
    timing: &icmp::Timing,
) -> Verdict {
    let start = Instant::now();
    let mut jobs = Vec::new();
    let (mut l2, mut l3, mut traces, mut transports) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut neighbours, mut observed) = (Vec::new(), Vec::new());
    for (ci, c) in checks.iter().enumerate() {
        if let (Some(of), Target::Addr(addr)) = (c.neighbour_is, &c.to) {
            neighbours.push(neighbour::Probe {
                ns: lab.netns(c.from),
                addr: *addr,
                of: lab.netns(of),
            });
            jobs.push((ci, *addr, Job::Neighbour(neighbours.len() - 1)));
            continue;
        }
        let observers: Vec<(usize, bool)> = c
            .seen_by
            .iter()
            .map(|n| (*n, true))
            .chain(c.unseen_by.iter().map(|n| (*n, false)))
            .collect();
        if let (false, Some(dst)) = (observers.is_empty(), addresses(lab, c.from, &c.to).first()) {
            observed.push(observe::Probe {
                from_ns: lab.netns(c.from),
                dst: *dst,
                observers: observers.iter().map(|(n, _)| lab.netns(*n)).collect(),
            });
            for (k, (_, seen)) in observers.iter().enumerate() {
                jobs.push((ci, *dst, Job::Observe(observed.len() - 1, k, *seen)));
            }
        }
        let targets: Vec<IpAddr> = if c.layer == 2 {
            match &c.to {
                Target::Addr(a) => vec![*a],
                // ARP for a node's IPv4 addresses; neighbour discovery when it has only IPv6.
                Target::Node(n) => {
                    let all: Vec<IpAddr> = lab.addresses(*n).map(|a| a.addr()).collect();
                    let v4: Vec<IpAddr> = all.iter().copied().filter(IpAddr::is_ipv4).collect();
                    if v4.is_empty() { all } else { v4 }
                }
            }
        } else {
            addresses(lab, c.from, &c.to)
        };
        for a in targets {
            let job = match (c.layer, a, c.proto, c.port) {
                (2, _, _, _) => {
                    l2.push(arp::Probe {
                        ns: lab.netns(c.from),
                        ifaces: l2_interfaces(lab, c.from),
                        target: a,
                    });
                    Job::Arp(l2.len() - 1)
                }
                (_, _, Proto::Tcp | Proto::Udp, Some(port)) => {
                    transports.push(transport::Probe {
                        src_ns: lab.netns(c.from),
                        dst: std::net::SocketAddr::new(a, port),
                        proto: c.proto,
                        listen_at: if c.listen {
                            landing(lab, a, c.proto, port)
                        } else {
                            None
                        },
                    });
                    Job::Transport(transports.len() - 1)
                }
                _ if !c.via.is_empty() => {
                    traces.push((lab.netns(c.from), a));
                    Job::Trace(traces.len() - 1)
                }
                _ => {
                    l3.push((lab.netns(c.from), a));
                    Job::Icmp(l3.len() - 1)
                }
            };
            jobs.push((ci, a, job));
        }
    }
    let (o2, o3, ot, ox, on, oo) = std::thread::scope(|s| {
        let t2 = s.spawn(|| arp::probe_all(&l2, timing));
        let tt = s.spawn(|| trace::trace_all(&traces, timing));
        let tx = s.spawn(|| transport::probe_all(&transports, timing));
        let tn = s.spawn(|| neighbour::check_all(&neighbours, timing));
        let to = s.spawn(|| observe::observe_all(&observed, timing));
        let o3 = icmp::probe_all(&l3, timing);
        (
            t2.join().unwrap_or_default(),
            o3,
            tt.join().unwrap_or_default(),
            tx.join().unwrap_or_default(),
            tn.join().unwrap_or_default(),
            to.join().unwrap_or_default(),
        )
    });
    let rows = jobs
        .into_iter()
        .map(|(ci, address, job)| {
            let c = &checks[ci];
            let to = match (&c.to, c.port) {
                (t, Some(port)) => format!("{}:{port}", lab.target_label(t)),
                (t, None) => lab.target_label(t),
            };
            let r = match job {
                Job::Arp(i) => row(
                    lab,
                    if address.is_ipv4() {
                        Method::Arp
                    } else {
                        Method::Ndp
                    },
                    c.from,
                    to,
                    address,
                    c.reach,
                    o2.get(i).unwrap_or(&Outcome::Timeout),
                ),
                Job::Icmp(i) => row(
                    lab,
                    Method::Icmp,
                    c.from,
                    to,
                    address,
                    c.reach,
                    o3.get(i).unwrap_or(&Outcome::Timeout),
                ),
                Job::Trace(i) => {
                    traced(lab, c, to, address, ot.get(i).cloned().unwrap_or_default())
                }
                Job::Transport(i) => {
                    let res = ox.get(i).cloned().unwrap_or(transport::Result {
                        outcome: Outcome::Timeout,
                        peer: None,
                    });
                    seen(lab, c, to, address, res)
                }
                Job::Neighbour(i) => {
                    let found = on
                        .get(i)
                        .cloned()
                        .unwrap_or(neighbour::Found::Error("not checked".into()));
                    cached(lab, c, address, found)
                }
                Job::Observe(i, k, seen) => {
                    let counted = oo
                        .get(i)
                        .and_then(|o| o.get(k).cloned())
                        .unwrap_or_else(|| Err("not observed".into()));
                    let observer = if seen {
                        c.seen_by.get(k)
                    } else {
                        c.unseen_by.get(k - c.seen_by.len())
                    };
                    let observer = observer.map_or("?", |n| lab.nodes[*n].name.as_str());
                    watched(lab, c, to, address, observer, seen, counted)
                }
            };
            match &c.measure {
                Some(m) => measure::judge(lab, c, m, r),
                None => r,
            }
        })
        .collect();
    verdict(rows, start)
}

/// [`probe_checks`], with `within:` checks tried again until they hold or their time is up
/// (each alone, in the order written; the others together, as always).
pub(crate) fn run_checks(
    lab: &Lab,
    checks: &[crate::model::Check],
    timing: &icmp::Timing,
) -> Verdict {
    if checks.iter().all(|c| c.within_ms.is_none()) {
        return probe_checks(lab, checks, timing);
    }
    let start = Instant::now();
    let mut rows = Vec::new();
    let mut batch: Vec<crate::model::Check> = Vec::new();
    for c in checks {
        let Some(ms) = c.within_ms else {
            batch.push(c.clone());
            continue;
        };
        if !batch.is_empty() {
            rows.extend(probe_checks(lab, &batch, timing).rows);
            batch.clear();
        }
        rows.extend(measure::until_it_holds(
            lab,
            c,
            Duration::from_millis(ms),
            timing,
        ));
    }
    if !batch.is_empty() {
        rows.extend(probe_checks(lab, &batch, timing).rows);
    }
    verdict(rows, start)
}

/// A TCP/UDP row: reached or not, and, with `seen_as`, whether the listener saw that source.
fn seen(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    res: transport::Result,
) -> Row {
    let method = if c.proto == Proto::Udp {
        Method::Udp
    } else {
        Method::Tcp
    };
    let mut r = row(lab, method, c.from, to, address, c.reach, &res.outcome);
    r.listener = res.listener();
    match (&res.outcome, res.peer) {
        (Outcome::Reply { .. }, Some(peer)) => {
            r.got = format!(
                "connected to vnet's listener, seen as {}",
                name_of(lab, peer)
            );
        }
        (Outcome::Reply { .. }, None) => r.got = "connected to the lab's own service".into(),
        _ => {}
    }
    if let Some(expected) = &c.seen_as {
        let want: Vec<IpAddr> = match expected {
            Target::Addr(a) => vec![*a],
            Target::Node(n) => lab.addresses(*n).map(|a| a.addr()).collect(),
        };
        let ok = res.peer.is_some_and(|p| want.contains(&p));
        if res.outcome.reached() && res.peer.is_none() {
            r.got = "connected to the lab's own service: source unknown".into();
        }
        if r.verdict == Status::Pass && !ok {
            r = r.judged(Status::Fail);
        }
        r.expect_text = format!("seen as {}", lab.target_label(expected));
    }
    r
}

/// A neighbour-cache row: whose MAC the entry holds.
fn cached(lab: &Lab, c: &crate::model::Check, address: IpAddr, found: neighbour::Found) -> Row {
    let node = c.neighbour_is.map_or("?", |n| lab.nodes[n].name.as_str());
    let (got, verdict) = match &found {
        neighbour::Found::Entry { mac, theirs } => (
            format!(
                "{mac} ({})",
                if *theirs {
                    format!("{node}'s")
                } else {
                    format!("not {node}'s")
                }
            ),
            if *theirs == c.reach {
                Status::Pass
            } else {
                Status::Fail
            },
        ),
        neighbour::Found::Missing => (
            "no entry, even after asking".to_owned(),
            if c.reach { Status::Fail } else { Status::Pass },
        ),
        neighbour::Found::Error(e) => (format!("could not read: {e}"), Status::Error),
    };
    Row {
        layer: 2,
        method: Method::Neighbour,
        from: lab.nodes[c.from].name.clone(),
        to: format!("neighbour {address}"),
        address,
        expect: c.reach,
        expect_text: format!("{} {node}'s MAC", if c.reach { "is" } else { "is not" }),
        got,
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

/// A frame-observation row: did the probe's frames arrive at `observer`?
fn watched(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    observer: &str,
    must_see: bool,
    counted: Result<usize, String>,
) -> Row {
    let (got, verdict) = match counted {
        Ok(n) => (
            match n {
                0 => format!(
                    "none of {} echo requests arrived at {observer}",
                    observe::SENT
                ),
                n => format!(
                    "{n} of {} echo requests arrived at {observer}",
                    observe::SENT
                ),
            },
            if (n > 0) == must_see {
                Status::Pass
            } else {
                Status::Fail
            },
        ),
        Err(e) => (format!("probe could not run: {e}"), Status::Error),
    };
    Row {
        layer: 2,
        method: Method::Frame,
        from: lab.nodes[c.from].name.clone(),
        to,
        address,
        expect: must_see,
        expect_text: format!(
            "{} by {observer}",
            if must_see { "seen" } else { "not seen" }
        ),
        got,
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

/// An address, with the node that has it when there is one: `10.0.0.1 (r1)`.
fn name_of(lab: &Lab, a: IpAddr) -> String {
    match lab.owner(a) {
        Some(n) => format!("{a} ({})", lab.nodes[n].name),
        None => a.to_string(),
    }
}

/// A `via` row: the hops seen, and whether the listed nodes were among them, in order.
fn traced(
    lab: &Lab,
    c: &crate::model::Check,
    to: String,
    address: IpAddr,
    path: trace::Path,
) -> Row {
    let owners: Vec<Option<usize>> = path
        .hops
        .iter()
        .map(|h| h.and_then(|a| lab.owner(a)))
        .collect();
    let mut want = c.via.iter().peekable();
    for o in owners.iter().flatten() {
        if want.peek() == Some(&o) {
            want.next();
        }
    }
    let in_order = want.peek().is_none();
    let hops: Vec<String> = path
        .hops
        .iter()
        .map(|h| match h {
            Some(a) => lab
                .owner(*a)
                .map_or(a.to_string(), |n| lab.nodes[n].name.clone()),
            None => "*".into(),
        })
        .collect();
    let via: Vec<&str> = c.via.iter().map(|n| lab.nodes[*n].name.as_str()).collect();
    let path_text = if hops.is_empty() {
        "no hop answered".to_owned()
    } else {
        format!("path {}", hops.join(" → "))
    };
    let verdict = match &path.stop {
        Some(Outcome::Error(_)) => Status::Error,
        _ if path.reached && in_order => Status::Pass,
        _ => Status::Fail,
    };
    Row {
        layer: 3,
        method: Method::Trace,
        from: lab.nodes[c.from].name.clone(),
        to,
        address,
        expect: c.reach,
        expect_text: format!("via {}", via.join(" → ")),
        got: match (&path.stop, path.reached) {
            (Some(Outcome::Error(e)), _) => format!("probe could not run: {e}"),
            (Some(Outcome::NoRoute(e)), _) if hops.is_empty() => format!("not sent: {e}"),
            (Some(Outcome::NoRoute(e)), _) => format!("{path_text}, then not sent: {e}"),
            (Some(Outcome::Unreachable { from, why }), _) => {
                format!("{path_text}, then {why} (from {})", name_of(lab, *from))
            }
            (Some(other), _) => format!("{path_text}, then {}", got(other)),
            (None, true) if in_order => path_text,
            (None, true) => format!("{path_text}: not via {}", via.join(" → ")),
            (None, false) => format!("no reply; {path_text}"),
        },
        rtt_ms: None,
        try_no: None,
        listener: None,
        verdict,
        pass: verdict == Status::Pass,
        measured: measure::Measured::default(),
        explanation: None,
    }
}

fn row(
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

fn verdict(rows: Vec<Row>, start: Instant) -> Verdict {
    let count = |s: Status| rows.iter().filter(|r| r.verdict == s).count();
    Verdict {
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        errors: count(Status::Error),
        rows,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn run(
    lab: &Lab,
    meta: Vec<(usize, String, IpAddr, bool)>,
    probes: Vec<(String, IpAddr)>,
    timing: &icmp::Timing,
) -> Verdict {
    let start = Instant::now();
    let outcomes = icmp::probe_all(&probes, timing);
    let rows = meta
        .into_iter()
        .zip(outcomes)
        .map(|((from, to, address, expect), o)| {
            row(lab, Method::Icmp, from, to, address, expect, &o)
        })
        .collect();
    verdict(rows, start)
}

/// Whether the file itself expects `from` not to reach `dst` of node `to`: a `reach: false`
/// ICMP check for that node or that address.
fn isolated_by_the_file(lab: &Lab, from: usize, to: usize, dst: IpAddr) -> bool {
    lab.checks.iter().any(|c| {
        c.from == from
            && !c.reach
            && c.layer == 3
            && c.proto == Proto::Icmp
            && c.via.is_empty()
            && match c.to {
                Target::Node(n) => n == to,
                Target::Addr(a) => a == dst,
            }
    })
}

/// Every host against every other (Mininet's `pingall`): each must reach each, except where
/// the file's own `reach: false` checks say a pair must not.
pub(crate) fn all_pairs(lab: &Lab, timing: &icmp::Timing) -> Verdict {
    let hosts: Vec<usize> = (0..lab.nodes.len())
        .filter(|&n| lab.nodes[n].kind == NodeKind::Host && lab.addresses(n).next().is_some())
        .collect();
    let mut meta = Vec::new();
    let mut probes = Vec::new();
    for &a in &hosts {
        for &b in &hosts {
            if a == b {
                continue;
            }
            // One address per IP version both speak: the first one written.
            for v4 in [true, false] {
                let src_has = lab.addresses(a).any(|x| x.addr().is_ipv4() == v4);
                let dst = lab
                    .addresses(b)
                    .map(|x| x.addr())
                    .find(|x| x.is_ipv4() == v4);
                if let (true, Some(dst)) = (src_has, dst) {
                    let expect = !isolated_by_the_file(lab, a, b, dst);
                    meta.push((a, lab.nodes[b].name.clone(), dst, expect));
                    probes.push((lab.netns(a), dst));
                }
            }
        }
    }
    run(lab, meta, probes, timing)
}

/// The kernel keeps one neighbour (ARP) table for all namespaces together, capped by
/// `net.ipv4.neigh.default.gc_thresh3` in the machine's root namespace (1024 by default). An
/// all-pairs run over many hosts needs an entry per pair on a shared subnet; past the cap,
/// the kernel refuses new entries and those probes fail. Returns a warning when that looms.
pub(crate) fn neighbour_pressure(v: &Verdict, lab: &Lab) -> Option<String> {
    let on_link = v
        .rows
        .iter()
        .filter(|r| {
            lab.node_index(&r.from)
                .is_some_and(|n| lab.addresses(n).any(|net| net.contains(&r.address)))
        })
        .count();
    let cap = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(1024);
    (on_link > cap).then(|| {
        format!(
            "these probes need about {on_link} neighbour (ARP/NDP) entries at once, but the kernel keeps at most {cap} for all namespaces together, so some probes fail for that reason alone; raise the limit in the machine's root namespace (`sysctl -w net.ipv4.neigh.default.gc_thresh3={} net.ipv6.neigh.default.gc_thresh3={}`) or probe fewer pairs",
            on_link * 2,
            on_link * 2
        )
    })
}
