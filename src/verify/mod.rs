//! ⑤ Verify: the lab's `expect:` checks, probed for real from inside the source namespaces.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod arp;
pub mod icmp;
pub mod report;
pub mod trace;
pub mod transport;

use crate::model::{Lab, NodeKind, Proto, Target};
use icmp::Outcome;

/// How many probes of one kind may run at once, each holding up to `each` descriptors: the
/// four kinds run side by side, so each takes at most a quarter of what the open-file limit
/// leaves, and never more than 256 threads.
fn at_once(each: usize) -> usize {
    (crate::apply::netns::spare_descriptors() / 4 / each.max(1)).clamp(1, 256)
}

/// One probe's verdict, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub layer: u8,
    pub proto: &'static str,
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub expect: bool,
    /// What was expected, in words, when it is more than reaching.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expect_text: String,
    pub got: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    pub pass: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub rows: Vec<Row>,
    pub passed: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.failed == 0
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
        Outcome::NotSent(e) => format!("not sent: {e}"),
        Outcome::Refused => "refused (nothing listens)".into(),
    }
}

fn rtt(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Reply { rtt } => Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
        _ => None,
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
}

/// Runs the lab's checks, all at once: ARP for layer 2, ICMP echo for layer 3, TTL-limited
/// echo for `via`, TCP or UDP (with vnet's listeners) for ports.
pub fn checks(lab: &Lab, timing: &icmp::Timing) -> Verdict {
    let start = Instant::now();
    let mut jobs = Vec::new();
    let (mut l2, mut l3, mut traces, mut transports) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (ci, c) in lab.checks.iter().enumerate() {
        let targets: Vec<IpAddr> = if c.layer == 2 {
            match &c.to {
                Target::Addr(a) => vec![*a],
                Target::Node(n) => lab
                    .addresses(*n)
                    .map(|a| a.addr())
                    .filter(IpAddr::is_ipv4)
                    .collect(),
            }
        } else {
            addresses(lab, c.from, &c.to)
        };
        for a in targets {
            let job = match (c.layer, a, c.proto, c.port) {
                (2, IpAddr::V4(v4), _, _) => {
                    l2.push(arp::Probe {
                        ns: lab.netns(c.from),
                        ifaces: l2_interfaces(lab, c.from),
                        target: v4,
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
    let (o2, o3, ot, ox) = std::thread::scope(|s| {
        let t2 = s.spawn(|| arp::probe_all(&l2, timing));
        let tt = s.spawn(|| trace::trace_all(&traces, timing));
        let tx = s.spawn(|| transport::probe_all(&transports, timing));
        let o3 = icmp::probe_all(&l3, timing);
        (
            t2.join().unwrap_or_default(),
            o3,
            tt.join().unwrap_or_default(),
            tx.join().unwrap_or_default(),
        )
    });
    let rows = jobs
        .into_iter()
        .map(|(ci, address, job)| {
            let c = &lab.checks[ci];
            let to = match (&c.to, c.port) {
                (t, Some(port)) => format!("{}:{port}", lab.target_label(t)),
                (t, None) => lab.target_label(t),
            };
            let mut r = match job {
                Job::Arp(i) => row(
                    lab,
                    2,
                    c.from,
                    to,
                    address,
                    c.reach,
                    o2.get(i).unwrap_or(&Outcome::Timeout),
                ),
                Job::Icmp(i) => row(
                    lab,
                    3,
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
            };
            r.proto = c.proto.as_str();
            r
        })
        .collect();
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
    let mut r = row(lab, 3, c.from, to, address, c.reach, &res.outcome);
    if let (Outcome::Reply { .. }, Some(peer)) = (&res.outcome, res.peer) {
        r.got = format!("connected, seen as {}", name_of(lab, peer));
    }
    if let Some(expected) = &c.seen_as {
        let want: Vec<IpAddr> = match expected {
            Target::Addr(a) => vec![*a],
            Target::Node(n) => lab.addresses(*n).map(|a| a.addr()).collect(),
        };
        let ok = res.peer.is_some_and(|p| want.contains(&p));
        if res.outcome.reached() && res.peer.is_none() {
            r.got = "connected, but not to vnet's listener: source unknown".into();
        }
        r.pass &= ok;
        r.expect_text = format!("seen as {}", lab.target_label(expected));
    }
    r
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
    Row {
        layer: 3,
        proto: "icmp",
        from: lab.nodes[c.from].name.clone(),
        to,
        address,
        expect: c.reach,
        expect_text: format!("via {}", via.join(" → ")),
        got: match (&path.error, path.reached) {
            (Some(e), _) => format!("path {} then {e}", hops.join(" → ")),
            (None, true) => format!("path {}", hops.join(" → ")),
            (None, false) => format!("no reply; path {}", hops.join(" → ")),
        },
        rtt_ms: None,
        pass: path.reached && in_order,
    }
}

fn row(
    lab: &Lab,
    layer: u8,
    from: usize,
    to: String,
    address: IpAddr,
    expect: bool,
    o: &Outcome,
) -> Row {
    Row {
        layer,
        proto: "icmp",
        from: lab.nodes[from].name.clone(),
        to,
        address,
        expect,
        expect_text: String::new(),
        got: got(o),
        rtt_ms: rtt(o),
        pass: o.reached() == expect,
    }
}

fn verdict(rows: Vec<Row>, start: Instant) -> Verdict {
    let passed = rows.iter().filter(|r| r.pass).count();
    Verdict {
        failed: rows.len() - passed,
        passed,
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
        .map(|((from, to, address, expect), o)| row(lab, 3, from, to, address, expect, &o))
        .collect();
    verdict(rows, start)
}

/// Every host against every other (Mininet's `pingall`): each must reach each.
pub fn all_pairs(lab: &Lab, timing: &icmp::Timing) -> Verdict {
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
                    meta.push((a, lab.nodes[b].name.clone(), dst, true));
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
pub fn neighbour_pressure(v: &Verdict, lab: &Lab) -> Option<String> {
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

/// A short wait for tests that want a quick negative answer.
pub fn quick_timing() -> icmp::Timing {
    icmp::Timing {
        tries: vec![Duration::from_millis(300), Duration::from_millis(600)],
    }
}
