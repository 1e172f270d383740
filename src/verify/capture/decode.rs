//! One line per frame, in the words of `tcpdump -n -e`, so that what a student has read
//! about tcpdump's output reads the same here. Every field is read with bounds checked: a
//! short or hostile frame says `truncated`, never panics.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::apply::packet::mac_text;

/// `02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 98: 10.0.0.1 >
/// 10.0.0.2: ICMP echo request, id 7, seq 1, length 64`
pub(crate) fn describe(frame: &[u8], wire_len: usize) -> String {
    let (Some(dst), Some(src)) = (frame.get(0..6), frame.get(6..12)) else {
        return format!("truncated frame, length {wire_len}");
    };
    let mut out = format!("{} > {}", mac_text(src), mac_text(dst));
    let mut at = 12;
    let mut ethertype = be16(frame, at);
    while let Some(0x8100 | 0x88a8) = ethertype {
        let tci = be16(frame, at + 2).unwrap_or(0);
        let _ = write!(out, ", vlan {}, p {}", tci & 0x0fff, tci >> 13);
        at += 4;
        ethertype = be16(frame, at);
    }
    let Some(ethertype) = ethertype else {
        let _ = write!(out, ", truncated, length {wire_len}");
        return out;
    };
    let payload = frame.get(at + 2..).unwrap_or_default();
    if ethertype < 0x0600 {
        // An 802.3 length field: spanning tree's BPDUs arrive this way.
        let what = if dst == [0x01, 0x80, 0xc2, 0, 0, 0] {
            ": STP 802.1d"
        } else {
            ""
        };
        let _ = write!(out, ", 802.3, length {wire_len}{what}");
        return out;
    }
    let name = match ethertype {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x88cc => "LLDP",
        _ => "Unknown",
    };
    let _ = write!(
        out,
        ", ethertype {name} (0x{ethertype:04x}), length {wire_len}"
    );
    let body = match ethertype {
        0x0800 => ipv4(payload),
        0x0806 => arp(payload),
        0x86dd => ipv6(payload),
        _ => None,
    };
    match body {
        Some(b) => {
            let _ = write!(out, ": {b}");
        }
        None if matches!(ethertype, 0x0800 | 0x0806 | 0x86dd) => out.push_str(": truncated"),
        None => {}
    }
    out
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn v4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn v6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

fn arp(p: &[u8]) -> Option<String> {
    let op = be16(p, 6)?;
    // Only Ethernet/IPv4 ARP has the layout below; anything else is named, not read.
    if be16(p, 0)? != 1 || be16(p, 2)? != 0x0800 || p.get(4..6)? != [6, 4] {
        return Some(format!("ARP, unknown hardware or protocol, op {op}"));
    }
    let sender_mac = mac_text(p.get(8..14)?);
    let (sender, target) = (v4(p, 14)?, v4(p, 24)?);
    Some(match op {
        1 => format!("Request who-has {target} tell {sender}, length 28"),
        2 => format!("Reply {sender} is-at {sender_mac}, length 28"),
        op => format!("ARP op {op}, length 28"),
    })
}

fn ipv4(p: &[u8]) -> Option<String> {
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    let total = usize::from(be16(p, 2)?);
    let frag = be16(p, 6)? & 0x1fff;
    let proto = *p.get(9)?;
    let (src, dst) = (v4(p, 12)?, v4(p, 16)?);
    let l4 = p.get(ihl..total.max(ihl).min(p.len()))?;
    let len = total.saturating_sub(ihl);
    if frag != 0 {
        return Some(format!(
            "{src} > {dst}: ip-proto-{proto}, fragment offset {}",
            frag * 8
        ));
    }
    Some(match proto {
        1 => format!("{src} > {dst}: {}", icmp4(l4, len)?),
        6 => tcp(&src.to_string(), &dst.to_string(), l4, len)?,
        17 => udp(&src.to_string(), &dst.to_string(), l4)?,
        p => format!("{src} > {dst}: ip-proto-{p} {len}"),
    })
}

fn icmp4(m: &[u8], len: usize) -> Option<String> {
    let (kind, code) = (*m.first()?, *m.get(1)?);
    Some(match kind {
        8 | 0 => format!(
            "ICMP echo {}, id {}, seq {}, length {len}",
            if kind == 8 { "request" } else { "reply" },
            be16(m, 4)?,
            be16(m, 6)?
        ),
        3 => {
            let why = match code {
                0 => "net unreachable",
                1 => "host unreachable",
                2 => "protocol unreachable",
                3 => "port unreachable",
                4 => "need to frag",
                9 | 10 | 13 => "administratively prohibited",
                _ => "unreachable",
            };
            // What was refused: the original packet's addresses, after 8 bytes of ICMP.
            match (v4(m, 8 + 12), v4(m, 8 + 16)) {
                (Some(s), Some(d)) => {
                    format!("ICMP {d} {why} (code {code}) for {s} > {d}, length {len}")
                }
                _ => format!("ICMP {why} (code {code}), length {len}"),
            }
        }
        11 => format!("ICMP time exceeded in-transit, length {len}"),
        5 => format!("ICMP redirect, length {len}"),
        k => format!("ICMP type {k}, code {code}, length {len}"),
    })
}

fn tcp(src: &str, dst: &str, t: &[u8], len: usize) -> Option<String> {
    let (sport, dport) = (be16(t, 0)?, be16(t, 2)?);
    let (seq, ack) = (be32(t, 4)?, be32(t, 8)?);
    let offset = usize::from(t.get(12)? >> 4) * 4;
    let bits = *t.get(13)?;
    let win = be16(t, 14)?;
    let mut flags = String::new();
    for (bit, c) in [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if bits & bit != 0 {
            flags.push(c);
        }
    }
    if bits & 0x10 != 0 {
        flags.push('.');
    }
    if flags.is_empty() {
        flags.push_str("none");
    }
    let data = len.saturating_sub(offset);
    let ack = if bits & 0x10 != 0 {
        format!(", ack {ack}")
    } else {
        String::new()
    };
    Some(format!(
        "{src}.{sport} > {dst}.{dport}: Flags [{flags}], seq {seq}{ack}, win {win}, length {data}"
    ))
}

fn udp(src: &str, dst: &str, u: &[u8]) -> Option<String> {
    let (sport, dport) = (be16(u, 0)?, be16(u, 2)?);
    let len = usize::from(be16(u, 4)?).saturating_sub(8);
    Some(format!("{src}.{sport} > {dst}.{dport}: UDP, length {len}"))
}

fn ipv6(p: &[u8]) -> Option<String> {
    let len = usize::from(be16(p, 4)?);
    let mut next = *p.get(6)?;
    let (src, dst) = (v6(p, 8)?, v6(p, 24)?);
    let mut at = 40;
    let mut left = len;
    // Hop-by-hop, routing and destination options (MLD reports carry hop-by-hop).
    while matches!(next, 0 | 43 | 60) {
        let ext = (usize::from(*p.get(at + 1)?) + 1) * 8;
        next = *p.get(at)?;
        at += ext;
        left = left.saturating_sub(ext);
    }
    let l4 = p.get(at..(at + left).min(p.len()))?;
    let (s, d) = (src.to_string(), dst.to_string());
    Some(match next {
        58 => format!("{src} > {dst}: ICMP6, {}", icmp6(l4, left)?),
        6 => tcp(&s, &d, l4, left)?,
        17 => udp(&s, &d, l4)?,
        n => format!("{src} > {dst}: ip-proto-{n} {left}"),
    })
}

fn icmp6(m: &[u8], len: usize) -> Option<String> {
    let kind = *m.first()?;
    Some(match kind {
        128 | 129 => format!(
            "echo {}, id {}, seq {}, length {len}",
            if kind == 128 { "request" } else { "reply" },
            be16(m, 4)?,
            be16(m, 6)?
        ),
        133 => format!("router solicitation, length {len}"),
        134 => format!("router advertisement, length {len}"),
        135 => format!("neighbor solicitation, who has {}, length {len}", v6(m, 8)?),
        136 => format!("neighbor advertisement, tgt is {}, length {len}", v6(m, 8)?),
        143 => format!("multicast listener report v2, length {len}"),
        1 => format!("destination unreachable, code {}, length {len}", m.get(1)?),
        3 => format!("time exceeded in-transit, length {len}"),
        k => format!("type {k}, length {len}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend(ethertype.to_be_bytes());
        f.extend(payload);
        f
    }

    fn ipv4_packet(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0];
        p.extend(((20 + l4.len()) as u16).to_be_bytes());
        p.extend([0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend(l4);
        p
    }

    #[test]
    fn an_echo_request_reads_as_tcpdump_prints_it() {
        let mut icmp = vec![8, 0, 0, 0, 0, 7, 0, 1];
        icmp.extend([0u8; 56]);
        let f = eth(0x0800, &ipv4_packet(1, &icmp));
        assert_eq!(
            describe(&f, f.len()),
            "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 98: \
             10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 64"
        );
    }

    #[test]
    fn arp_asks_who_has_and_answers_is_at() {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1];
        a.extend([0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let f = eth(0x0806, &a);
        assert!(
            describe(&f, 42).ends_with(
                "ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
            ),
            "{}",
            describe(&f, 42)
        );
        a[7] = 2;
        let f = eth(0x0806, &a);
        assert!(describe(&f, 42).ends_with("Reply 10.0.0.1 is-at 02:00:00:00:00:01, length 28"));
    }

    #[test]
    fn tcp_shows_ports_and_flags() {
        let mut t = vec![
            0x9c, 0x40, 0, 80, 0, 0, 0, 9, 0, 0, 0, 5, 0x50, 0x12, 0xfa, 0xf0,
        ];
        t.extend([0, 0, 0, 0]);
        let f = eth(0x0800, &ipv4_packet(6, &t));
        assert!(describe(&f, f.len()).ends_with(
            "10.0.0.1.40000 > 10.0.0.2.80: Flags [S.], seq 9, ack 5, win 64240, length 0"
        ));
    }

    #[test]
    fn udp_shows_ports_and_length() {
        let u = [0x13, 0x88, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4];
        let f = eth(0x0800, &ipv4_packet(17, &u));
        assert!(describe(&f, f.len()).ends_with("10.0.0.1.5000 > 10.0.0.2.53: UDP, length 4"));
    }

    #[test]
    fn ipv6_echo_and_neighbour_solicitation() {
        let mut p = vec![0x60, 0, 0, 0, 0, 8, 58, 64];
        p.extend("fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend("fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend([128, 0, 0, 0, 0, 3, 0, 4]);
        let f = eth(0x86dd, &p);
        assert!(
            describe(&f, f.len())
                .ends_with("fd00::1 > fd00::2: ICMP6, echo request, id 3, seq 4, length 8")
        );
    }

    #[test]
    fn short_and_odd_frames_never_panic() {
        let mut icmp = vec![8, 0, 0, 0, 0, 7, 0, 1];
        icmp.extend([0u8; 8]);
        let full = eth(0x0800, &ipv4_packet(1, &icmp));
        for cut in 0..full.len() {
            let _ = describe(&full[..cut], cut);
        }
        for ethertype in [0x0806, 0x86dd, 0x8100, 0x0042, 0x88cc] {
            let f = eth(ethertype, &[0xff; 30]);
            for cut in 0..f.len() {
                let _ = describe(&f[..cut], cut);
            }
        }
        assert_eq!(describe(&[1, 2, 3], 3), "truncated frame, length 3");
    }
}
