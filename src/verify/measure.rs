//! Checks that measure: the median round trip and the loss of [`PROBES`] echo requests, the
//! throughput of a short bulk TCP transfer from the source to vnet's own listener at the
//! target (both sockets made in their namespaces, in process), and `within:` retries.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::icmp::{self, Outcome};
use super::{Row, Status};
use crate::apply::netns;
use crate::model::measure::{Bound, Cmp, Measure, PROBES, TRANSFER_MS};
use crate::model::{Check, Lab, impair};

/// What a measuring check measured, as its row reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Measured {
    /// The median round trip of the answered echo requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_median_ms: Option<f64>,
    /// The share of echo requests that went unanswered, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<f64>,
    /// How many echo requests were sent for `rtt_median_ms` and `loss_percent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<u32>,
    /// The TCP transfer's throughput, in Mbit/s (of the fastest, when a lower bound took
    /// several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_mbit: Option<f64>,
    /// How many transfers `rate_mbit` was the best of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfers: Option<u32>,
    /// With `within:`: seconds from the first try until the check held (absent: it never did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_after_s: Option<f64>,
    /// With `within:`: how many times the check was tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

impl Measured {
    /// Whether the row measured something (its `got` is then the measurement, and the
    /// round trip of the probe that found the way is not what it reports).
    pub(crate) fn measuring(&self) -> bool {
        self.rtt_median_ms.is_some() || self.loss_percent.is_some() || self.rate_mbit.is_some()
    }
}

/// `(< 60ms)`, `(<= 5%)`, `(>= 9mbit)`: a bound as the file writes it.
fn labels(m: &Measure) -> (Option<String>, Option<String>, Option<String>) {
    (
        m.rtt_us
            .map(|b| format!("{} {}", b.op.as_str(), impair::time(b.value * 1000))),
        m.loss_ppb
            .map(|b| format!("{} {}", b.op.as_str(), impair::percent(b.value as u32))),
        m.rate_bps
            .map(|b| format!("{} {}", b.op.as_str(), impair::rate(b.value))),
    )
}

