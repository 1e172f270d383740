//! ⑤ Verify: the lab's `expect:` checks, probed for real from inside the source namespaces.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod arp;
pub mod icmp;
pub mod report;

use crate::model::{Lab, NodeKind, Target};
use icmp::Outcome;

/// One probe's verdict, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub layer: u8,
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

/// Runs the lab's checks (all at once): ICMP for layer 3, ARP for layer 2.
pub fn checks(lab: &Lab, timing: &icmp::Timing) -> Verdict {
    let start = Instant::now();
    let mut meta = Vec::new();
    let mut l3 = Vec::new();
    let mut l2 = Vec::new();
    for c in &lab.checks {
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
            let slot = match (c.layer, a) {
                (2, IpAddr::V4(v4)) => {
                    l2.push(arp::Probe {
                        ns: lab.netns(c.from),
                        ifaces: l2_interfaces(lab, c.from),
                        target: v4,
                    });
                    (2, l2.len() - 1)
                }
                _ => {
                    l3.push((lab.netns(c.from), a));
                    (3, l3.len() - 1)
                }
            };
            meta.push((c.from, lab.target_label(&c.to), a, c.reach, slot));
        }
    }
    let (o3, o2) = std::thread::scope(|s| {
        let t2 = s.spawn(|| arp::probe_all(&l2, timing));
        let o3 = icmp::probe_all(&l3, timing);
        (o3, t2.join().unwrap_or_default())
    });
    let rows = meta
        .into_iter()
        .map(|(from, to, address, expect, (layer, i))| {
            let o = if layer == 2 { o2.get(i) } else { o3.get(i) }
                .cloned()
                .unwrap_or(Outcome::Timeout);
            row(lab, layer, from, to, address, expect, &o)
        })
        .collect();
    verdict(rows, start)
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
        from: lab.nodes[from].name.clone(),
        to,
        address,
        expect,
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
