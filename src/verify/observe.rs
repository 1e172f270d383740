//! Frame-observation checks: which nodes a probe's frames reach. A hub floods every frame to
//! every port; a bridge that has learned where a MAC lives sends a unicast frame only there;
//! a VLAN or port security keeps it from ports outside. Observers watch every interface of
//! their namespace with a packet socket while the source sends echo requests that carry a
//! token of this run, after one echo that let every switch on the way learn both ends.

use std::net::{IpAddr, SocketAddr};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::icmp::{self, Timing};
use crate::apply::netns;
use crate::apply::packet::{ETH_P_ALL, PacketSocket};

/// Echo requests sent while the observers watch.
pub(crate) const SENT: usize = 3;

#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub from_ns: String,
    pub dst: IpAddr,
    pub observers: Vec<String>,
}

/// For each observer, how many of the [`SENT`] frames it saw, or why it could not watch.
pub(crate) type Seen = Vec<Result<usize, String>>;

pub(crate) fn observe_all(probes: &[Probe], timing: &Timing) -> Vec<Seen> {
    // Learning first: one answered echo teaches every bridge on the way where both ends are.
    let warm: Vec<(String, IpAddr)> = probes.iter().map(|p| (p.from_ns.clone(), p.dst)).collect();
    let _ = icmp::probe_all(&warm, timing);
    // One at a time, so that no probe's frames are taken for another's.
    probes.iter().map(observe).collect()
}

fn observe(p: &Probe) -> Seen {
    let token = icmp::random_token();
    let needle = token.to_be_bytes();
    let ready = Barrier::new(p.observers.len() + 1);
    let watch = Duration::from_millis(300);
    std::thread::scope(|s| {
        let watchers: Vec<_> = p
            .observers
            .iter()
            .map(|ns| {
                let ready = &ready;
                s.spawn(move || {
                    let socket = netns::open(ns).and_then(|f| {
                        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)?;
                        PacketSocket::open(None, ETH_P_ALL, true)
                    });
                    ready.wait();
                    let socket = socket.map_err(|e| format!("cannot watch {ns}: {e}"))?;
                    Ok(count(&socket, &needle, watch))
                })
            })
            .collect();
        ready.wait();
        send(&p.from_ns, p.dst, token);
        watchers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the watching thread panicked".into()))
            })
            .collect()
    })
}

/// The echo requests that carry `needle` seen within `watch`, each once however many of the
/// node's interfaces it crossed (a router sees it come in and go out). The replies carry the
/// needle too, and are not counted: they are other frames.
fn count(socket: &PacketSocket, needle: &[u8], watch: Duration) -> usize {
    let until = Instant::now() + watch;
    let mut seen = std::collections::BTreeSet::new();
    let mut buf = [0u8; 2048];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if !socket.wait(left.as_millis() as i32) {
            continue;
        }
        while let Some(n) = socket.recv(&mut buf) {
            // The token sits 8 bytes into the ICMP message, after type, code, checksum,
            // identifier and sequence number.
            let request = buf[..n]
                .windows(needle.len())
                .position(|w| w == needle)
                .and_then(|at| at.checked_sub(8))
                .filter(|icmp| matches!(buf[*icmp], 8 | 128));
            if let Some(icmp) = request {
                seen.insert([buf[icmp + 6], buf[icmp + 7]]);
            }
        }
    }
    seen.len()
}

/// [`SENT`] echo requests from `ns` to `dst`, their payload carrying `token`.
fn send(ns: &str, dst: IpAddr, token: u64) {
    let Ok(file) = netns::open(ns) else { return };
    let _ = netns::in_netns(&file, || {
        let v4 = dst.is_ipv4();
        let (domain, proto) = if v4 {
            (Domain::IPV4, Protocol::ICMPV4)
        } else {
            (Domain::IPV6, Protocol::ICMPV6)
        };
        let Ok(sock) = Socket::new(domain, Type::RAW, Some(proto)) else {
            return;
        };
        for seq in 0..SENT {
            let packet = icmp::echo_request(v4, token as u16, seq as u16 + 1, token);
            let _ = sock.send_to(&packet, &SocketAddr::new(dst, 0).into());
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}
