//! A lab's addresses on the machine (`host:`) must not share a subnet with an address the
//! machine already has: the machine would then have two connected routes for it, send its own
//! traffic for that subnet one way or the other, and (Linux answers ARP for any of its
//! addresses on any interface) claim the lab's address on the real network too.

use std::path::Path;

use ipnet::IpNet;

use crate::model::{Interface, MACHINE};
use crate::topology::diag::Problems;
use crate::topology::{Loaded, Problem};

/// An address already on the machine: the interface that holds it, and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    pub dev: String,
    pub net: IpNet,
}

/// [`problems`] against the machine's addresses as its kernel has them now; the machine is
/// read only for a lab that has `host:`.
pub(super) fn clashes(loaded: &Loaded, file: &Path) -> std::io::Result<Vec<Problem>> {
    if loaded.lab.node_index(MACHINE).is_none() {
        return Ok(Vec::new());
    }
    Ok(problems(loaded, file, &machine_addresses()?))
}

/// The machine's own addresses that a lab's could collide with: not loopback, not link-local
/// (every interface has its own fe80::/64, and those never collide).
fn machine_addresses() -> std::io::Result<Vec<Held>> {
    let space = crate::apply::live::read_machine(false)?;
    Ok(space
        .addrs
        .iter()
        .filter(|(_, net)| !ignored(net))
        .map(|(i, net)| Held {
            dev: space.name_of(*i),
            net: *net,
        })
        .collect())
}

