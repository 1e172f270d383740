//! NAT as one nftables table, applied atomically: Docker's MASQUERADE and DNAT, on a router
//! or, with `--allow-machine-nat`, on the machine itself.

use std::fmt::Write;

use ipnet::IpNet;

use crate::model::{Lab, Nat};

/// `masquerade: [wan]` is `POSTROUTING -o wan -j MASQUERADE` (IPv4); a published port is
/// `PREROUTING -i wan -p tcp --dport 49153 -j DNAT --to 172.17.0.2:8080`.
pub(super) fn ruleset(nat: &Nat) -> String {
    format!("table inet vnet_nat {{\n{}}}\n", chains(nat, None))
}

/// The machine's chains: like a router's, except that only the lab's own addresses are
/// masqueraded, so the machine's own connections and those of other labs, containers or
/// virtual machines keep theirs. IPv4 only: vnet turns on IPv4 forwarding alone (IPv6
/// forwarding would make the machine ignore router advertisements, and its own IPv6 route).
pub(super) fn machine_chains(lab: &Lab, node: usize, nat: &Nat) -> String {
    let v4: Vec<IpNet> = lab_networks(lab, node, nat)
        .into_iter()
        .filter(|n| matches!(n, IpNet::V4(_)))
        .collect();
    chains(nat, Some(&v4))
}

/// Every network of the lab behind the machine: its nodes' subnets and the machine's routes
/// into the lab, except the subnets of the interfaces traffic is masqueraded out of.
fn lab_networks(lab: &Lab, machine: usize, nat: &Nat) -> Vec<IpNet> {
    let host = &lab.nodes[machine];
    let outside: Vec<IpNet> = host
        .interfaces
        .iter()
        .filter(|i| nat.masquerade.contains(&i.name))
        .flat_map(|i| i.addresses.iter().map(IpNet::trunc))
        .collect();
    let mut nets: Vec<IpNet> = lab
        .nodes
        .iter()
        .flat_map(|n| n.interfaces.iter())
        .flat_map(|i| i.addresses.iter().map(IpNet::trunc))
        .chain(host.routes.iter().map(|r| r.to.trunc()))
        .filter(|n| !outside.contains(n))
        .collect();
    nets.sort();
    nets.dedup();
    nets
}

fn chains(nat: &Nat, sources: Option<&[IpNet]>) -> String {
    let mut r = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(r, "  chain prerouting {{");
    let _ = writeln!(
        r,
        "    type nat hook prerouting priority dstnat; policy accept;"
    );
    for p in &nat.publish {
        let (family, to) = match p.to {
            std::net::SocketAddr::V4(a) => ("ip", a.to_string()),
            std::net::SocketAddr::V6(a) => ("ip6", a.to_string()),
        };
        let _ = writeln!(
            r,
            "    iifname \"{}\" meta nfproto ipv{} {} dport {} dnat {family} to {to}",
            p.on,
            if family == "ip" { 4 } else { 6 },
            p.proto.as_str(),
            p.port
        );
    }
    let _ = writeln!(r, "  }}");
    let _ = writeln!(r, "  chain postrouting {{");
    let _ = writeln!(
        r,
        "    type nat hook postrouting priority srcnat; policy accept;"
    );
    for out in &nat.masquerade {
        match sources {
            // IPv4, as iptables' MASQUERADE: IPv6 is routed, not translated.
            None => {
                let _ = writeln!(r, "    oifname \"{out}\" meta nfproto ipv4 masquerade");
            }
            Some(nets) => {
                for (family, v4) in [("ip", true), ("ip6", false)] {
                    let set: Vec<String> = nets
                        .iter()
                        .filter(|n| matches!(n, IpNet::V4(_)) == v4)
                        .map(IpNet::to_string)
                        .collect();
                    if !set.is_empty() {
                        let _ = writeln!(
                            r,
                            "    oifname \"{out}\" {family} saddr {{ {} }} masquerade",
                            set.join(", ")
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(r, "  }}");
    r
}