/// Measures what the check bounds on one row that reached, and judges the row by the bounds.
/// Its `got` becomes the measurement, each quantity with the bound it was held to.
pub(crate) fn judge(lab: &Lab, c: &Check, m: &Measure, mut row: Row) -> Row {
    let (rtt_label, loss_label, rate_label) = labels(m);
    let said: Vec<String> = [
        rtt_label.as_ref().map(|l| format!("rtt {l}")),
        loss_label.as_ref().map(|l| format!("loss {l}")),
        rate_label.as_ref().map(|l| format!("rate {l}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Said also when the check did not reach: the row still says what it was to measure.
    let said = said.join(", ");
    row.expect_text = if row.expect_text.is_empty() {
        said
    } else {
        format!("{}, {said}", row.expect_text)
    };
    if !(row.pass && row.expect) {
        return row;
    }
    let ns = lab.netns(c.from);
    let mut words = Vec::new();
    let mut fails = Vec::new();
    let bounded = |label: &Option<String>| {
        label
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default()
    };
    if m.rtt_us.is_some() || m.loss_ppb.is_some() {
        match echo(&ns, row.address, PROBES) {
            Err(e) => return errored(row, format!("probe could not run: {e}")),
            Ok(rtts) => {
                let lost = PROBES - rtts.len() as u32;
                let loss = f64::from(lost) * 100.0 / f64::from(PROBES);
                row.measured.probes = Some(PROBES);
                row.measured.loss_percent = Some(loss);
                if let Some(b) = m.loss_ppb
                    && !b.op.holds(loss, b.value as f64 / 1e7)
                {
                    fails.push("loss");
                }
                let median = median(&rtts);
                if let Some(med) = median {
                    row.measured.rtt_median_ms = Some(round3(med));
                }
                if let Some(b) = m.rtt_us
                    && median.is_none_or(|med| !b.op.holds(med, b.value as f64 / 1000.0))
                {
                    fails.push("rtt");
                }
                match median {
                    Some(med) => words.push(format!(
                        "rtt {} ms{}",
                        ms_against(med, m.rtt_us),
                        bounded(&rtt_label)
                    )),
                    None if m.rtt_us.is_some() => words.push(format!(
                        "rtt unknown: no echo answered{}",
                        bounded(&rtt_label)
                    )),
                    None => {}
                }
                words.push(format!("{lost}/{PROBES} lost{}", bounded(&loss_label)));
            }
        }
    }
    if let Some(b) = m.rate_bps {
        match best_transfer(b, || transfer(lab, c, row.address)) {
            Err(e) => return errored(row, format!("transfer could not run: {e}")),
            Ok((
                Transfer {
                    bits_per_s: bps,
                    seconds,
                },
                tries,
            )) => {
                row.measured.rate_mbit = Some(round3(bps / 1e6));
                row.measured.transfers = Some(tries);
                row.method = super::Method::Tcp;
                row.layer = 4;
                let best = if tries > 1 {
                    format!(", the best of {tries} transfers")
                } else {
                    String::new()
                };
                words.push(format!(
                    "{} over {seconds:.1} s{best}{}",
                    rate_against(bps, b),
                    bounded(&rate_label)
                ));
                if !rate_holds(b, bps) {
                    fails.push("rate");
                }
            }
        }
    }
    row.got = words.join(", ");
    if fails.is_empty() {
        row
    } else {
        row.judged(Status::Fail)
    }
}

/// `12.10`: a measured time in milliseconds, with more places where two would make it read
/// as on the other side of its bound (`19.997` against `< 20ms`, not `20.00`).
fn ms_against(ms: f64, bound: Option<Bound>) -> String {
    let judged = |shown: f64| bound.map(|b| b.op.holds(shown, b.value as f64 / 1000.0));
    (2..=5)
        .map(|places| format!("{ms:.places$}"))
        .find(|s| s.parse().ok().map(judged) == Some(judged(ms)))
        .unwrap_or_else(|| format!("{ms}"))
}

/// A measured rate in the unit that reads best, with three significant digits (`512 bit/s`,
/// `19.8 kbit/s`, `9.61 Mbit/s`, `1.20 Gbit/s`), and more places where three would make it
/// read as on the other side of its bound (`9.569 Mbit/s` against `>= 9.57mbit`, not `9.57`).
fn rate_against(bps: f64, b: Bound) -> String {
    let holds = rate_holds(b, bps);
    (0..=4)
        .map(|more| rate_with_places(bps, more))
        .find(|(_, shown)| rate_holds(b, *shown) == holds)
        .map_or_else(|| format!("{bps:.0} bit/s"), |(words, _)| words)
}

/// The words, and the rate they say (in bit/s), with `more` places than three digits take.
fn rate_with_places(bps: f64, more: usize) -> (String, f64) {
    let (scale, unit) = if bps >= 1e9 {
        (1e9, "Gbit/s")
    } else if bps >= 1e6 {
        (1e6, "Mbit/s")
    } else if bps >= 1e3 {
        (1e3, "kbit/s")
    } else {
        (1.0, "bit/s")
    };
    let value = bps / scale;
    let places = more
        + if scale == 1.0 || value >= 99.95 {
            0
        } else if value >= 9.995 {
            1
        } else {
            2
        };
    let text = format!("{value:.places$}");
    let shown = text.parse::<f64>().unwrap_or(value) * scale;
    (format!("{text} {unit}"), shown)
}

fn rate_holds(b: Bound, bps: f64) -> bool {
    b.op.holds(bps, b.value as f64)
}

/// How many transfers a lower bound on a rate gets before it fails.
const RATE_TRIES: u32 = 3;

/// The transfer a rate bound is judged by, and how many were made. A lower bound (`>=`,
/// `>`) says the link can carry that much, which one transfer proves: one that falls short
/// may have been starved of CPU by the rest of the machine, not held back by the link, so it
/// is tried again, up to [`RATE_TRIES`] in all, and the fastest counts. An upper bound says
/// the link never carries more: one transfer over it is the answer, and one under it is
/// taken as it is.
fn best_transfer(
    b: Bound,
    mut once: impl FnMut() -> io::Result<Transfer>,
) -> io::Result<(Transfer, u32)> {
    let lower = matches!(b.op, Cmp::Ge | Cmp::Gt);
    let mut best = once()?;
    let mut tries = 1;
    while lower && tries < RATE_TRIES && !rate_holds(b, best.bits_per_s) {
        tries += 1;
        match once() {
            Ok(t) if t.bits_per_s > best.bits_per_s => best = t,
            Ok(_) => {}
            // The first transfer ran: a later one that cannot is not the link's answer.
            Err(_) => break,
        }
    }
    Ok((best, tries))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn errored(mut row: Row, why: String) -> Row {
    row.got = why;
    row.judged(Status::Error)
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// `n` echo requests one after the other, each waited for up to a second: the round trips
/// (ms) of those answered.
pub(crate) fn echo(ns: &str, dst: IpAddr, n: u32) -> io::Result<Vec<f64>> {
    let timing = icmp::Timing {
        tries: vec![Duration::from_secs(1)],
    };
    let mut rtts = Vec::new();
    for _ in 0..n {
        match icmp::probe_all(&[(ns.to_owned(), dst)], &timing).pop() {
            Some(Outcome::Reply { rtt, .. }) => rtts.push(rtt.as_secs_f64() * 1000.0),
            Some(Outcome::Error(e)) => return Err(io::Error::other(e)),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(rtts)
}

/// A bulk TCP transfer of [`TRANSFER_MS`] from the check's source to a listener of vnet's
/// in the namespace that owns the address; the throughput the receiver saw, in bits/s (from
/// its first byte to the sender's end, queued bytes drained included).
fn transfer(lab: &Lab, c: &Check, dst: IpAddr) -> io::Result<Transfer> {
    let owner = lab.owner(dst).ok_or_else(|| {
        io::Error::other(format!(
            "{dst} is no node's of the lab: vnet has no listener there"
        ))
    })?;
    let at = netns::open(&lab.netns(owner))?;
    let listener = netns::in_netns(&at, || {
        TcpListener::bind(SocketAddr::new(dst, c.port.unwrap_or(0)))
    })??;
    let addr = listener.local_addr()?;
    let from = netns::open(&lab.netns(c.from))?;
    let stream = netns::in_netns(&from, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(3))
    })??;
    measure_between(listener, stream, Duration::from_millis(TRANSFER_MS))
}

/// What a transfer measured: the receiver's rate over the window it counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub bits_per_s: f64,
    /// The window the rate was counted over, from the first byte.
    pub seconds: f64,
}

/// A slow link's window grows until it holds this much, or [`LONGEST`] is reached.
const ENOUGH_BYTES: u64 = 32 << 10;
/// The longest a transfer lasts, however slow the link.
const LONGEST: Duration = Duration::from_secs(10);
/// How often blocked reads and writes look at the clock.
const TICK: Duration = Duration::from_millis(100);

/// Sends on `stream` while `listener`'s accepted end counts what arrives: from the first byte
/// for `length` (longer on a link too slow to fill [`ENOUGH_BYTES`] in that time, up to
/// [`LONGEST`]). The receiver then closes, and the sender stops: bytes still queued on a slow
/// link are not waited for.
///
/// The window starts at the first byte, slow start and all: a window begun later would count
/// as just arrived the bytes a receiver held back behind a lost segment (slow start overshoots
/// a shaped link's queue) and releases when the segment is sent again, over the link's rate.
pub(crate) fn measure_between(
    listener: TcpListener,
    mut stream: TcpStream,
    length: Duration,
) -> io::Result<Transfer> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let counted = receive(&listener, length);
            done.store(true, Ordering::SeqCst);
            counted
        });
        let chunk = vec![0x5a_u8; 64 << 10];
        let start = Instant::now();
        stream.set_write_timeout(Some(TICK))?;
        let mut sent = Ok(());
        while !done.load(Ordering::SeqCst) && start.elapsed() < LONGEST + length {
            match stream.write(&chunk) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) if done.load(Ordering::SeqCst) => break,
                Err(e) => {
                    sent = Err(e);
                    break;
                }
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let got = receiver
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the receiver panicked")));
        match (got, sent) {
            (Ok(t), _) => Ok(t),
            (Err(e), Ok(())) => Err(e),
            (Err(_), Err(e)) => Err(e),
        }
    })
}

