//! ICMP echo from inside a namespace, in process: no `ping` binary, one raw socket per source
//! namespace and IP version, every probe of a source in flight at once.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use crate::apply::netns;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// An answer: the round trip of the try that was answered, and which try that was
    /// (1: the first; a later one means the earlier ones went unanswered).
    Reply { rtt: Duration, try_no: u8 },
    /// No answer within the tries.
    Timeout,
    /// An ICMP error came back: who sent it, and what it said.
    Unreachable { from: IpAddr, why: &'static str },
    /// The source's own kernel would not send it: no route, or its firewall. An answer about
    /// the network like any other.
    NoRoute(String),
    /// The far end answered with a reset (TCP) or port unreachable (UDP): reachable, closed.
    Refused,
    /// The probe could not be carried out at all (the namespace is gone, a socket was
    /// refused, the interface is missing): no verdict either way.
    Error(String),
}

impl Outcome {
    pub(crate) fn reached(&self) -> bool {
        matches!(self, Outcome::Reply { .. })
    }

    pub(crate) fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }

    /// A send that the source's kernel refused: an answer about the network when it says
    /// there is no way there, a probe that could not run otherwise.
    pub(crate) fn send_failed(e: &io::Error) -> Outcome {
        match e.raw_os_error() {
            Some(
                libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::ENETDOWN
                | libc::EPERM
                | libc::EACCES
                | libc::EADDRNOTAVAIL,
            ) => Outcome::NoRoute(no_route_text(e)),
            _ => Outcome::Error(e.to_string()),
        }
    }
}

/// `network is unreachable` rather than `Network is unreachable (os error 101)`.
fn no_route_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => text,
    }
}

/// How long to wait for each try; a lost first packet (ARP, neighbour discovery) is retried.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub tries: Vec<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tries: vec![
                Duration::from_millis(400),
                Duration::from_millis(800),
                Duration::from_millis(1200),
            ],
        }
    }
}

