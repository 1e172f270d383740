//! ⑤ Verify: the lab's `expect:` checks, probed for real from inside the source namespaces.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod icmp;
pub mod report;

use crate::model::{Lab, NodeKind, Target};
use icmp::Outcome;

/// One probe's verdict, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub from: String,
    pub to: String,
    pub address: IpAddr,
    pub expect: bool,
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
    }
}

fn rtt(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Reply { rtt } => Some((rtt.as_secs_f64() * 1e5).round() / 100.0),
        _ => None,
    }
}

/// Runs the lab's checks (all at once).
pub fn checks(lab: &Lab, timing: &icmp::Timing) -> Verdict {
    let mut meta = Vec::new();
    let mut probes = Vec::new();
    for c in &lab.checks {
        for a in addresses(lab, c.from, &c.to) {
            meta.push((c.from, lab.target_label(&c.to), a, c.reach));
            probes.push((lab.netns(c.from), a));
        }
    }
    run(lab, meta, probes, timing)
}

fn run(
    lab: &Lab,
    meta: Vec<(usize, String, IpAddr, bool)>,
    probes: Vec<(String, IpAddr)>,
    timing: &icmp::Timing,
) -> Verdict {
    let start = Instant::now();
    let outcomes = icmp::probe_all(&probes, timing);
    let rows: Vec<Row> = meta
        .into_iter()
        .zip(outcomes)
        .map(|((from, to, address, expect), o)| Row {
            from: lab.nodes[from].name.clone(),
            to,
            address,
            expect,
            got: got(&o),
            rtt_ms: rtt(&o),
            pass: o.reached() == expect,
        })
        .collect();
    let passed = rows.iter().filter(|r| r.pass).count();
    Verdict {
        failed: rows.len() - passed,
        passed,
        rows,
        seconds: start.elapsed().as_secs_f64(),
    }
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
