//! What ARP spoofing needs before a packet is forged: one check, shared by the `arp_spoof`
//! stage action (a diagnostic at its line) and `vnet attack arp-spoof` (a usage error), and
//! the interfaces it found, which the attack then uses.

use std::net::{IpAddr, Ipv4Addr};

use super::segments::Segments;
use super::{Lab, NodeKind};

/// The interfaces the forged packets go out of and to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spoof {
    /// The victim's interface on the claimed address's subnet, and its address there.
    pub victim_if: String,
    pub victim_ip: Ipv4Addr,
    /// The attacker's interface in the same broadcast domain.
    pub attacker_if: String,
}

/// Which of the three the refusal is about, so that the file's diagnostic points at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Attacker,
    Claim,
    Victim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub part: Part,
    pub message: String,
    pub label: &'static str,
    pub help: Option<String>,
}

fn refuse(part: Part, message: String, label: &'static str, help: Option<String>) -> Refusal {
    Refusal {
        part,
        message,
        label,
        help,
    }
}

/// Whether `from` can tell `to` that `claim` is at `from`'s MAC, and through which interfaces.
pub(crate) fn arp_spoof(
    lab: &Lab,
    from: usize,
    claim: IpAddr,
    to: usize,
) -> Result<Spoof, Refusal> {
    let (attacker, victim) = (&lab.nodes[from].name, &lab.nodes[to].name);
    if from == to {
        return Err(refuse(
            Part::Victim,
            format!("`{attacker}` would spoof itself"),
            "the victim is the attacker",
            Some("name another node of the attacker's LAN as the victim".into()),
        ));
    }
    for (n, part, role) in [
        (from, Part::Attacker, "attacker"),
        (to, Part::Victim, "victim"),
    ] {
        if lab.on_machine(n) {
            return Err(refuse(
                part,
                format!(
                    "the {role} `{}` is the machine itself: vnet attacks only from and to the lab's own namespaces",
                    lab.nodes[n].name
                ),
                "`host` is the machine",
                None,
            ));
        }
        if !matches!(lab.nodes[n].kind, NodeKind::Host | NodeKind::Router) {
            return Err(refuse(
                part,
                format!(
                    "the {role} `{}` is a {}: ARP spoofing is between hosts and routers",
                    lab.nodes[n].name,
                    lab.nodes[n].kind_name()
                ),
                "not a host or router",
                None,
            ));
        }
    }
    let IpAddr::V4(claim) = claim else {
        return Err(refuse(
            Part::Claim,
            "ARP spoofing claims an IPv4 address".into(),
            "ARP is IPv4's",
            None,
        ));
    };
    let subnets: Vec<_> = lab.nodes[to]
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter().map(move |a| (i, a)))
        .filter_map(|(i, a)| match a {
            ipnet::IpNet::V4(a) => Some((i, *a)),
            ipnet::IpNet::V6(_) => None,
        })
        .collect();
    let Some(&(iface, net)) = subnets.iter().find(|(_, a)| a.contains(&claim)) else {
        let list: Vec<String> = subnets.iter().map(|(_, a)| a.trunc().to_string()).collect();
        return Err(refuse(
            Part::Claim,
            format!("{claim} is not on a subnet of `{victim}`"),
            "off the victim's subnets",
            Some(if list.is_empty() {
                format!("`{victim}` has no IPv4 address, so it keeps no ARP entry to poison")
            } else {
                format!(
                    "the victim caches ARP entries only for its neighbours: claim an address of {}",
                    list.join(", ")
                )
            }),
        ));
    };
    if net.addr() == claim {
        return Err(refuse(
            Part::Claim,
            format!("{claim} is `{victim}`'s own address"),
            "the victim's own",
            Some("claim a neighbour's address, such as its gateway's".into()),
        ));
    }
    if net.prefix_len() < 31 && (claim == net.network() || claim == net.broadcast()) {
        return Err(refuse(
            Part::Claim,
            format!(
                "{claim} is the {} address of {}",
                if claim == net.network() {
                    "network"
                } else {
                    "broadcast"
                },
                net.trunc()
            ),
            "no host has it",
            Some("claim a neighbour's address, such as its gateway's".into()),
        ));
    }
    let mut segments = Segments::of(lab);
    let target = segments.of_iface(to, &iface.name);
    let on_segment: Vec<&super::Interface> = lab.nodes[from]
        .interfaces
        .iter()
        .filter(|i| segments.of_iface(from, &i.name) == target)
        .collect();
    // An interface of the attacker's on the victim's subnet, if it has one: the source the
    // victim expects there.
    let Some(out) = on_segment
        .iter()
        .find(|i| i.addresses.iter().any(|a| a.contains(&IpAddr::V4(claim))))
        .or(on_segment.first())
    else {
        return Err(refuse(
            Part::Attacker,
            format!(
                "`{attacker}` is not in the broadcast domain of `{victim}:{}`",
                iface.name
            ),
            "not on the victim's layer-2 segment",
            Some(format!(
                "ARP does not cross routers: the attacker needs an interface linked to `{victim}:{}`'s LAN (the same bridge, or VLAN of a switch)",
                iface.name
            )),
        ));
    };
    Ok(Spoof {
        victim_if: iface.name.clone(),
        victim_ip: net.addr(),
        attacker_if: out.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        crate::topology::parse(
            "lab.yaml",
            "lab",
            b"nodes:\n  v: {interfaces: {eth0: 10.0.1.2/24}}\n  a: {interfaces: {eth0: 10.0.1.66/24}}\n  gw: {kind: router, interfaces: {lan: 10.0.1.1/24, wan: 10.0.2.1/24}}\n  far: {interfaces: {eth0: 10.0.2.9/24}}\n  sw: {kind: bridge}\nlinks:\n  - [v:eth0, sw:p1]\n  - [a:eth0, sw:p2]\n  - [gw:lan, sw:p3]\n  - [gw:wan, far:eth0]\n",
        )
        .unwrap()
        .lab
    }

    fn spoof(lab: &Lab, from: &str, claim: &str, to: &str) -> Result<Spoof, Part> {
        arp_spoof(
            lab,
            lab.node_index(from).unwrap(),
            claim.parse().unwrap(),
            lab.node_index(to).unwrap(),
        )
        .map_err(|r| r.part)
    }

    #[test]
    fn the_attacker_needs_the_victims_lan_and_a_neighbours_address() {
        let lab = lab();
        assert_eq!(
            spoof(&lab, "a", "10.0.1.1", "v"),
            Ok(Spoof {
                victim_if: "eth0".into(),
                victim_ip: "10.0.1.2".parse().unwrap(),
                attacker_if: "eth0".into(),
            })
        );
        assert_eq!(spoof(&lab, "a", "10.0.1.1", "a"), Err(Part::Victim));
        assert_eq!(spoof(&lab, "far", "10.0.1.1", "v"), Err(Part::Attacker));
        assert_eq!(spoof(&lab, "a", "10.0.9.1", "v"), Err(Part::Claim));
        assert_eq!(spoof(&lab, "a", "10.0.1.2", "v"), Err(Part::Claim));
        assert_eq!(spoof(&lab, "a", "10.0.1.255", "v"), Err(Part::Claim));
        assert_eq!(spoof(&lab, "a", "fd00::1", "v"), Err(Part::Claim));
        assert_eq!(spoof(&lab, "a", "10.0.1.1", "sw"), Err(Part::Victim));
        // The router is on both LANs: it can lie to `far` about the other side's addresses.
        assert!(spoof(&lab, "gw", "10.0.2.7", "far").is_ok());
    }
}
