//! Addresses as written: interface addresses in CIDR form, single addresses (gateways, next
//! hops, port security), `ADDRESS:PORT` (published ports).
//!
//! IPv4 is written without leading zeros: inet_aton(3) and the tools built on it read
//! `010.0.0.1` as octal (8.0.0.1), ipnet reads it as 10.0.0.1, so vnet reads it as neither.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::Sp;
use super::fields::string;
use crate::topology::diag::Problems;
use crate::topology::yaml::Node;

/// An interface address: `10.0.1.11/24` or `fd00::1/64`; the prefix length is required.
pub(crate) fn cidr(p: &mut Problems, node: &Node) -> Option<Sp<IpNet>> {
    let text = string(p, node, "an address")?;
    if padded(p, &text) {
        return None;
    }
    match text.v.parse::<IpNet>() {
        Ok(net) => Some(Sp {
            v: net,
            at: node.span,
        }),
        Err(_) if text.v.parse::<IpAddr>().is_ok() => {
            let suggestion = if text.v.contains(':') { "/64" } else { "/24" };
            p.error(
                "address",
                format!("address `{}` has no prefix length", text.v),
                node.span,
                "needs a prefix length",
                Some(format!(
                    "write it in CIDR form, such as `{}{suggestion}`",
                    text.v
                )),
            );
            None
        }
        Err(_) => {
            p.error(
                "address",
                format!("`{}` is not an IP address in CIDR form", text.v),
                node.span,
                "not an address",
                Some("write addresses like `10.0.1.11/24` or `fd00:1::11/64`".into()),
            );
            None
        }
    }
}

pub(super) fn ip(p: &mut Problems, node: &Node, what: &str) -> Option<Sp<IpAddr>> {
    let text = string(p, node, what)?;
    if padded(p, &text) {
        return None;
    }
    match text.v.parse::<IpAddr>() {
        Ok(a) => Some(Sp {
            v: a,
            at: node.span,
        }),
        Err(_) => {
            let help = text
                .v
                .split_once('/')
                .filter(|(a, _)| a.parse::<IpAddr>().is_ok())
                .map(|(a, _)| format!("a {what} is a single address: `{a}`"));
            p.error(
                "address",
                format!("`{}` is not an IP address", text.v),
                node.span,
                "not an address",
                help,
            );
            None
        }
    }
}

/// Where published connections go: `172.17.0.2:8080` or `[fd00::2]:8080`, never port 0.
pub(super) fn socket_addr(p: &mut Problems, node: &Node) -> Option<Sp<SocketAddr>> {
    let text = string(p, node, "to")?;
    if padded(p, &text) {
        return None;
    }
    match text.v.parse::<SocketAddr>() {
        Ok(sa) if sa.port() == 0 => {
            p.error(
                "port",
                "published connections cannot go to port 0",
                node.span,
                "no service listens on port 0",
                Some(format!(
                    "name the port the service listens on: `{}:80`",
                    sa.ip()
                )),
            );
            None
        }
        Ok(sa) => Some(Sp {
            v: sa,
            at: node.span,
        }),
        Err(_) => {
            p.error(
                "publish",
                format!("`{}` is not ADDRESS:PORT", text.v),
                node.span,
                "where published connections go",
                Some("for example `to: 172.17.0.2:8080` (IPv6: `[fd00::2]:8080`)".into()),
            );
            None
        }
    }
}

/// Reports an IPv4 address written with a leading zero in an octet; true when it was.
pub(crate) fn padded(p: &mut Problems, text: &Sp<String>) -> bool {
    let Some(unpadded) = unpadded(&text.v) else {
        return false;
    };
    p.error(
        "address",
        format!("`{}` has an octet with a leading zero", text.v),
        text.at,
        "some tools read a leading zero as octal (`010` is 8)",
        Some(format!("write `{unpadded}`")),
    );
    true
}

/// The text with the leading zeros of its IPv4 address's octets dropped (`010.0.0.1/24` →
/// `10.0.0.1/24`), when it has any; what follows the address (`/24`, `:80`) is kept.
pub(crate) fn unpadded(text: &str) -> Option<String> {
    let end = text.find(['/', ':']).unwrap_or(text.len());
    let (addr, rest) = text.split_at(end);
    let octets: Vec<&str> = addr.split('.').collect();
    let numeric = |o: &&str| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit());
    if octets.len() != 4 || !octets.iter().all(numeric) {
        return None;
    }
    if !octets.iter().any(|o| o.len() > 1 && o.starts_with('0')) {
        return None;
    }
    let fixed: Vec<&str> = octets
        .iter()
        .map(|o| match o.trim_start_matches('0') {
            "" => "0",
            kept => kept,
        })
        .collect();
    Some(format!("{}{rest}", fixed.join(".")))
}

#[cfg(test)]
mod tests {
    use super::unpadded;

    #[test]
    fn leading_zeros_are_dropped_and_the_rest_kept() {
        assert_eq!(unpadded("010.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(unpadded("10.00.0.01/24").as_deref(), Some("10.0.0.1/24"));
        assert_eq!(
            unpadded("192.168.001.2:8080").as_deref(),
            Some("192.168.1.2:8080")
        );
        assert_eq!(unpadded("10.0.0.1/24"), None);
        assert_eq!(unpadded("0.0.0.0"), None);
        assert_eq!(unpadded("fd00::1/64"), None);
        assert_eq!(unpadded("h1:80"), None);
        assert_eq!(unpadded("1.2.3"), None);
    }
}
