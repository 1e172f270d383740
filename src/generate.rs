//! `vnet gen`: Mininet's `single`, `linear` and `tree` topologies written as vnet topology
//! files, with addresses and checks. Pure: text out, no kernel, no files.
//!
//! Switches are vnet bridges (`kind: bridge`), each in its own namespace as Mininet's `lxbr`
//! switches are not; hosts are `h1..hN` with `eth0`, all on one subnet (a /16, or a /8 past
//! 65,534 hosts), numbered like Mininet's (`h1` is 10.0.0.1). A bridge never gets more ports
//! than `max_ports`: a `single` switch that would is split into a tree of bridges (a tree, so
//! there is no layer-2 loop), which is still one broadcast domain.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The kernel numbers a bridge's ports 1..=1023 (0 is reserved): more than 1023 fail with EXFULL.
pub(crate) const KERNEL_MAX_PORTS: usize = 1023;
/// Ports per bridge unless told otherwise: under the kernel's limit with room to spare.
pub(crate) const DEFAULT_MAX_PORTS: usize = 1000;
/// Past this the file would near the 16 MiB that `vnet` reads, and no machine has the memory.
pub(crate) const MAX_HOSTS: usize = 200_000;
/// `auto` checks every ordered pair up to this many hosts (90 checks), a sample beyond.
pub(crate) const ALL_PAIRS_UP_TO: usize = 10;
/// How many hosts a sampled `expect:` visits, spread evenly over the lab.
pub(crate) const SAMPLE: usize = 16;

/// Which of Mininet's topologies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `--topo single,N`: N hosts on one switch.
    Single { hosts: usize },
    /// `--topo linear,N`: N switches in a chain, one host on each.
    Linear { switches: usize },
    /// `--topo tree,depth=D,fanout=F`: a tree of switches D deep, F children each, hosts at
    /// the leaves (F^D hosts).
    Tree { depth: u32, fanout: usize },
}

/// What goes into the `expect:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Expect {
    /// Every ordered pair for a few hosts, a sample for more.
    #[default]
    Auto,
    /// Every ordered pair of hosts (N × (N-1) checks).
    All,
    /// A ring over a few hosts spread evenly over the lab: far-apart pairs, a short file.
    Sample,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// The lab's name; by default after the shape (`single-100`).
    pub name: Option<String>,
    pub max_ports: usize,
    pub expect: Expect,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: None,
            max_ports: DEFAULT_MAX_PORTS,
            expect: Expect::Auto,
        }
    }
}

/// A shape or option that cannot become a lab; the message says why and what would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GenError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// 1-based host number.
    Host(usize),
    /// 1-based switch number.
    Switch(usize),
}

/// The graph of a generated lab: counts and links in order; bridge ports are named
/// `eth1`, `eth2`, … in the order their links are written.
#[derive(Debug, Default)]
struct Net {
    hosts: usize,
    switches: usize,
    links: Vec<(End, End)>,
}

impl Net {
    fn switch(&mut self) -> usize {
        self.switches += 1;
        self.switches
    }

    fn host(&mut self) -> usize {
        self.hosts += 1;
        self.hosts
    }
}

/// The topology file for `shape`.
pub(crate) fn generate(shape: Shape, opts: &Options) -> Result<String, GenError> {
    let max_ports = opts.max_ports;
    if !(3..=KERNEL_MAX_PORTS).contains(&max_ports) {
        return Err(GenError(format!(
            "--max-ports {max_ports}: a bridge takes 3 to {KERNEL_MAX_PORTS} ports (Linux numbers them up to 1023)"
        )));
    }
    let hosts = host_count(shape)?;
    if hosts == 0 {
        return Err(GenError("a lab needs at least one host".into()));
    }
    if hosts > MAX_HOSTS {
        return Err(GenError(format!(
            "{hosts} hosts: vnet gen writes at most {MAX_HOSTS}"
        )));
    }
    let net = match shape {
        Shape::Single { hosts } => single(hosts, max_ports),
        Shape::Linear { switches } => linear(switches),
        Shape::Tree { depth, fanout } => {
            let needed = if depth > 1 { fanout + 1 } else { fanout };
            if needed > max_ports {
                return Err(GenError(format!(
                    "fanout {fanout} needs {needed} ports on a bridge; at most {max_ports} (--max-ports, up to {KERNEL_MAX_PORTS})"
                )));
            }
            let mut net = Net::default();
            tree(&mut net, depth, fanout);
            net
        }
    };
    debug_assert_eq!(net.hosts, hosts);
    let name = opts.name.clone().unwrap_or_else(|| default_name(shape));
    Ok(render(shape, &name, &net, opts.expect))
}

