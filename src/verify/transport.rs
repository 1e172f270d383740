//! TCP and UDP checks: connect (or send) from inside the source namespace; where nobody
//! listens on the far end, vnet listens there itself and notes who connected, which is how
//! `seen_as` proves (or disproves) address translation.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::icmp::{Outcome, Timing};
use crate::apply::netns;
use crate::model::Proto;

#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub src_ns: String,
    pub dst: SocketAddr,
    pub proto: Proto,
    /// Where the connection should land (after any DNAT), if vnet is to listen there.
    pub listen_at: Option<(String, u16)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Result {
    pub outcome: Outcome,
    /// The source address vnet's listener saw, when it was vnet's listener.
    pub peer: Option<IpAddr>,
}

/// Who answered a TCP or UDP check that connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Listener {
    /// vnet's own listener, opened for the check because nobody listened there.
    Vnet,
    /// A service of the lab's own (or vnet's listener was not where the connection went).
    Lab,
}

impl Result {
    pub(crate) fn listener(&self) -> Option<Listener> {
        self.outcome.reached().then_some(if self.peer.is_some() {
            Listener::Vnet
        } else {
            Listener::Lab
        })
    }
}

type Key = (String, Proto, u16, bool);

/// Runs the probes; listeners come up first and go away at the end.
pub(crate) fn probe_all(probes: &[Probe], timing: &Timing) -> Vec<Result> {
    let token = super::icmp::random_token();
    let mut listeners: Vec<Key> = probes
        .iter()
        .filter_map(|p| {
            p.listen_at
                .as_ref()
                .map(|(ns, port)| (ns.clone(), p.proto, *port, p.dst.is_ipv4()))
        })
        .collect();
    listeners.sort();
    listeners.dedup();
    let seen: Mutex<HashMap<String, IpAddr>> = Mutex::new(HashMap::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for key in &listeners {
            let (seen, stop, ready) = (&seen, &stop, ready_tx.clone());
            s.spawn(move || listen(key, seen, stop, ready));
        }
        drop(ready_tx);
        // Every listener is bound (or knows it cannot be) before the first client connects.
        for _ in 0..listeners.len() {
            let _ = ready_rx.recv_timeout(Duration::from_secs(2));
        }
        // One socket per client: in waves, should a file have more checks than descriptors
        // to spare; the listeners stay up throughout.
        let numbered: Vec<(usize, &Probe)> = probes.iter().enumerate().collect();
        let outcomes: Vec<Outcome> = numbered
            .chunks(super::at_once(1))
            .flat_map(|wave| {
                std::thread::scope(|w| {
                    let handles: Vec<_> = wave
                        .iter()
                        .map(|(i, p)| {
                            w.spawn(move || client(p, &format!("vnet-{token:016x}-{i}"), timing))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join()
                                .unwrap_or(Outcome::Error("the probe thread panicked".into()))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        stop.store(true, Ordering::SeqCst);
        let seen = seen.lock().map(|m| m.clone()).unwrap_or_default();
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| Result {
                outcome,
                peer: seen.get(&format!("vnet-{token:016x}-{i}")).copied(),
            })
            .collect()
    })
}

fn any(v4: bool, port: u16) -> SocketAddr {
    let ip: IpAddr = if v4 {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, port)
}

/// Listens in a namespace until told to stop; records `token → peer` for each client.
fn listen(
    key: &Key,
    seen: &Mutex<HashMap<String, IpAddr>>,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<()>,
) {
    let (ns, proto, port, v4) = key;
    let entered = netns::open(ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(Into::into)
    });
    if entered.is_err() {
        let _ = ready.send(());
        return;
    }
    let note = |token: &[u8], peer: IpAddr| {
        let peer = peer.to_canonical();
        let text = String::from_utf8_lossy(token).trim().to_owned();
        // A UDP client numbers its tries (`TOKEN/2`); the client is the token.
        let text = match text.rsplit_once('/') {
            Some((client, n)) if n.parse::<u8>().is_ok() => client.to_owned(),
            _ => text,
        };
        if let Ok(mut m) = seen.lock() {
            m.insert(text, peer);
        }
    };
    match proto {
        Proto::Tcp => {
            // Someone already listens (`listen: false` or a user's service): leave it to them.
            let Ok(l) = bind(*v4, *port, socket2::Type::STREAM).map(TcpListener::from) else {
                let _ = ready.send(());
                return;
            };
            let _ = ready.send(());
            let _ = l.set_nonblocking(true);
            while !stop.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut conn, peer)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 64];
                        if let Ok(n) = conn.read(&mut buf) {
                            note(&buf[..n], peer.ip());
                            let _ = conn.write_all(&buf[..n]);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        Proto::Udp => {
            let Ok(sock) = bind(*v4, *port, socket2::Type::DGRAM).map(UdpSocket::from) else {
                let _ = ready.send(());
                return;
            };
            let _ = ready.send(());
            let _ = sock.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buf = [0u8; 64];
            while !stop.load(Ordering::SeqCst) {
                if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                    note(&buf[..n], peer.ip());
                    let _ = sock.send_to(&buf[..n], peer);
                }
            }
        }
        Proto::Icmp => {
            let _ = ready.send(());
        }
    }
}

/// A listening socket for one IP version only: an IPv6 socket that also took IPv4 would keep
/// the IPv4 listener from binding (or take its connections, as `::ffff:a.b.c.d`), depending
/// on which came first.
fn bind(v4: bool, port: u16, ty: socket2::Type) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Socket};
    let domain = if v4 { Domain::IPV4 } else { Domain::IPV6 };
    let s = Socket::new(domain, ty, None)?;
    if !v4 {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&any(v4, port).into())?;
    if ty == socket2::Type::STREAM {
        s.listen(64)?;
    }
    Ok(s)
}

