//! Layer-2 probes: an ARP request sent from an interface of the source node, answered or not.
//!
//! The request is an RFC 5227 probe (sender IP 0.0.0.0): a host answers it whatever its routes,
//! subnets and reverse-path filters say, so the verdict speaks of the broadcast domain alone.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::icmp::{Outcome, Timing};
use crate::apply::netns;

const ETH_P_ARP: u16 = 0x0806;

/// One layer-2 probe: from these interfaces of the source namespace, who has `target`?
#[derive(Debug, Clone)]
pub struct Probe {
    pub ns: String,
    pub ifaces: Vec<String>,
    pub target: Ipv4Addr,
}

pub fn probe_all(probes: &[Probe], timing: &Timing) -> Vec<Outcome> {
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

/// An ARP socket bound to one interface, and that interface's MAC.
struct Port {
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
}

fn open_port(iface: &str) -> io::Result<Port> {
    // SAFETY: plain socket(2) call; the result is checked before it is owned.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
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
    sll.sll_protocol = ETH_P_ARP.to_be();
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
    Ok(Port { fd, ifindex, mac })
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

fn send(port: &Port, target: Ipv4Addr) -> io::Result<()> {
    let packet = request(port.mac, target);
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = ETH_P_ARP.to_be();
    to.sll_ifindex = port.ifindex;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
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

/// Replies addressed to us: (sender IP) of every ARP reply waiting on the socket.
fn replies(port: &Port) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: receives into our own buffer of the given size.
        let n = unsafe { libc::recv(port.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 28 {
            if n < 0 {
                break;
            }
            continue;
        }
        let op = u16::from_be_bytes([buf[6], buf[7]]);
        if op == 2 && buf[18..24] == port.mac {
            out.push(Ipv4Addr::new(buf[14], buf[15], buf[16], buf[17]));
        }
    }
    out
}

fn in_namespace(ns: &str, probes: &[(usize, &Probe)], timing: &Timing) -> Vec<(usize, Outcome)> {
    let fail = |e: String| {
        probes
            .iter()
            .map(|(i, _)| (*i, Outcome::NotSent(e.clone())))
            .collect()
    };
    // Closed once inside: only the sockets stay open while the probes run.
    let entered = netns::open(ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
    });
    if let Err(e) = entered {
        return fail(format!("cannot enter {ns}: {e}"));
    }
    let mut ports: HashMap<&str, Port> = HashMap::new();
    let mut out: HashMap<usize, Outcome> = HashMap::new();
    for (i, p) in probes {
        for iface in &p.ifaces {
            if !ports.contains_key(iface.as_str()) {
                match open_port(iface) {
                    Ok(port) => {
                        ports.insert(iface, port);
                    }
                    Err(e) => {
                        out.insert(*i, Outcome::NotSent(format!("cannot open {iface}: {e}")));
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
    for wait in &timing.tries {
        if pending.is_empty() {
            break;
        }
        for (_, p, sent) in pending.iter_mut() {
            for iface in &p.ifaces {
                if let Some(port) = ports.get(iface.as_str()) {
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
            let answered: Vec<(String, Ipv4Addr)> = ports
                .iter()
                .flat_map(|(name, port)| replies(port).into_iter().map(|ip| (name.to_string(), ip)))
                .collect();
            pending.retain(|(i, p, sent)| {
                let hit = answered
                    .iter()
                    .any(|(iface, ip)| *ip == p.target && p.ifaces.contains(iface));
                if hit {
                    out.insert(
                        *i,
                        Outcome::Reply {
                            rtt: sent.elapsed(),
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
    let _ = Duration::ZERO;
    out.into_iter().collect()
}
