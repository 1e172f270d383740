//! ⑤ Verify: the lab's `expect:` checks, probed for real from inside the source namespaces.

use std::net::IpAddr;
use std::time::{Duration, Instant};

mod all_pairs;
pub(crate) mod arp;
pub(crate) mod capture;
pub(crate) mod drift;
pub(crate) mod explain;
pub(crate) mod icmp;
pub(crate) mod measure;
mod membership;
pub(crate) mod neighbour;
pub(crate) mod observe;
pub(crate) mod report;
mod rows;
pub(crate) mod trace;
pub(crate) mod transport;
mod verdict;

use crate::model::{Lab, NodeKind, Proto, Target};
use icmp::Outcome;
use rows::{cached, seen, traced, watched};
use verdict::{row, verdict};

pub(crate) use all_pairs::{all_pairs, neighbour_pressure};
pub(crate) use verdict::{Method, Row, Status, Verdict};

/// How many probes of one kind may run at once, each holding up to `each` descriptors: the
/// four kinds run side by side, so each takes at most a quarter of what the open-file limit
/// leaves, and never more than 256 threads.
fn at_once(each: usize) -> usize {
    (crate::apply::netns::spare_descriptors() / 4 / each.max(1)).clamp(1, 256)
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