fn error_outcome(e: &std::io::Error) -> Outcome {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Outcome::Refused,
        Some(libc::ETIMEDOUT | libc::EAGAIN) => Outcome::Timeout,
        _ if e.kind() == std::io::ErrorKind::TimedOut
            || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            Outcome::Timeout
        }
        _ => Outcome::send_failed(e),
    }
}

/// The handshake's round trip and how many SYNs it took, from the kernel's own count.
fn handshake(conn: &TcpStream, elapsed: Duration) -> (Duration, u8) {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain data; all-zero is a valid starting value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt fills at most `len` bytes of our own tcp_info.
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    if r != 0 || info.tcpi_total_retrans == 0 {
        return (elapsed, 1);
    }
    let tries = u8::try_from(info.tcpi_total_retrans + 1).unwrap_or(u8::MAX);
    (Duration::from_micros(u64::from(info.tcpi_rtt)), tries)
}

fn client(p: &Probe, token: &str, timing: &Timing) -> Outcome {
    let entered = netns::open(&p.src_ns).and_then(|f| {
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(Into::into)
    });
    if let Err(e) = entered {
        return Outcome::Error(format!("cannot enter {}: {e}", p.src_ns));
    }
    let total: Duration = timing.tries.iter().sum();
    let start = Instant::now();
    match p.proto {
        Proto::Tcp => {
            let mut conn = match TcpStream::connect_timeout(&p.dst, total) {
                Ok(c) => c,
                Err(e) => return error_outcome(&e),
            };
            let (rtt, try_no) = handshake(&conn, start.elapsed());
            // Tell our listener who this is; an echo proves the connection reached it.
            let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = conn.write_all(token.as_bytes());
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
            Outcome::Reply { rtt, try_no }
        }
        Proto::Udp => {
            let Ok(sock) = UdpSocket::bind(any(p.dst.is_ipv4(), 0)) else {
                return Outcome::Error("cannot open a UDP socket".into());
            };
            if let Err(e) = sock.connect(p.dst) {
                return error_outcome(&e);
            }
            let mut buf = [0u8; 96];
            let mut sent = Vec::new();
            for wait in &timing.tries {
                sent.push(Instant::now());
                let payload = format!("{token}/{}", sent.len());
                if let Err(e) = sock.send(payload.as_bytes()) {
                    return error_outcome(&e);
                }
                let deadline = Instant::now() + *wait;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    let _ = sock.set_read_timeout(Some(left.max(Duration::from_millis(1))));
                    match sock.recv(&mut buf) {
                        Ok(n) => {
                            // The echo of one of our tries: timed from that try.
                            let text = String::from_utf8_lossy(&buf[..n]);
                            let answered = text
                                .strip_prefix(token)
                                .and_then(|t| t.strip_prefix('/'))
                                .and_then(|t| t.parse::<usize>().ok());
                            if let Some(k) = answered.filter(|k| (1..=sent.len()).contains(k)) {
                                return Outcome::Reply {
                                    rtt: sent[k - 1].elapsed(),
                                    try_no: u8::try_from(k).unwrap_or(u8::MAX),
                                };
                            }
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                            return Outcome::Refused;
                        }
                        Err(_) => break,
                    }
                }
            }
            Outcome::Timeout
        }
        Proto::Icmp => Outcome::Error("not a transport check".into()),
    }
}