/// Probes every `(source namespace, destination)` pair; results are in the same order.
pub(crate) fn probe_all(probes: &[(String, IpAddr)], timing: &Timing) -> Vec<Outcome> {
    let mut by_source: HashMap<&str, Vec<(usize, IpAddr)>> = HashMap::new();
    for (i, (ns, dst)) in probes.iter().enumerate() {
        by_source.entry(ns.as_str()).or_default().push((i, *dst));
    }
    let mut results = vec![Outcome::Timeout; probes.len()];
    let token: u64 = random_token();
    let sources: Vec<_> = by_source.into_iter().collect();
    // Bounded so that thousands of sources do not mean thousands of threads, or of sockets
    // (one per IP version), at once.
    for wave in sources.chunks(super::at_once(2)) {
        let outcomes: Vec<Vec<(usize, Outcome)>> = std::thread::scope(|s| {
            let handles: Vec<_> = wave
                .iter()
                .enumerate()
                .map(|(w, (ns, targets))| {
                    let ident_base = (token as u16).wrapping_add((w as u16).wrapping_mul(4099));
                    s.spawn(move || from_source(ns, targets, ident_base, token, timing))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, o) in outcomes.into_iter().flatten() {
            results[i] = o;
        }
    }
    results
}

pub(crate) fn random_token() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    u64::from_ne_bytes(b) ^ u64::from(std::process::id())
}

/// Runs on its own thread: enters the source namespace, then sends and listens.
fn from_source(
    ns: &str,
    targets: &[(usize, IpAddr)],
    ident_base: u16,
    token: u64,
    timing: &Timing,
) -> Vec<(usize, Outcome)> {
    let fail = |e: io::Error| {
        targets
            .iter()
            .map(|(i, _)| (*i, Outcome::Error(format!("cannot enter {ns}: {e}"))))
            .collect()
    };
    // Closed once inside: a thousand sources must not hold a thousand namespaces open.
    let entered = netns::open(ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
    });
    if let Err(e) = entered {
        return fail(e);
    }
    let v4 = targets.iter().any(|(_, a)| a.is_ipv4());
    let v6 = targets.iter().any(|(_, a)| a.is_ipv6());
    let open = |d: Domain, p: Protocol| -> io::Result<Socket> {
        let s = Socket::new(d, Type::RAW, Some(p))?;
        s.set_nonblocking(true)?;
        only_answers(&s, d == Domain::IPV4)?;
        // A raw socket sees every ICMP packet of its namespace; in an all-pairs run that is
        // hundreds arriving at once. The default buffer (~200 KiB) would drop answers.
        let _ = set_rcvbuf_force(&s, 8 << 20);
        // The kernel stamps each answer as it arrives (as ping times them): a round trip
        // timed when this thread wakes up would add the wake-up to it.
        let _ = stamp_arrivals(&s);
        Ok(s)
    };
    let s4 = if v4 {
        Some(open(Domain::IPV4, Protocol::ICMPV4))
    } else {
        None
    };
    let s6 = if v6 {
        Some(open(Domain::IPV6, Protocol::ICMPV6))
    } else {
        None
    };
    let mut out: HashMap<usize, Outcome> = HashMap::new();
    // Probe k of this source uses ident base+k; the payload carries the run's token too, and
    // each try its own sequence number, so an answer is timed from the try it answers.
    let mut pending: HashMap<u16, (usize, IpAddr, Vec<Sent>)> = HashMap::new();
    for (k, (i, dst)) in targets.iter().enumerate() {
        let sock = if dst.is_ipv4() { &s4 } else { &s6 };
        match sock {
            Some(Ok(_)) => {
                pending.insert(ident_base.wrapping_add(k as u16), (*i, *dst, Vec::new()));
            }
            Some(Err(e)) => {
                out.insert(
                    *i,
                    Outcome::Error(format!("cannot open an ICMP socket: {e}")),
                );
            }
            None => {}
        }
    }
    let s4 = s4.and_then(Result::ok);
    let s6 = s6.and_then(Result::ok);
    let mut unresolved: HashMap<usize, Outcome> = HashMap::new();
    for (try_no, wait) in timing.tries.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        let seq = try_no as u16 + 1;
        let idents: Vec<u16> = pending.keys().copied().collect();
        for ident in idents {
            let (i, dst) = (pending[&ident].0, pending[&ident].1);
            let sock = if dst.is_ipv4() {
                s4.as_ref()
            } else {
                s6.as_ref()
            };
            let Some(sock) = sock else { continue };
            let packet = echo_request(dst.is_ipv4(), ident, seq, token);
            let sent = Sent::now();
            match sock.send_to(&packet, &SocketAddr::new(dst, 0).into()) {
                Ok(_) => {
                    if let Some(p) = pending.get_mut(&ident) {
                        p.2.push(sent);
                    }
                }
                Err(e) => {
                    pending.remove(&ident);
                    out.insert(i, Outcome::send_failed(&e));
                }
            }
        }
        let deadline = Instant::now() + *wait;
        while !pending.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let mut fds: Vec<libc::pollfd> = [s4.as_ref(), s6.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let ms = (deadline - now).as_millis().max(1) as libc::c_int;
            // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n <= 0 {
                continue;
            }
            for (sock, v4) in [(s4.as_ref(), true), (s6.as_ref(), false)] {
                let Some(sock) = sock else { continue };
                while let Some((from, reply, arrived)) = receive(sock) {
                    let Some(parsed) = parse(&reply, v4, token) else {
                        continue;
                    };
                    let Some((i, dst, sent)) = pending.get(&parsed.ident) else {
                        continue;
                    };
                    let (i, dst) = (*i, *dst);
                    // The answered try, by its sequence number (1-based).
                    let answered = usize::from(parsed.seq.max(1)) - 1;
                    let Some(at) = sent.get(answered).or(sent.last()).copied() else {
                        continue;
                    };
                    match parsed.kind {
                        Kind::Echo if from == dst => {
                            pending.remove(&parsed.ident);
                            out.insert(
                                i,
                                Outcome::Reply {
                                    rtt: at.round_trip(arrived),
                                    try_no: u8::try_from(answered + 1).unwrap_or(u8::MAX),
                                },
                            );
                        }
                        // A failed neighbour resolution may have begun before the path
                        // healed (a link just brought back): the next try resolves anew,
                        // so it is not the answer while tries are left.
                        Kind::Error(why)
                            if neighbour_failed(why) && try_no + 1 < timing.tries.len() =>
                        {
                            unresolved.insert(i, Outcome::Unreachable { from, why });
                        }
                        Kind::Error(why) => {
                            pending.remove(&parsed.ident);
                            out.insert(i, Outcome::Unreachable { from, why });
                        }
                        Kind::Echo => {}
                    }
                }
            }
        }
    }
    for (_, (i, _, _)) in pending {
        out.insert(i, unresolved.remove(&i).unwrap_or(Outcome::Timeout));
    }
    out.into_iter().collect()
}