/// The receiving end of [`measure_between`].
fn receive(listener: &TcpListener, length: Duration) -> io::Result<Transfer> {
    let (mut conn, _) = listener.accept()?;
    conn.set_read_timeout(Some(TICK))?;
    let mut buf = vec![0u8; 128 << 10];
    let accepted = Instant::now();
    let mut first: Option<Instant> = None;
    // From the first read: when, and the bytes counted since.
    let mut window: Option<(Instant, u64)> = None;
    let mut last = None;
    loop {
        let now = Instant::now();
        match (first, window) {
            (None, _) if now - accepted > LONGEST => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no byte arrived in {} s", LONGEST.as_secs()),
                ));
            }
            (Some(f), Some((from, bytes)))
                if now - from >= length && (bytes >= ENOUGH_BYTES || now - f >= LONGEST) =>
            {
                break;
            }
            (Some(f), None) if now - f >= LONGEST => break,
            _ => {}
        }
        let n = match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n as u64,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let at = Instant::now();
        first.get_or_insert(at);
        match &mut window {
            Some((_, bytes)) => {
                *bytes += n;
                last = Some(at);
            }
            // The first read starts the window; its bytes came before it.
            None => window = Some((at, 0)),
        }
    }
    Ok(match (window, last) {
        (Some((from, bytes)), Some(to)) if to > from => {
            let seconds = (to - from).as_secs_f64();
            Transfer {
                bits_per_s: bytes as f64 * 8.0 / seconds,
                seconds,
            }
        }
        // Too little arrived to time it.
        _ => Transfer {
            bits_per_s: 0.0,
            seconds: first.map_or(0.0, |f| f.elapsed().as_secs_f64()),
        },
    })
}

