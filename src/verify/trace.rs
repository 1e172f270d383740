//! `via:` checks: the path a packet takes, found as traceroute finds it. Echo requests leave
//! with a growing TTL; each router where one expires answers "time exceeded" from its own
//! address, and those addresses, in order, are the path.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use super::icmp::{self, Kind, Outcome, Parsed, Timing};
use crate::apply::netns;

/// The longest path followed.
const MAX_HOPS: u32 = 16;

#[derive(Debug, Clone, Default)]
pub(crate) struct Path {
    /// Who answered at each TTL (`None`: nobody did).
    pub hops: Vec<Option<IpAddr>>,
    pub reached: bool,
    /// Why the path ended before the destination, when something said so: the source had no
    /// route, a router answered "unreachable", or the probe could not run.
    pub stop: Option<Outcome>,
}

pub(crate) fn trace_all(probes: &[(String, IpAddr)], timing: &Timing) -> Vec<Path> {
    // One socket per trace: in waves, should a file have more traces than descriptors to spare.
    probes
        .chunks(super::at_once(1))
        .flat_map(|wave| {
            std::thread::scope(|s| {
                let hs: Vec<_> = wave
                    .iter()
                    .map(|(ns, dst)| s.spawn(move || trace(ns, *dst, timing)))
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

fn trace(ns: &str, dst: IpAddr, timing: &Timing) -> Path {
    let fail = |e: String| Path {
        stop: Some(Outcome::Error(e)),
        ..Path::default()
    };
    let entered = netns::open(ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(Into::into)
    });
    if let Err(e) = entered {
        return fail(format!("cannot enter {ns}: {e}"));
    }
    let v4 = dst.is_ipv4();
    let (domain, proto) = if v4 {
        (Domain::IPV4, Protocol::ICMPV4)
    } else {
        (Domain::IPV6, Protocol::ICMPV6)
    };
    let sock = match Socket::new(domain, Type::RAW, Some(proto)) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot open an ICMP socket: {e}")),
    };
    let _ = icmp::only_answers(&sock, v4);
    let _ = sock.set_nonblocking(true);
    let token = icmp::random_token();
    let ident = token as u16;
    let mut path = Path::default();
    for ttl in 1..=MAX_HOPS {
        let set = if v4 {
            sock.set_ttl_v4(ttl)
        } else {
            sock.set_unicast_hops_v6(ttl)
        };
        if let Err(e) = set {
            return fail(format!("cannot set the TTL: {e}"));
        }
        let mut answer = None;
        for (try_no, wait) in timing.tries.iter().enumerate() {
            let seq = (ttl * 8 + try_no as u32) as u16;
            if let Err(e) = sock.send_to(
                &icmp::echo_request(v4, ident, seq, token),
                &SocketAddr::new(dst, 0).into(),
            ) {
                path.stop = Some(Outcome::send_failed(&e));
                return path;
            }
            let deadline = Instant::now() + *wait;
            while answer.is_none() && Instant::now() < deadline {
                let mut fds = [libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }];
                let ms = (deadline - Instant::now()).as_millis().max(1) as libc::c_int;
                // SAFETY: `fds` is a valid, exclusively borrowed array of one pollfd.
                if unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) } <= 0 {
                    continue;
                }
                while let Some((from, packet, _)) = icmp::receive(&sock) {
                    match icmp::parse(&packet, v4, token) {
                        Some(p)
                            if p.ident == ident && matches!(p.kind, Kind::Echo) && from == dst =>
                        {
                            answer = Some((from, true))
                        }
                        Some(p)
                            if p.ident == ident
                                && matches!(p.kind, Kind::Error("time exceeded")) =>
                        {
                            answer = Some((from, false))
                        }
                        Some(Parsed {
                            ident: i,
                            kind: Kind::Error(why),
                            ..
                        }) if i == ident => {
                            path.hops.push(Some(from));
                            path.stop = Some(Outcome::Unreachable { from, why });
                            return path;
                        }
                        _ => {}
                    }
                }
            }
            if answer.is_some() {
                break;
            }
        }
        match answer {
            Some((from, true)) => {
                path.hops.push(Some(from));
                path.reached = true;
                return path;
            }
            Some((from, false)) => path.hops.push(Some(from)),
            None => path.hops.push(None),
        }
    }
    path
}