/// Lets only echo replies and ICMP errors through to the socket: the echo requests other
/// probes send into this namespace are filtered in the kernel.
pub(super) fn only_answers(s: &Socket, v4: bool) -> io::Result<()> {
    let fd = s.as_raw_fd();
    let r = if v4 {
        // ICMP_FILTER (SOL_RAW, 1): a bit set means "drop this type".
        let blocked: u32 = !((1 << 0) | (1 << 3) | (1 << 11));
        // SAFETY: setsockopt with a pointer to a live u32 and its exact size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_RAW,
                1,
                (&raw const blocked).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        }
    } else {
        // ICMP6_FILTER (IPPROTO_ICMPV6, 1): 256 bits, a bit set means "block".
        let mut filter = [u32::MAX; 8];
        for ty in [1u8, 3, 129] {
            filter[usize::from(ty >> 5)] &= !(1u32 << (ty & 31));
        }
        // SAFETY: setsockopt with a pointer to a live 32-byte array and its exact size.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_ICMPV6,
                1,
                filter.as_ptr().cast(),
                std::mem::size_of_val(&filter) as libc::socklen_t,
            )
        }
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_rcvbuf_force(s: &Socket, bytes: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const bytes).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        s.set_recv_buffer_size(bytes as usize)
    }
}

/// When a try was sent: the monotonic clock for the fallback, the wall clock to compare with
/// the kernel's arrival stamp (which is on the wall clock).
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    wall: SystemTime,
}

impl Sent {
    fn now() -> Sent {
        Sent {
            wall: SystemTime::now(),
            at: Instant::now(),
        }
    }

    /// From the send to the kernel's arrival stamp; without a stamp (or with one the wall
    /// clock's steps made impossible), to now.
    fn round_trip(&self, arrived: Option<SystemTime>) -> Duration {
        let elapsed = self.at.elapsed();
        arrived
            .and_then(|a| a.duration_since(self.wall).ok())
            .filter(|rtt| *rtt <= elapsed)
            .unwrap_or(elapsed)
    }
}

/// SO_TIMESTAMPNS: every datagram comes with the time the kernel received it.
fn stamp_arrivals(s: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One datagram, who sent it, and when the kernel received it (if the socket stamps them).
pub(super) fn receive(sock: &Socket) -> Option<(IpAddr, Vec<u8>, Option<SystemTime>)> {
    let mut buf = [0u8; 1500];
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // u64 elements: the control buffer must be aligned for cmsghdr.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    let n = usize::try_from(n).ok()?;
    let from = match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the kernel wrote a sockaddr_in.
            let a: libc::sockaddr_in = unsafe { std::ptr::read((&raw const name).cast()) };
            IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the kernel wrote a sockaddr_in6.
            let a: libc::sockaddr_in6 = unsafe { std::ptr::read((&raw const name).cast()) };
            IpAddr::from(a.sin6_addr.s6_addr)
        }
        _ => return None,
    };
    let mut arrived = None;
    // SAFETY: CMSG_* walk the control buffer the kernel filled, within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                arrived = Some(
                    SystemTime::UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32),
                );
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((from, buf[..n.min(buf.len())].to_vec(), arrived))
}

pub(super) fn echo_request(v4: bool, ident: u16, seq: u16, token: u64) -> Vec<u8> {
    let mut p = vec![if v4 { 8 } else { 128 }, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&token.to_be_bytes());
    p.extend_from_slice(b"vnet-probe-----");
    if v4 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    // For ICMPv6 the kernel fills in the checksum (it covers a pseudo-header we don't know).
    p
}

