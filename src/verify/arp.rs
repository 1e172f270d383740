//! Layer-2 probes: who has this address, asked from an interface of the source node, answered
//! or not. For IPv4 an ARP request, for IPv6 a neighbour solicitation.
//!
//! Both ask as a host checking that an address is free does: the ARP request is an RFC 5227
//! probe (sender IP 0.0.0.0), the solicitation comes from `::` as in duplicate address
//! detection (RFC 4862). A host answers either whatever its routes, subnets and reverse-path
//! filters say, so the verdict speaks of the broadcast domain alone.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use super::icmp::{Outcome, Timing};
use crate::apply::netns;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// One layer-2 probe: from these interfaces of the source namespace, who has `target`?
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub ns: String,
    pub ifaces: Vec<String>,
    pub target: IpAddr,
}

pub(crate) fn probe_all(probes: &[Probe], timing: &Timing) -> Vec<Outcome> {
    let mut by_ns: HashMap<&str, Vec<(usize, &Probe)>> = HashMap::new();
    for (i, p) in probes.iter().enumerate() {
        by_ns.entry(p.ns.as_str()).or_default().push((i, p));
    }
    let mut results = vec![Outcome::Timeout; probes.len()];
    let groups: Vec<_> = by_ns.into_iter().collect();
    // A socket per interface of each source namespace of a wave is open at once.
    let ports = probes.iter().map(|p| p.ifaces.len()).max().unwrap_or(1);
    for wave in groups.chunks(super::at_once(ports)) {
        let done: Vec<Vec<(usize, Outcome)>> = std::thread::scope(|s| {
            let hs: Vec<_> = wave
                .iter()
                .map(|(ns, ps)| s.spawn(move || in_namespace(ns, ps, timing)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, o) in done.into_iter().flatten() {
            results[i] = o;
        }
    }
    results
}

/// A packet socket bound to one interface for ARP or for IPv6, and that interface's MAC.
struct Port {
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
    v4: bool,
}

fn open_port(iface: &str, v4: bool) -> io::Result<Port> {
    let proto = if v4 { ETH_P_ARP } else { ETH_P_IPV6 };
    // SAFETY: plain socket(2) call; the result is checked before it is owned.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(proto.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let ifindex = nix::net::if_::if_nametoindex(iface).map_err(io::Error::from)? as i32;
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto.to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: binds our socket to a correctly sized, initialised sockaddr_ll.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; the name is copied in within its bounds below.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr
        .ifr_name
        .iter_mut()
        .zip(iface.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR fills `ifr` for the named interface.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds a sockaddr with the hardware address.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(Port {
        fd,
        ifindex,
        mac,
        v4,
    })
}

fn request(mac: [u8; 6], target: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    p[8..14].copy_from_slice(&mac);
    // Sender IP 0.0.0.0 (bytes 14..18): an RFC 5227 probe. Target MAC unknown (18..24).
    p[24..28].copy_from_slice(&target.octets());
    p
}

/// The solicited-node multicast group of an address (RFC 4291 2.7.1): where its owner listens.
fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// A neighbour solicitation for `target` from `::` (duplicate address detection's), as an
/// IPv6 packet: the owner answers with an advertisement to all nodes.
fn solicitation(target: Ipv6Addr) -> Vec<u8> {
    let dst = solicited_node(target);
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target.octets());
    // The checksum covers a pseudo-header: source (::), destination, length, next header.
    let mut pseudo = Vec::with_capacity(40 + icmp.len());
    pseudo.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&icmp);
    let sum = super::icmp::checksum(&pseudo);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    p.extend_from_slice(&[58, 255]);
    p.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&icmp);
    p
}

fn send(port: &Port, target: IpAddr) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_ifindex = port.ifindex;
    to.sll_halen = 6;
    let packet = match target {
        IpAddr::V4(t) => {
            to.sll_protocol = ETH_P_ARP.to_be();
            to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
            request(port.mac, t).to_vec()
        }
        IpAddr::V6(t) => {
            to.sll_protocol = ETH_P_IPV6.to_be();
            let group = solicited_node(t).octets();
            to.sll_addr[..6]
                .copy_from_slice(&[0x33, 0x33, group[12], group[13], group[14], group[15]]);
            solicitation(t)
        }
    };
    // SAFETY: sends our buffer to a correctly sized, initialised address.
    let r = unsafe {
        libc::sendto(
            port.fd.as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&raw const to).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The addresses answered for on the socket: the sender IP of every ARP reply to us, the
/// target of every neighbour advertisement.
fn replies(port: &Port) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    loop {
        // SAFETY: receives into our own buffer of the given size.
        let n = unsafe { libc::recv(port.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let Ok(n) = usize::try_from(n) else {
            break;
        };
        let p = &buf[..n];
        if port.v4 {
            if n >= 28 && u16::from_be_bytes([p[6], p[7]]) == 2 && p[18..24] == port.mac {
                out.push(Ipv4Addr::new(p[14], p[15], p[16], p[17]).into());
            }
        } else if let Some(target) = advertised(p) {
            out.push(target.into());
        }
    }
    out
}

/// The target of a neighbour advertisement (an IPv6 packet, ICMPv6 type 136), if it is one.
fn advertised(p: &[u8]) -> Option<Ipv6Addr> {
    if p.len() < 40 + 24 || p[0] >> 4 != 6 || p[6] != 58 || p[40] != 136 {
        return None;
    }
    let t: [u8; 16] = p[48..64].try_into().ok()?;
    Some(Ipv6Addr::from(t))
}

fn in_namespace(ns: &str, probes: &[(usize, &Probe)], timing: &Timing) -> Vec<(usize, Outcome)> {
    let fail = |e: String| {
        probes
            .iter()
            .map(|(i, _)| (*i, Outcome::Error(e.clone())))
            .collect()
    };
    // Closed once inside: only the sockets stay open while the probes run.
    let entered = netns::open(ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
    });
    if let Err(e) = entered {
        return fail(format!("cannot enter {ns}: {e}"));
    }
    let mut ports: HashMap<(&str, bool), Port> = HashMap::new();
    let mut out: HashMap<usize, Outcome> = HashMap::new();
    for (i, p) in probes {
        let v4 = p.target.is_ipv4();
        for iface in &p.ifaces {
            if !ports.contains_key(&(iface.as_str(), v4)) {
                match open_port(iface, v4) {
                    Ok(port) => {
                        ports.insert((iface, v4), port);
                    }
                    Err(e) => {
                        out.insert(*i, Outcome::Error(format!("cannot open {iface}: {e}")));
                    }
                }
            }
        }
    }
    let mut pending: Vec<(usize, &Probe, Instant)> = probes
        .iter()
        .filter(|(i, _)| !out.contains_key(i))
        .map(|(i, p)| (*i, *p, Instant::now()))
        .collect();
    for (try_no, wait) in timing.tries.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        for (_, p, sent) in pending.iter_mut() {
            for iface in &p.ifaces {
                if let Some(port) = ports.get(&(iface.as_str(), p.target.is_ipv4())) {
                    let _ = send(port, p.target);
                }
            }
            *sent = Instant::now();
        }
        let deadline = Instant::now() + *wait;
        while !pending.is_empty() && Instant::now() < deadline {
            let mut fds: Vec<libc::pollfd> = ports
                .values()
                .map(|p| libc::pollfd {
                    fd: p.fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let ms = (deadline - Instant::now()).as_millis().max(1) as libc::c_int;
            // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
            if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) } <= 0 {
                continue;
            }
            let answered: Vec<(String, IpAddr)> = ports
                .iter()
                .flat_map(|((name, _), port)| {
                    replies(port).into_iter().map(|ip| (name.to_string(), ip))
                })
                .collect();
            pending.retain(|(i, p, sent)| {
                let hit = answered
                    .iter()
                    .any(|(iface, ip)| *ip == p.target && p.ifaces.contains(iface));
                if hit {
                    // ARP carries no sequence number: timed from the latest request.
                    out.insert(
                        *i,
                        Outcome::Reply {
                            rtt: sent.elapsed(),
                            try_no: u8::try_from(try_no + 1).unwrap_or(u8::MAX),
                        },
                    );
                }
                !hit
            });
        }
    }
    for (i, _, _) in pending {
        out.insert(i, Outcome::Timeout);
    }
    out.into_iter().collect()
}
