//! NAT as one nftables table, applied atomically: Docker's MASQUERADE and DNAT, on a router
//! or, with `--allow-machine-nat`, on the machine itself.

use std::fmt::Write;

use ipnet::IpNet;

use crate::model::{Lab, Nat};

/// `masquerade: [wan]` is `POSTROUTING -o wan -j MASQUERADE` (IPv4); a published port is
/// `PREROUTING -i wan -p tcp --dport 49153 -j DNAT --to 172.17.0.2:8080`, and, as Docker
/// does, it also answers at the published interface's address from the router's other
/// networks and from the router itself (hairpin NAT, below).
pub(super) fn ruleset(lab: &Lab, node: usize, nat: &Nat) -> String {
    let mut r = chains(nat, None);
    hairpin(lab, node, nat, &mut r);
    format!("table inet vnet_nat {{\n{r}}}\n")
}

/// Docker's published ports work from its own containers and from the Docker host too:
/// - a container connecting to the host's published address (`iifname != on`, to an
///   address of `on`) is translated like the outside;
/// - the router itself (the `output` hook) likewise;
/// - the translated connection is masqueraded when it goes back into the network it came
///   from, so the container's answer returns through the router (as docker-proxy makes the
///   gateway the source) rather than straight to the client, which expects the published
///   address.
fn hairpin(lab: &Lab, node: usize, nat: &Nat, r: &mut String) {
    if nat.publish.is_empty() {
        return;
    }
    let local: Vec<&crate::model::Interface> = lab.local_interfaces(node).collect();
    let mut pre = String::new();
    let mut out = String::new();
    let mut post = String::new();
    for p in &nat.publish {
        let (family, v4, to) = match p.to {
            std::net::SocketAddr::V4(a) => ("ip", true, a.to_string()),
            std::net::SocketAddr::V6(a) => ("ip6", false, a.to_string()),
        };
        let proto = p.proto.as_str();
        let at: Vec<String> = local
            .iter()
            .filter(|i| i.name == p.on)
            .flat_map(|i| i.addresses.iter())
            .filter(|a| a.addr().is_ipv4() == v4)
            .map(|a| a.addr().to_string())
            .collect();
        if !at.is_empty() {
            let at = at.join(", ");
            let _ = writeln!(
                pre,
                "    iifname != \"{}\" {family} daddr {{ {at} }} {proto} dport {} dnat {family} to {to}",
                p.on, p.port
            );
            let _ = writeln!(
                out,
                "    {family} daddr {{ {at} }} {proto} dport {} dnat {family} to {to}",
                p.port
            );
        }
        let target = p.to.ip();
        for i in &local {
            for net in i.addresses.iter().filter(|a| a.contains(&target)) {
                let _ = writeln!(
                    post,
                    "    oifname \"{}\" ct status dnat {family} saddr {} {family} daddr {} {proto} dport {} masquerade",
                    i.name,
                    net.trunc(),
                    target,
                    p.to.port()
                );
            }
        }
    }
    if !pre.is_empty() {
        let _ = writeln!(r, "  chain hairpin_prerouting {{");
        let _ = writeln!(
            r,
            "    type nat hook prerouting priority dstnat; policy accept;"
        );
        r.push_str(&pre);
        let _ = writeln!(r, "  }}");
        let _ = writeln!(r, "  chain hairpin_output {{");
        let _ = writeln!(r, "    type nat hook output priority -100; policy accept;");
        r.push_str(&out);
        let _ = writeln!(r, "  }}");
    }
    if !post.is_empty() {
        let _ = writeln!(r, "  chain hairpin_postrouting {{");
        let _ = writeln!(
            r,
            "    type nat hook postrouting priority srcnat; policy accept;"
        );
        r.push_str(&post);
        let _ = writeln!(r, "  }}");
    }
}

/// `isolate: [a, b, c]`: nothing is forwarded between any two of them, as Docker's
/// DOCKER-ISOLATION chains keep its bridge networks apart; each still reaches the others'
/// gateways on the router itself, and the outside.
pub(super) fn isolation(ifaces: &[String]) -> String {
    let mut r = String::from("table inet vnet_filter {\n  chain forward {\n");
    r.push_str("    type filter hook forward priority filter; policy accept;\n");
    for a in ifaces {
        let others: Vec<String> = ifaces
            .iter()
            .filter(|b| *b != a)
            .map(|b| format!("\"{b}\""))
            .collect();
        let _ = writeln!(
            r,
            "    iifname \"{a}\" oifname {{ {} }} drop",
            others.join(", ")
        );
    }
    r.push_str("  }\n}\n");
    r
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

#[cfg(test)]
mod tests {
    use crate::plan::{Step, VlanMode, plan};

    fn docker() -> crate::model::Lab {
        let text = include_str!("../../topologies/docker-single-host.yaml");
        crate::topology::parse("docker.yaml", "docker", text.as_bytes())
            .map(|l| l.lab)
            .unwrap_or_else(|_| panic!("the bundled Docker lab is valid"))
    }

    fn rulesets(p: &crate::plan::Plan) -> String {
        p.steps()
            .filter_map(|s| match s {
                Step::Nft { ruleset, .. } => Some(ruleset.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_bridge_inside_a_node_is_made_in_that_nodes_namespace_and_makes_none() {
        let lab = docker();
        let p = plan(&lab, VlanMode::Native);
        let made: Vec<&str> = p
            .steps()
            .filter_map(|s| match s {
                Step::AddNetns { ns } => Some(ns.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            !made
                .iter()
                .any(|n| n.ends_with("docker0") || n.ends_with("br-app"))
        );
        assert!(p.steps().any(|s| matches!(s,
            Step::AddBridge { ns, name, .. } if ns == "docker.dockerhost" && name == "docker0")));
        assert!(p.steps().any(|s| matches!(s,
            Step::AddAddress { ns, dev, .. } if ns == "docker.dockerhost" && dev == "docker0")));
    }

    #[test]
    fn published_ports_answer_from_inside_too_and_isolated_networks_do_not_forward() {
        let r = rulesets(&plan(&docker(), VlanMode::Native));
        // From the containers (not arriving on eth0) to the published address, and from the
        // host itself, the port is translated like from the outside...
        assert!(r.contains(
            "iifname != \"eth0\" ip daddr { 192.0.2.2 } tcp dport 49153 dnat ip to 172.17.0.2:8080"
        ));
        assert!(r.contains("type nat hook output"));
        // ...and masqueraded back into docker0, so the answer returns through the host.
        assert!(r.contains(
            "oifname \"docker0\" ct status dnat ip saddr 172.17.0.0/16 ip daddr 172.17.0.2 tcp dport 8080 masquerade"
        ));
        assert!(r.contains("iifname \"docker0\" oifname { \"br-app\" } drop"));
        assert!(r.contains("iifname \"br-app\" oifname { \"docker0\" } drop"));
    }
}
