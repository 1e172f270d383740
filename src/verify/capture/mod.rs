//! `vnet capture`: frames on a node's interfaces as they cross them, read with packet
//! sockets opened inside the node's namespace (no tcpdump in the lab, nor on the machine),
//! written as a pcap or pcapng file or as one line per frame. Several interfaces are watched at once
//! and their frames merged in the order the kernel stamped them.

use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::apply::netns;
use crate::apply::packet::{self, ETH_P_ALL, PacketSocket};

pub(crate) mod decode;
pub(crate) mod pcap;
pub(crate) mod pcapng;

/// An interface to watch: `node:iface` as typed, and the namespace it is in (`""`: the
/// machine's own).
#[derive(Debug, Clone)]
pub(crate) struct Tap {
    pub label: String,
    pub ns: String,
    pub iface: String,
}

/// Why an interface cannot be watched.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The namespace has no interface of that name.
    NoInterface,
    Namespace(io::Error),
    Socket(io::Error),
}

/// A packet socket on `tap`'s interface, opened inside its namespace; it keeps reading
/// there after the thread that opened it is gone.
pub(crate) fn open(tap: &Tap) -> Result<PacketSocket, OpenError> {
    let here = || {
        let s = PacketSocket::open(Some(&tap.iface), ETH_P_ALL, true).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENODEV) {
                OpenError::NoInterface
            } else {
                OpenError::Socket(e)
            }
        })?;
        s.stamp().map_err(OpenError::Socket)?;
        Ok(s)
    };
    if crate::model::Netns::of(&tap.ns).is_machine() {
        return here();
    }
    let file = netns::open(&tap.ns).map_err(OpenError::Namespace)?;
    netns::in_netns(&file, here).map_err(OpenError::Namespace)?
}

/// What is written for each frame.
pub(crate) enum Format {
    /// A pcap file: its header first, then a record per frame.
    Pcap,
    /// A pcapng file: its section, an interface per tap, then each frame on its interface.
    Pcapng,
    /// One line per frame; with the interface's label when several are watched.
    Lines { labelled: bool },
}

/// When to stop, besides Ctrl-C.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub count: Option<u64>,
    pub timeout: Option<Duration>,
}

/// Why the capture ended, and what it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Count,
    Timeout,
    Interrupted,
    /// The reader went away (`vnet capture -w - | head -c 100`).
    OutputClosed,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub frames: u64,
    pub ended: Ended,
}

/// A frame waiting to be written: ordered by stamp, oldest first out of the heap.
struct Held {
    at: SystemTime,
    tap: usize,
    seq: u64,
    data: Vec<u8>,
    wire_len: usize,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// A frame stays this long before it is written, so that one stamped earlier on another
/// interface, but read later, still comes first.
const HOLD: Duration = Duration::from_millis(30);

/// Watches `sockets` (one per tap, in order) until a limit is reached, `stop` is set, or the
/// output closes; writes every frame to `out` in stamp order. The output is flushed whenever
/// the interfaces are quiet, so a pipe's reader sees frames as they come.
pub(crate) fn run(
    taps: &[Tap],
    sockets: &[PacketSocket],
    format: &Format,
    limits: Limits,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> io::Result<Summary> {
    match format {
        Format::Pcap => pcap::header(out)?,
        Format::Pcapng => {
            let names: Vec<&str> = taps.iter().map(|t| t.label.as_str()).collect();
            pcapng::header(out, &names)?;
        }
        Format::Lines { .. } => {}
    }
    out.flush()?;
    let deadline = limits.timeout.map(|t| Instant::now() + t);
    let refs: Vec<&PacketSocket> = sockets.iter().collect();
    let mut held = BinaryHeap::new();
    let mut buf = vec![0u8; pcap::SNAPLEN as usize];
    let (mut seq, mut written, mut taken) = (0u64, 0u64, 0u64);
    let want = limits.count.unwrap_or(u64::MAX);
    let ended = loop {
        if stop.load(Ordering::SeqCst) {
            break Ended::Interrupted;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            break Ended::Timeout;
        }
        let wait = left.map_or(100, |l| l.as_millis().clamp(1, 100) as i32);
        let wait = if held.is_empty() { wait } else { wait.min(10) };
        let ready = packet::wait_any(&refs, wait);
        for (tap, socket) in sockets.iter().enumerate() {
            if !ready[tap] {
                continue;
            }
            while taken < want
                && let Some(c) = socket.recv_captured(&mut buf)
            {
                held.push(Held {
                    at: c.at,
                    tap,
                    seq,
                    data: buf[..c.len].to_vec(),
                    wire_len: c.wire_len,
                });
                seq += 1;
                taken += 1;
            }
        }
        let ripe = SystemTime::now() - HOLD;
        let all = taken >= want;
        while held.peek().is_some_and(|h| all || h.at <= ripe) {
            let Some(h) = held.pop() else { break };
            if emit(out, format, taps, &h).is_err() {
                return Ok(Summary {
                    frames: written,
                    ended: Ended::OutputClosed,
                });
            }
            written += 1;
        }
        if all {
            break Ended::Count;
        }
        if held.is_empty() && out.flush().is_err() {
            return Ok(Summary {
                frames: written,
                ended: Ended::OutputClosed,
            });
        }
    };
    let mut ended = ended;
    while let Some(h) = held.pop() {
        if emit(out, format, taps, &h).is_err() {
            ended = Ended::OutputClosed;
            break;
        }
        written += 1;
    }
    if out.flush().is_err() {
        ended = Ended::OutputClosed;
    }
    Ok(Summary {
        frames: written,
        ended,
    })
}

fn emit(out: &mut dyn Write, format: &Format, taps: &[Tap], h: &Held) -> io::Result<()> {
    match format {
        Format::Pcap => pcap::record(out, h.at, &h.data, h.wire_len),
        Format::Pcapng => pcapng::packet(out, h.tap, h.at, &h.data, h.wire_len),
        Format::Lines { labelled } => {
            let label = if *labelled {
                format!("{} ", taps[h.tap].label)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{} {label}{}",
                clock(h.at),
                decode::describe(&h.data, h.wire_len)
            )
        }
    }
}

/// `14:03:07.123456`, in the machine's local time as tcpdump prints it.
fn clock(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let offset = crate::terminal::utc_offset(secs as i64);
    let day = (secs as i64 + offset).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        since.subsec_micros()
    )
}