/// How many hosts the shape has, refusing shapes too large to count.
pub(crate) fn host_count(shape: Shape) -> Result<usize, GenError> {
    match shape {
        Shape::Single { hosts } => Ok(hosts),
        Shape::Linear { switches } => Ok(switches),
        Shape::Tree { depth, fanout } => {
            if depth == 0 || fanout == 0 {
                return Err(GenError(
                    "a tree needs --depth and --fanout of at least 1".into(),
                ));
            }
            fanout
                .checked_pow(depth)
                .filter(|n| *n <= MAX_HOSTS)
                .ok_or_else(|| {
                    GenError(format!(
                        "a tree {depth} deep with fanout {fanout} has more than {MAX_HOSTS} hosts"
                    ))
                })
        }
    }
}

fn default_name(shape: Shape) -> String {
    match shape {
        Shape::Single { hosts } => format!("single-{hosts}"),
        Shape::Linear { switches } => format!("linear-{switches}"),
        Shape::Tree { depth, fanout } => format!("tree-{depth}-{fanout}"),
    }
}

/// One switch with every host; past `max_ports` hosts a tree of bridges, as shallow as the
/// port limit allows, the hosts spread evenly over its leaves.
fn single(hosts: usize, max_ports: usize) -> Net {
    let mut net = Net::default();
    // A bridge below the root spends one port on its uplink.
    let below = max_ports - 1;
    // The hosts a subtree of `height` levels of bridges under an uplink can hold.
    let capacity = |height: u32| below.saturating_pow(height + 1);
    let mut height = 0;
    while max_ports.saturating_mul(capacity(height) / below) < hosts {
        height += 1;
    }
    spread(&mut net, None, hosts, height, max_ports);
    net
}

/// A bridge under `parent` holding `hosts` hosts, directly (height 0) or in child subtrees.
fn spread(net: &mut Net, parent: Option<usize>, hosts: usize, height: u32, max_ports: usize) {
    let me = net.switch();
    if let Some(p) = parent {
        net.links.push((End::Switch(p), End::Switch(me)));
    }
    if height == 0 {
        for _ in 0..hosts {
            let h = net.host();
            net.links.push((End::Host(h), End::Switch(me)));
        }
        return;
    }
    let child_capacity = (max_ports - 1).saturating_pow(height);
    let children = hosts.div_ceil(child_capacity).max(1);
    for c in 0..children {
        // Even shares: the first `hosts % children` children take one more.
        let share = hosts / children + usize::from(c < hosts % children);
        spread(net, Some(me), share, height - 1, max_ports);
    }
}

/// Mininet's LinearTopo: switch i has host i and a link to switch i-1.
fn linear(switches: usize) -> Net {
    let mut net = Net::default();
    for i in 1..=switches {
        let s = net.switch();
        let h = net.host();
        net.links.push((End::Host(h), End::Switch(s)));
        if i > 1 {
            net.links.push((End::Switch(s), End::Switch(s - 1)));
        }
    }
    net
}