fn ignored(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.addr().is_loopback() || n.addr().is_link_local(),
        IpNet::V6(n) => n.addr().is_loopback() || (n.addr().segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Whether two subnets share an address: one holds the other.
fn overlap(a: &IpNet, b: &IpNet) -> bool {
    let (a, b) = (a.trunc(), b.trunc());
    a.contains(&b) || b.contains(&a)
}

/// Each address of the lab's `host:` whose subnet overlaps one the machine has, or another
/// of `host:`'s own, at its interface. Only interfaces a link uses count (the others are not
/// made), and the machine's addresses on interfaces of the lab's own names do not: those
/// mean the lab runs already, which `up` says in its own words.
pub(super) fn problems(loaded: &Loaded, file: &Path, held: &[Held]) -> Vec<Problem> {
    let lab = &loaded.lab;
    let Some(machine) = lab.node_index(MACHINE) else {
        return Vec::new();
    };
    let linked = |name: &str| {
        lab.links
            .iter()
            .flat_map(|l| [&l.a, &l.b])
            .any(|e| e.node == machine && e.iface == name)
    };
    let ifaces: Vec<&Interface> = lab.nodes[machine]
        .interfaces
        .iter()
        .filter(|i| linked(&i.name))
        .collect();
    let others: Vec<&Held> = held
        .iter()
        .filter(|h| !ifaces.iter().any(|i| i.name == h.dev))
        .collect();
    let src = miette::NamedSource::new(file.display().to_string(), loaded.source.clone());
    let mut problems = Problems::new(src);
    for (k, iface) in ifaces.iter().enumerate() {
        for net in iface.addresses.iter().filter(|n| !ignored(n)) {
            for h in others.iter().filter(|h| overlap(net, &h.net)) {
                problems.push(problem(
                    &problems,
                    iface,
                    net,
                    &h.net,
                    &format!("its `{}`", h.dev),
                ));
            }
            // Two of the lab's own: said once, at the later one.
            for earlier in &ifaces[..k] {
                for e in earlier.addresses.iter().filter(|e| overlap(net, e)) {
                    problems.push(problem(
                        &problems,
                        iface,
                        net,
                        e,
                        &format!("`host:{}` of this lab", earlier.name),
                    ));
                }
            }
        }
    }
    problems.list
}

fn problem(problems: &Problems, iface: &Interface, net: &IpNet, on: &IpNet, dev: &str) -> Problem {
    let what = if net.trunc() == on.trunc() {
        format!("the machine is already on {}", on.trunc())
    } else {
        format!("{} overlaps the machine's {}", net.trunc(), on.trunc())
    };
    problems
        .new_problem("machine_subnet", format!("{what} (`{on}` on {dev})"))
        .label(iface.at, format!("`host:{}` takes {net}", iface.name))
        .help(format!(
            "the machine would route {} two ways and answer for {} on both: give the lab a subnet the machine does not use, or add `--allow-machine-routes` if that is what you want",
            net.trunc(),
            net.addr(),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_overlap_when_one_holds_the_other() {
        assert!(overlap(&net("10.9.0.9/24"), &net("10.9.0.1/24")));
        assert!(overlap(&net("10.9.5.1/24"), &net("10.9.0.2/16")));
        assert!(overlap(&net("10.0.0.1/8"), &net("10.9.0.2/24")));
        assert!(!overlap(&net("10.9.1.1/24"), &net("10.9.0.1/24")));
        assert!(!overlap(&net("10.9.0.1/24"), &net("fd00::1/64")));
        assert!(overlap(&net("fd00:1::1/64"), &net("fd00:1::2/64")));
    }

    #[test]
    fn an_unlinked_interface_is_not_made_and_two_of_the_labs_own_overlap() {
        let yaml = "name: ov\nnodes:\n  host: {interfaces: {vz0: 10.60.1.1/24, vz1: 10.60.0.1/16, un: 10.70.0.1/24}}\n  a: {interfaces: {eth0: 10.60.1.2/24}}\n  b: {interfaces: {eth0: 10.60.0.2/16}}\nlinks:\n  - [host:vz0, a:eth0]\n  - [host:vz1, b:eth0]\n";
        let loaded = crate::topology::parse("ov.yaml", "ov", yaml.as_bytes()).expect("valid");
        let held = [Held {
            dev: "eth0".into(),
            net: net("10.70.0.5/24"),
        }];
        let p = problems(&loaded, Path::new("ov.yaml"), &held);
        assert_eq!(p.len(), 1, "{p:?}");
        let shown = crate::topology::diag::render_plain(&p[0]);
        assert!(
            shown.contains("10.60.0.0/16 overlaps the machine's 10.60.1.0/24 (`10.60.1.1/24` on `host:vz0` of this lab)"),
            "{shown}"
        );
    }

    #[test]
    fn loopback_and_link_local_never_count() {
        assert!(ignored(&net("127.0.0.1/8")));
        assert!(ignored(&net("169.254.1.1/16")));
        assert!(ignored(&net("fe80::1/64")));
        assert!(ignored(&net("::1/128")));
        assert!(!ignored(&net("10.0.0.1/24")));
        assert!(!ignored(&net("fd00::1/64")));
    }

    #[test]
    fn a_host_address_on_a_subnet_the_machine_has_is_refused_at_its_line() {
        let yaml = "name: ov\nnodes:\n  host: {interfaces: {vz0: 10.9.0.9/24}}\n  a: {interfaces: {eth0: 10.9.0.1/24}}\nlinks:\n  - [host:vz0, a:eth0]\n";
        let loaded = crate::topology::parse("ov.yaml", "ov", yaml.as_bytes()).expect("valid");
        let held = [
            Held {
                dev: "eth0".into(),
                net: net("10.9.0.200/24"),
            },
            Held {
                dev: "eth1".into(),
                net: net("192.168.1.5/24"),
            },
        ];
        let p = problems(&loaded, Path::new("ov.yaml"), &held);
        assert_eq!(p.len(), 1, "{p:?}");
        let shown = crate::topology::diag::render_plain(&p[0]);
        assert!(
            shown.contains("the machine is already on 10.9.0.0/24 (`10.9.0.200/24` on its `eth0`)"),
            "{shown}"
        );
        assert!(shown.contains("`host:vz0` takes 10.9.0.9/24"), "{shown}");
        assert!(shown.contains("--allow-machine-routes"), "{shown}");
        // The lab's own link, there already: the lab runs, which is not this refusal's to say.
        let own = [Held {
            dev: "vz0".into(),
            net: net("10.9.0.9/24"),
        }];
        assert!(problems(&loaded, Path::new("ov.yaml"), &own).is_empty());
        // Another subnet: nothing to say.
        let other = [Held {
            dev: "eth0".into(),
            net: net("10.9.1.200/24"),
        }];
        assert!(problems(&loaded, Path::new("ov.yaml"), &other).is_empty());
    }
}
