//! A router's NAT as one nftables table, applied atomically: Docker's MASQUERADE and DNAT.

use std::fmt::Write;

use crate::model::Nat;

/// `masquerade: [wan]` is `POSTROUTING -o wan -j MASQUERADE`; a published port is
/// `PREROUTING -i wan -p tcp --dport 49153 -j DNAT --to 172.17.0.2:8080`.
pub(super) fn ruleset(nat: &Nat) -> String {
    let mut r = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(r, "table inet vnet_nat {{");
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
        let _ = writeln!(r, "    oifname \"{out}\" masquerade");
    }
    let _ = writeln!(r, "  }}");
    let _ = writeln!(r, "}}");
    r
}