/// Mininet's TreeTopo: switches numbered in preorder, hosts left to right at the leaves.
fn tree(net: &mut Net, depth: u32, fanout: usize) -> End {
    if depth == 0 {
        return End::Host(net.host());
    }
    let me = net.switch();
    for _ in 0..fanout {
        let child = tree(net, depth - 1, fanout);
        net.links.push(match child {
            End::Host(_) => (child, End::Switch(me)),
            End::Switch(_) => (End::Switch(me), child),
        });
    }
    End::Switch(me)
}

/// The subnet every host is on, and host `i`'s address in it (Mininet's numbering).
fn address(hosts: usize, i: usize) -> (Ipv4Addr, u8) {
    let prefix = if hosts <= 65_534 { 16 } else { 8 };
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    // `i` is at most MAX_HOSTS, far below 2^24.
    (Ipv4Addr::from(base + i as u32), prefix)
}

fn describe(shape: Shape, net: &Net) -> String {
    let bridges = match net.switches {
        1 => "one bridge".to_string(),
        n => format!("{n} bridges"),
    };
    match shape {
        Shape::Single { hosts } if net.switches == 1 => {
            format!("Mininet's `--topo single,{hosts}`: {hosts} hosts on {bridges}")
        }
        Shape::Single { hosts } => format!(
            "Mininet's `--topo single,{hosts}`: {hosts} hosts on one layer-2 segment of {bridges} in a tree (a bridge has a limited number of ports)"
        ),
        Shape::Linear { switches } => {
            format!("Mininet's `--topo linear,{switches}`: {bridges} in a chain, one host on each")
        }
        Shape::Tree { depth, fanout } => format!(
            "Mininet's `--topo tree,depth={depth},fanout={fanout}`: {bridges} in a tree, {} hosts at its leaves",
            net.hosts
        ),
    }
}

fn render(shape: Shape, name: &str, net: &Net, expect: Expect) -> String {
    let mut out = String::with_capacity(64 * (net.hosts + net.switches) + 32 * net.links.len());
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# {}", describe(shape, net));
    let _ = writeln!(out, "# Written by `vnet gen`; every host is on one subnet.");
    let _ = writeln!(out, "name: {name}");
    let _ = writeln!(out, "nodes:");
    for s in 1..=net.switches {
        let _ = writeln!(out, "  s{s}: {{kind: bridge}}");
    }
    for h in 1..=net.hosts {
        let (addr, prefix) = address(net.hosts, h);
        let _ = writeln!(out, "  h{h}: {{interfaces: {{eth0: {addr}/{prefix}}}}}");
    }
    let _ = writeln!(out, "links:");
    let mut ports = vec![0usize; net.switches + 1];
    let mut end = |e: End| match e {
        End::Host(h) => format!("h{h}:eth0"),
        End::Switch(s) => {
            ports[s] += 1;
            format!("s{s}:eth{}", ports[s])
        }
    };
    for (a, b) in &net.links {
        let (a, b) = (end(*a), end(*b));
        let _ = writeln!(out, "  - [{a}, {b}]");
    }
    let checks = checks(net.hosts, expect);
    if !checks.is_empty() {
        let _ = writeln!(out, "expect:");
        for (a, b) in checks {
            let _ = writeln!(out, "  - {{from: h{a}, to: h{b}}}");
        }
    }
    out
}