pub(super) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub(super) enum Kind {
    Echo,
    Error(&'static str),
}

pub(super) struct Parsed {
    pub ident: u16,
    pub seq: u16,
    pub kind: Kind,
}

/// Reads an echo reply, or an ICMP error that quotes one of our requests.
pub(super) fn parse(packet: &[u8], v4: bool, token: u64) -> Option<Parsed> {
    let icmp = if v4 {
        let ihl = usize::from(packet.first()? & 0x0f) * 4;
        packet.get(ihl..)?
    } else {
        packet
    };
    let (ty, code) = (*icmp.first()?, *icmp.get(1)?);
    let echo_reply = if v4 { 0 } else { 129 };
    if ty == echo_reply {
        let ident = u16::from_be_bytes([*icmp.get(4)?, *icmp.get(5)?]);
        let seq = u16::from_be_bytes([*icmp.get(6)?, *icmp.get(7)?]);
        let t = u64::from_be_bytes(icmp.get(8..16)?.try_into().ok()?);
        return (t == token).then_some(Parsed {
            ident,
            seq,
            kind: Kind::Echo,
        });
    }
    let why = error_text(v4, ty, code)?;
    // The error quotes our packet: its IP header, then the first bytes of our echo request.
    let inner = icmp.get(8..)?;
    let inner_icmp = if v4 {
        let ihl = usize::from(inner.first()? & 0x0f) * 4;
        inner.get(ihl..)?
    } else {
        inner.get(40..)?
    };
    let request = if v4 { 8 } else { 128 };
    if *inner_icmp.first()? != request {
        return None;
    }
    let ident = u16::from_be_bytes([*inner_icmp.get(4)?, *inner_icmp.get(5)?]);
    let seq = u16::from_be_bytes([*inner_icmp.get(6)?, *inner_icmp.get(7)?]);
    // Routers may quote only 8 bytes of our ICMP header; check the token when it is there.
    if let Some(t) = inner_icmp.get(8..16)
        && u64::from_be_bytes(t.try_into().ok()?) != token
    {
        return None;
    }
    Some(Parsed {
        ident,
        seq,
        kind: Kind::Error(why),
    })
}

/// The errors a host's own kernel sends when no neighbour answered: transient, unlike a
/// router's verdict on a route.
fn neighbour_failed(why: &str) -> bool {
    matches!(why, "host unreachable" | "address unreachable")
}

fn error_text(v4: bool, ty: u8, code: u8) -> Option<&'static str> {
    Some(match (v4, ty, code) {
        (true, 3, 0) => "network unreachable",
        (true, 3, 1) => "host unreachable",
        (true, 3, 3) => "port unreachable",
        (true, 3, 9 | 10 | 13) => "administratively prohibited",
        (true, 3, _) => "destination unreachable",
        (true, 11, _) => "time exceeded",
        (false, 1, 0) => "no route to destination",
        (false, 1, 1) => "administratively prohibited",
        (false, 1, 3) => "address unreachable",
        (false, 1, _) => "destination unreachable",
        (false, 3, _) => "time exceeded",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_recognised_by_its_token() {
        let mut reply = echo_request(false, 7, 1, 42);
        reply[0] = 129;
        let p = parse(&reply, false, 42).unwrap();
        assert_eq!(p.ident, 7);
        assert!(matches!(p.kind, Kind::Echo));
        assert!(
            parse(&reply, false, 43).is_none(),
            "another run's reply is ignored"
        );
    }

    #[test]
    fn an_icmp_error_is_traced_back_to_the_probe() {
        let request = echo_request(true, 9, 1, 5);
        let mut inner_ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 9, 9,
        ];
        inner_ip.extend_from_slice(&request);
        let mut outer = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 1,
        ];
        outer.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
        outer.extend_from_slice(&inner_ip);
        let p = parse(&outer, true, 5).unwrap();
        assert_eq!(p.ident, 9);
        assert!(matches!(p.kind, Kind::Error("network unreachable")));
    }

    #[test]
    fn a_round_trip_is_timed_to_the_kernels_stamp_when_it_is_plausible() {
        let sent = Sent::now();
        std::thread::sleep(Duration::from_millis(20));
        let stamped = sent.wall + Duration::from_millis(5);
        assert_eq!(sent.round_trip(Some(stamped)), Duration::from_millis(5));
        // A stamp before the send (the wall clock stepped back) or after now: the clock's.
        let before = sent.round_trip(Some(sent.wall - Duration::from_secs(1)));
        assert!(before >= Duration::from_millis(20), "{before:?}");
        let after = sent.round_trip(Some(sent.wall + Duration::from_secs(60)));
        assert!(after < Duration::from_secs(60), "{after:?}");
        assert!(sent.round_trip(None) >= Duration::from_millis(20));
    }

    #[test]
    fn checksum_of_a_request_verifies() {
        let p = echo_request(true, 1, 1, 1);
        assert_eq!(checksum(&p), 0);
    }
}
