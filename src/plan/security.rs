//! Port security (the article's IP-MAC-port binding) as an nftables bridge-family table.

use std::fmt::Write;

use crate::model::Node;

/// The ruleset for a switch's `allow:` lists, or `None` when no port has one.
pub(super) fn ruleset(node: &Node) -> Option<String> {
    let guarded: Vec<_> = node.ports.iter().filter(|p| !p.allow.is_empty()).collect();
    if guarded.is_empty() {
        return None;
    }
    let mut r = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(r, "table bridge vnet {{");
    let _ = writeln!(r, "  chain port_security {{");
    let _ = writeln!(
        r,
        "    type filter hook prerouting priority -200; policy accept;"
    );
    for port in guarded {
        let port_name = &port.name;
        let macs: Vec<&str> = port.allow.iter().map(|a| a.mac.as_str()).collect();
        let _ = writeln!(
            r,
            "    iifname \"{port_name}\" ether saddr != {{ {} }} drop",
            macs.join(", ")
        );
        let v4: Vec<String> = port
            .allow
            .iter()
            .filter_map(|a| {
                a.ip.filter(|ip| ip.is_ipv4())
                    .map(|ip| format!("{} . {ip}", a.mac))
            })
            .collect();
        if !v4.is_empty() {
            // A forged ARP reply keeps the attacker's real MAC in the frame but lies in the ARP
            // payload: check the sender MAC and IP inside the ARP packet as a pair.
            let _ = writeln!(
                r,
                "    iifname \"{port_name}\" arp saddr ether . arp saddr ip != {{ {} }} drop",
                v4.join(", ")
            );
            let ips: Vec<String> = port
                .allow
                .iter()
                .filter_map(|a| a.ip.filter(|ip| ip.is_ipv4()))
                .map(|ip| ip.to_string())
                .collect();
            let _ = writeln!(
                r,
                "    iifname \"{port_name}\" ether type ip ip saddr != {{ {} }} drop",
                ips.join(", ")
            );
        }
    }
    let _ = writeln!(r, "  }}");
    let _ = writeln!(r, "}}");
    Some(r)
}
