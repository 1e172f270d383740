//! Every host against every other (`vnet verify --all-pairs`), and the kernel limit that can
//! spoil such a run.

use std::net::IpAddr;
use std::time::Instant;

use super::verdict::{row, verdict};
use super::{Method, Verdict, icmp};
use crate::model::{Lab, NodeKind, Proto, Target};

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