/// Tries the check every half second (one try at a time, each with one quick probe) until
/// every row passes or `limit` is over; the rows of the last try, stamped with when it held.
pub(super) fn until_it_holds(
    lab: &Lab,
    c: &Check,
    limit: Duration,
    timing: &icmp::Timing,
) -> Vec<Row> {
    let start = Instant::now();
    let quick = icmp::Timing {
        tries: vec![Duration::from_millis(500)],
    };
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last = start.elapsed() >= limit;
        // The last try gets the usual retries: a verdict of "no" is then as sure as ever.
        let t = if last { timing } else { &quick };
        let mut v = super::probe_checks(lab, std::slice::from_ref(c), t);
        let held = !v.rows.is_empty() && v.rows.iter().all(|r| r.pass);
        if held || last {
            for r in &mut v.rows {
                r.measured.attempts = Some(attempts);
                if held {
                    r.measured.held_after_s =
                        Some((start.elapsed().as_secs_f64() * 10.0).round() / 10.0);
                    r.got = format!(
                        "{} (held after {:.1} s)",
                        r.got,
                        start.elapsed().as_secs_f64()
                    );
                } else {
                    r.got = format!(
                        "{} (not within {:.1} s, {attempts} tries)",
                        r.got,
                        limit.as_secs_f64()
                    );
                }
            }
            return v.rows;
        }
        std::thread::sleep(Duration::from_millis(500).min(limit.saturating_sub(start.elapsed())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_in_words(bps: f64) -> String {
        rate_with_places(bps, 0).0
    }

    fn at(mbit: f64) -> io::Result<Transfer> {
        Ok(Transfer {
            bits_per_s: mbit * 1e6,
            seconds: 1.5,
        })
    }

    fn bound(op: Cmp, mbit: u64) -> Bound {
        Bound {
            op,
            value: mbit * 1_000_000,
        }
    }

    #[test]
    fn a_lower_bound_short_of_its_rate_is_tried_again_and_the_fastest_counts() {
        let mut got = vec![at(7.0), at(9.6), at(8.1)].into_iter();
        let (t, tries) = best_transfer(bound(Cmp::Ge, 9), || got.next().unwrap()).unwrap();
        assert_eq!((t.bits_per_s, tries), (9.6e6, 2));
        // Short every time: three transfers, the best of them reported, still short.
        let mut got = vec![at(7.0), at(8.5), at(8.1), at(99.0)].into_iter();
        let (t, tries) = best_transfer(bound(Cmp::Ge, 9), || got.next().unwrap()).unwrap();
        assert_eq!((t.bits_per_s, tries), (8.5e6, 3));
        // Held at once: one transfer.
        let mut got = vec![at(9.6), at(1.0)].into_iter();
        let (_, tries) = best_transfer(bound(Cmp::Gt, 9), || got.next().unwrap()).unwrap();
        assert_eq!(tries, 1);
    }

    #[test]
    fn an_upper_bound_is_judged_by_one_transfer() {
        let mut got = vec![at(11.5), at(9.6)].into_iter();
        let (t, tries) = best_transfer(bound(Cmp::Lt, 11), || got.next().unwrap()).unwrap();
        assert_eq!((t.bits_per_s, tries), (11.5e6, 1));
    }

    #[test]
    fn a_first_transfer_that_cannot_run_is_the_error_a_later_one_is_not() {
        let mut got = vec![Err(io::Error::other("refused"))].into_iter();
        assert!(best_transfer(bound(Cmp::Ge, 9), || got.next().unwrap()).is_err());
        let mut got = vec![at(7.0), Err(io::Error::other("refused"))].into_iter();
        let (t, tries) = best_transfer(bound(Cmp::Ge, 9), || got.next().unwrap()).unwrap();
        assert_eq!((t.bits_per_s, tries), (7.0e6, 2));
    }

    #[test]
    fn rates_read_in_the_unit_that_fits() {
        assert_eq!(rate_in_words(20_000.0), "20.0 kbit/s");
        assert_eq!(rate_in_words(19_840.0), "19.8 kbit/s");
        assert_eq!(rate_in_words(512_000.0), "512 kbit/s");
        assert_eq!(rate_in_words(999_000.0), "999 kbit/s");
        assert_eq!(rate_in_words(9_612_000.0), "9.61 Mbit/s");
        assert_eq!(rate_in_words(96_120_000.0), "96.1 Mbit/s");
        assert_eq!(rate_in_words(1_204_000_000.0), "1.20 Gbit/s");
        assert_eq!(rate_in_words(0.0), "0 bit/s");
    }

    #[test]
    fn a_measurement_never_reads_as_on_the_other_side_of_its_bound() {
        let ge = |mbit_x100: u64| Bound {
            op: Cmp::Ge,
            value: mbit_x100 * 10_000,
        };
        assert_eq!(rate_against(9_569_000.0, ge(957)), "9.569 Mbit/s");
        assert_eq!(rate_against(9_612_000.0, ge(900)), "9.61 Mbit/s");
        assert_eq!(rate_against(9_570_000.0, ge(957)), "9.57 Mbit/s");
        let lt_ms = |ms: u64| Bound {
            op: Cmp::Lt,
            value: ms * 1000,
        };
        assert_eq!(ms_against(19.997, Some(lt_ms(20))), "19.997");
        assert_eq!(ms_against(12.104, Some(lt_ms(20))), "12.10");
        assert_eq!(ms_against(20.001, Some(lt_ms(20))), "20.00");
        assert_eq!(ms_against(12.104, None), "12.10");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn a_transfer_over_loopback_is_counted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let t = measure_between(l, s, Duration::from_millis(100)).unwrap();
        assert!(t.bits_per_s > 1e6, "{t:?}");
        assert!(t.seconds >= 0.1 && t.seconds < 1.0, "{t:?}");
    }
}