/// The checks as (from, to) host numbers.
fn checks(hosts: usize, expect: Expect) -> Vec<(usize, usize)> {
    let expect = match expect {
        Expect::Auto if hosts <= ALL_PAIRS_UP_TO => Expect::All,
        Expect::Auto => Expect::Sample,
        e => e,
    };
    match expect {
        Expect::All => (1..=hosts)
            .flat_map(|a| (1..=hosts).filter(move |b| *b != a).map(move |b| (a, b)))
            .collect(),
        Expect::Sample => {
            let k = hosts.min(SAMPLE);
            if k < 2 {
                return Vec::new();
            }
            // k hosts from the first to the last, evenly spaced; each checks the next, the
            // last the first: every part of the lab is crossed in both directions.
            let pick = |j: usize| 1 + j * (hosts - 1) / (k - 1);
            let mut v: Vec<(usize, usize)> = (0..k - 1).map(|j| (pick(j), pick(j + 1))).collect();
            v.push((pick(k - 1), pick(0)));
            if k == 2 {
                v.dedup();
            }
            v
        }
        Expect::Auto | Expect::None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lab, NodeKind};
    use crate::plan::{Step, VlanMode, plan};

    fn lab(shape: Shape, opts: &Options) -> Lab {
        let text = generate(shape, opts).unwrap();
        match crate::topology::parse("gen.yaml", "gen", text.as_bytes()) {
            Ok(l) => {
                assert!(l.warnings.is_empty(), "{:?}", l.warnings);
                l.lab
            }
            Err(e) => panic!("{shape:?} does not validate: {e:?}\n{text}"),
        }
    }

    fn count(lab: &Lab, kind: NodeKind) -> usize {
        lab.nodes.iter().filter(|n| n.kind == kind).count()
    }

    /// Ports per bridge, from the plan: what the kernel will really be asked.
    fn most_ports(lab: &Lab) -> usize {
        let mut ports = std::collections::HashMap::<&str, usize>::new();
        let p = plan(lab, VlanMode::Native);
        for s in p.steps() {
            if let Step::SetMaster { ns, .. } = s {
                *ports.entry(ns.as_str()).or_default() += 1;
            }
        }
        ports.values().copied().max().unwrap_or(0)
    }

    fn one_subnet(lab: &Lab) -> bool {
        let nets: std::collections::HashSet<_> = (0..lab.nodes.len())
            .flat_map(|n| lab.addresses(n).map(|a| a.trunc()))
            .collect();
        nets.len() == 1
    }

    #[test]
    fn single_is_one_bridge_with_every_host() {
        let l = lab(Shape::Single { hosts: 3 }, &Options::default());
        assert_eq!(l.name, "single-3");
        assert_eq!(
            (count(&l, NodeKind::Host), count(&l, NodeKind::Bridge)),
            (3, 1)
        );
        assert_eq!(l.links.len(), 3);
        assert_eq!(l.checks.len(), 6, "all pairs for a few hosts");
        assert!(one_subnet(&l));
    }

    #[test]
    fn single_fills_one_bridge_up_to_the_limit() {
        let l = lab(Shape::Single { hosts: 1000 }, &Options::default());
        assert_eq!(count(&l, NodeKind::Bridge), 1);
        assert_eq!(most_ports(&l), 1000);
        assert_eq!(l.checks.len(), SAMPLE, "a sample for many hosts");
        assert!(one_subnet(&l));
    }

    #[test]
    fn single_splits_into_a_tree_of_bridges_past_the_limit() {
        for (hosts, max_ports, bridges) in [(1001, 1000, 3), (5000, 1000, 7), (1000, 256, 5)] {
            let opts = Options {
                max_ports,
                ..Options::default()
            };
            let l = lab(Shape::Single { hosts }, &opts);
            assert_eq!(count(&l, NodeKind::Host), hosts);
            assert_eq!(count(&l, NodeKind::Bridge), bridges, "{hosts}/{max_ports}");
            assert!(most_ports(&l) <= max_ports);
            // A tree: one link fewer than nodes, so no loop (validation refuses loops too).
            assert_eq!(l.links.len(), l.nodes.len() - 1);
            assert!(one_subnet(&l));
        }
    }

    #[test]
    fn a_tiny_port_limit_makes_a_deeper_tree() {
        let opts = Options {
            max_ports: 3,
            ..Options::default()
        };
        let l = lab(Shape::Single { hosts: 20 }, &opts);
        assert_eq!(count(&l, NodeKind::Host), 20);
        assert!(most_ports(&l) <= 3);
        assert_eq!(l.links.len(), l.nodes.len() - 1);
    }

    #[test]
    fn linear_chains_a_switch_per_host() {
        let l = lab(Shape::Linear { switches: 100 }, &Options::default());
        assert_eq!(l.name, "linear-100");
        assert_eq!(
            (count(&l, NodeKind::Host), count(&l, NodeKind::Bridge)),
            (100, 100)
        );
        assert_eq!(l.links.len(), 199);
        assert!(most_ports(&l) <= 3);
        assert!(one_subnet(&l));
        let one = lab(Shape::Linear { switches: 1 }, &Options::default());
        assert_eq!(one.links.len(), 1);
        assert!(one.checks.is_empty(), "one host has no pair");
    }

    #[test]
    fn tree_is_mininets_tree() {
        let l = lab(
            Shape::Tree {
                depth: 2,
                fanout: 3,
            },
            &Options::default(),
        );
        assert_eq!(l.name, "tree-2-3");
        assert_eq!(
            (count(&l, NodeKind::Host), count(&l, NodeKind::Bridge)),
            (9, 4)
        );
        assert_eq!(l.checks.len(), 9 * 8);
        // Preorder, as Mininet numbers them: s1 is the root, s2 its first child with h1..h3.
        let text = generate(
            Shape::Tree {
                depth: 2,
                fanout: 3,
            },
            &Options::default(),
        )
        .unwrap();
        assert!(text.contains("  - [h1:eth0, s2:eth1]\n"), "{text}");
        assert!(text.contains("  - [s1:eth1, s2:eth4]\n"), "{text}");
        let big = lab(
            Shape::Tree {
                depth: 3,
                fanout: 10,
            },
            &Options::default(),
        );
        assert_eq!(count(&big, NodeKind::Host), 1000);
        assert_eq!(count(&big, NodeKind::Bridge), 111);
        assert!(most_ports(&big) <= 11);
        assert!(one_subnet(&big));
    }

    #[test]
    fn shapes_that_cannot_be_built_are_refused_with_a_reason() {
        let o = Options::default();
        let err = |s| generate(s, &o).unwrap_err().0;
        assert!(err(Shape::Single { hosts: 0 }).contains("at least one host"));
        let small = Options {
            max_ports: 10,
            ..Options::default()
        };
        assert!(
            generate(
                Shape::Tree {
                    depth: 2,
                    fanout: 10
                },
                &small
            )
            .unwrap_err()
            .0
            .contains("needs 11 ports")
        );
        assert!(
            err(Shape::Tree {
                depth: 40,
                fanout: 40
            })
            .contains("more than")
        );
        let tiny = Options {
            max_ports: 1024,
            ..Options::default()
        };
        assert!(
            generate(Shape::Single { hosts: 5 }, &tiny)
                .unwrap_err()
                .0
                .contains("1023")
        );
    }

    #[test]
    fn a_large_lab_uses_a_bigger_subnet() {
        assert_eq!(
            address(65_534, 65_534),
            (Ipv4Addr::new(10, 0, 255, 254), 16)
        );
        assert_eq!(address(70_000, 70_000).1, 8);
    }

    #[test]
    fn checks_are_chosen_by_size_or_as_asked() {
        assert_eq!(checks(10, Expect::Auto).len(), 90);
        assert_eq!(
            checks(11, Expect::Auto).len(),
            11,
            "a sample of few hosts is all of them"
        );
        assert_eq!(checks(17, Expect::Auto).len(), SAMPLE);
        assert_eq!(checks(100, Expect::All).len(), 9900);
        assert!(checks(100, Expect::None).is_empty());
        assert_eq!(checks(2, Expect::Sample), vec![(1, 2), (2, 1)]);
        let s = checks(1000, Expect::Sample);
        assert_eq!(s.first(), Some(&(1, 67)));
        assert!(s.contains(&(1000, 1)), "the last host checks the first");
    }

    #[test]
    fn names_can_be_given() {
        let l = lab(
            Shape::Single { hosts: 2 },
            &Options {
                name: Some("my-lab".into()),
                ..Options::default()
            },
        );
        assert_eq!(l.name, "my-lab");
    }
}
