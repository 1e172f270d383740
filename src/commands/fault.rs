//! `vnet impair` and `vnet link`: faults made in a running lab, recorded in its state so that
//! `status` shows them and what differs from the file.

use std::time::Duration;

use super::{Error, Outcome, exit, require_root};
use crate::model::impair::{self, Chance, Impair, Jitter};
use crate::model::{Lab, LinkKind};
use crate::plan::shape::Shape;
use crate::state;

/// The settings `vnet impair` takes, as typed.
#[derive(Debug, Default)]
pub(super) struct Settings {
    pub delay: Option<String>,
    pub jitter: Option<String>,
    pub loss: Option<String>,
    pub duplicate: Option<String>,
    pub reorder: Option<String>,
    pub corrupt: Option<String>,
    pub rate: Option<String>,
}

impl Settings {
    fn impair(&self) -> Result<Impair, Error> {
        let bad = |what: &str, e: String| Error::Usage(format!("--{what}: {e}"));
        let chance = |what: &str, v: &Option<String>| -> Result<Option<Chance>, Error> {
            v.as_deref()
                .map(|t| impair::parse_chance(t).map_err(|e| bad(what, e)))
                .transpose()
        };
        let i = Impair {
            delay_ns: self
                .delay
                .as_deref()
                .map(|t| impair::parse_time(t).map_err(|e| bad("delay", e)))
                .transpose()?,
            jitter: self
                .jitter
                .as_deref()
                .map(|t| {
                    impair::parse_jitter(t)
                        .map(|(ns, c)| Jitter {
                            ns,
                            correlation_ppb: c,
                            distribution: Default::default(),
                        })
                        .map_err(|e| bad("jitter", e))
                })
                .transpose()?,
            loss: chance("loss", &self.loss)?,
            duplicate: chance("duplicate", &self.duplicate)?,
            reorder: chance("reorder", &self.reorder)?,
            corrupt: chance("corrupt", &self.corrupt)?,
            rate_bps: self
                .rate
                .as_deref()
                .map(|t| impair::parse_rate(t).map_err(|e| bad("rate", e)))
                .transpose()?,
        };
        if i.is_empty() {
            return Err(Error::Usage(
                "say what to impair (--delay, --jitter, --loss, --duplicate, --reorder, --corrupt, --rate), or --clear".into(),
            ));
        }
        // The file's rule, so that a lab cannot be impaired by hand in a way its file refuses.
        if let Some((why, _)) = i.problem() {
            return Err(Error::Usage(format!(
                "{why}; give --delay too, like `--delay 10ms`"
            )));
        }
        Ok(i)
    }
}

/// The running lab's record, locked, and the veth end `node:iface` names.
fn target(
    lab: &str,
    end: &str,
) -> Result<(state::LabName, state::Lock, state::Record, usize), Error> {
    let (node, iface) = split_end(end)?;
    require_root()?;
    let name = super::lab_name(lab)?;
    let lock = state::Lock::take(&name).map_err(|_| Error::Busy {
        lab: name.to_string(),
    })?;
    let record = state::read_record(&name).map_err(|_| Error::NotRunning {
        lab: name.to_string(),
    })?;
    let Some(n) = record.lab.node_index(node) else {
        return Err(no_such_node(&name, &record.lab, node));
    };
    if !linked(&record.lab, n, iface) {
        return Err(Error::Usage(format!(
            "{} is not an end of a veth link of lab `{name}`",
            super::shown(end)
        )));
    }
    Ok((name, lock, record, n))
}

/// `NODE:IFACE` split, or the usage error that says it is not one (before anything needs
/// root, so a typo is told at once).
fn split_end(end: &str) -> Result<(&str, &str), Error> {
    end.split_once(':')
        .filter(|(n, i)| !n.is_empty() && !i.is_empty())
        .ok_or_else(|| Error::Usage(format!("{} is not NODE:IFACE", super::shown(end))))
}

fn no_such_node(lab_name: &state::LabName, lab: &Lab, node: &str) -> Error {
    Error::NoSuchNode {
        lab: lab_name.to_string(),
        node: super::shown(node),
        known: lab
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn linked(lab: &Lab, node: usize, iface: &str) -> bool {
    lab.nodes[node].name != crate::model::MACHINE
        && lab.links.iter().any(|l| {
            l.kind == LinkKind::Veth
                && [&l.a, &l.b]
                    .iter()
                    .any(|e| e.node == node && e.iface == iface)
        })
}

fn mtu_of(lab: &Lab, node: usize, iface: &str) -> u32 {
    lab.links
        .iter()
        .find(|l| {
            [&l.a, &l.b]
                .iter()
                .any(|e| e.node == node && e.iface == iface)
        })
        .and_then(|l| l.mtu)
        .unwrap_or(1500)
}

fn save(name: &state::LabName, record: &state::Record) -> Result<(), Error> {
    let dir = state::lab_dir(name);
    state::write_record(&dir, record).map_err(|error| Error::State {
        what: "record the runtime change",
        dir: dir.display().to_string(),
        error,
    })
}

/// `vnet impair LAB NODE:IFACE [--delay ..] ... | --clear`.
pub(super) fn impair(lab: &str, end: &str, settings: &Settings, clear: bool) -> Outcome {
    let wanted = if clear {
        None
    } else {
        Some(settings.impair()?)
    };
    let (name, _lock, mut record, n) = target(lab, end)?;
    // Asked before the old qdiscs go: a kernel without netem keeps what the interface had.
    if let Some(i) = &wanted {
        use crate::model::feature::Feature;
        let needed: Vec<Feature> = [
            (i.needs_netem(), Feature::Netem),
            (i.rate_bps.is_some(), Feature::Tbf),
        ]
        .into_iter()
        .filter_map(|(needed, f)| needed.then_some(f))
        .collect();
        if let Some((f, probe)) = crate::apply::probe::missing(&needed).into_iter().next() {
            return Err(Error::KernelLacks {
                feature: f.name().to_string(),
                config: f.config().unwrap_or("the needed option").to_string(),
                detail: probe.detail,
            });
        }
    }
    let iface = end.split_once(':').map_or("", |(_, i)| i);
    let ns = record.lab.netns(n);
    let shape = wanted
        .as_ref()
        .map(|i| Shape::of(i, mtu_of(&record.lab, n, iface)));
    if let Err(failed) = crate::apply::act::set_impair(&ns, iface, shape.as_ref()) {
        let hint = crate::apply::errno::hint(&failed.step, &failed.error);
        // The old qdiscs go first: a refused new one leaves the device with its default.
        let rolled = if matches!(*failed.step, crate::plan::Step::Impair { .. }) {
            record.runtime.impair.insert(end.to_owned(), None);
            save(&name, &record)?;
            format!("{end} is left with no impairment")
        } else {
            format!("{end} is unchanged")
        };
        return Err(Error::Kernel {
            failed,
            rolled,
            hint,
        });
    }
    match (&wanted, &shape) {
        (Some(i), Some(s)) => {
            crate::outln!("{end}: {i}");
            for line in s.tc_lines(&ns, iface) {
                crate::outln!("  {line}");
            }
        }
        _ => crate::outln!("{end}: no impairment (tc -n {ns} qdisc del dev {iface} root)"),
    }
    record.runtime.impair.insert(end.to_owned(), wanted);
    save(&name, &record)?;
    Ok(exit::OK)
}

/// The shortest gap of a flap: below it the kernel's carrier and the neighbours never see
/// the link settle either way, and a loop of netlink calls is all it would be.
const SHORTEST_FLAP: Duration = Duration::from_millis(10);

/// What `vnet link` was asked, checked before anything needs root or touches the lab.
fn link_request(
    state_word: &str,
    every: Option<&str>,
    times: u32,
) -> Result<(bool, Option<Duration>), Error> {
    let up = match state_word {
        "up" => true,
        "down" => false,
        other => {
            return Err(Error::Usage(format!(
                "{} is neither `up` nor `down`",
                super::shown(other)
            )));
        }
    };
    let Some(every) = every else {
        return Ok((up, None));
    };
    let gap = flap_every(every)?;
    if up {
        return Err(Error::Usage(
            "a flap takes the link down first and leaves it up: write `down --every ...` (`up` takes no --every)".into(),
        ));
    }
    if gap < SHORTEST_FLAP {
        return Err(Error::Usage(format!(
            "--every {}: a flap's gap is at least {}",
            crate::model::impair::time(gap.as_nanos() as u64),
            crate::model::impair::time(SHORTEST_FLAP.as_nanos() as u64)
        )));
    }
    if times == 0 {
        return Err(Error::Usage(
            "--times 0: a flap goes down and up at least once (--times 1)".into(),
        ));
    }
    Ok((up, Some(gap)))
}

/// Sleeps `gap`, or less when a signal asks to stop: whether it was asked.
fn wait_unless_interrupted(gap: Duration) -> bool {
    use std::sync::atomic::Ordering;
    let until = std::time::Instant::now() + gap;
    loop {
        if crate::apply::INTERRUPTED.load(Ordering::SeqCst) {
            return true;
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// `--every`: a wait, written as the file's durations are (`500ms`, `2s`, `2m`; not tc's
/// times, which stop at a minute), and more than nothing.
fn flap_every(text: &str) -> Result<Duration, Error> {
    match crate::topology::schema::parse_duration(text) {
        Some(0) => Err(Error::Usage("--every must be more than 0".into())),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(Error::Usage(format!(
            "--every: {} is not a duration (500ms, 2s, 2m, 1h)",
            super::shown(text)
        ))),
    }
}

/// `vnet link LAB NODE:IFACE down|up [--every 2s --times N]`: with `--every`, a flap: down,
/// wait, up, wait, N times, ending up. Ctrl-C, SIGTERM or SIGHUP end a flap with the link up.
pub(super) fn link(
    lab: &str,
    end: &str,
    state_word: &str,
    every: Option<&str>,
    times: u32,
) -> Outcome {
    let (up, every) = link_request(state_word, every, times)?;
    let (name, _lock, mut record, n) = target(lab, end)?;
    let iface = end.split_once(':').map_or("", |(_, i)| i).to_owned();
    let ns = record.lab.netns(n);
    let set = |up: bool| -> Result<(), Error> {
        crate::apply::act::set_link(&record.lab, n, &iface, up).map_err(|error| {
            let step = crate::plan::Step::LinkUp {
                ns: ns.clone(),
                dev: iface.clone(),
            };
            let failed = crate::apply::StepError::new(&step, error);
            let hint = crate::apply::errno::hint(&failed.step, &failed.error);
            Error::Kernel {
                failed,
                rolled: String::new(),
                hint,
            }
        })
    };
    let Some(gap) = every else {
        set(up)?;
        crate::outln!("{end}: {state_word}");
        if up {
            record.runtime.down.remove(end);
        } else {
            record.runtime.down.insert(end.to_owned());
        }
        save(&name, &record)?;
        return Ok(exit::OK);
    };
    // Before the first change: a signal from then on still finds the link put back up.
    super::installed_signal_handlers();
    let mut interrupted = false;
    for i in 1..=times {
        set(false)?;
        crate::outln!("{end}: down ({i}/{times})");
        if wait_unless_interrupted(gap) {
            interrupted = true;
            break;
        }
        set(true)?;
        crate::outln!("{end}: up ({i}/{times})");
        if i < times && wait_unless_interrupted(gap) {
            interrupted = true;
            break;
        }
    }
    if interrupted {
        set(true)?;
    }
    record.runtime.down.remove(end);
    save(&name, &record)?;
    if interrupted {
        crate::outln!("{end}: up (the flap was interrupted)");
        return Err(Error::Interrupted {
            rolled: format!("the flap of {end} stopped; the link was left up"),
        });
    }
    Ok(exit::OK)
}

/// `vnet attack arp-spoof LAB ATTACKER --claim IP --to VICTIM [--rounds N]`: what the
/// `arp_spoof` stage action does, on a running lab, from the command line.
pub(super) fn arp_spoof(
    lab: &str,
    attacker: &str,
    claim: std::net::Ipv4Addr,
    victim: &str,
    rounds: u16,
) -> Outcome {
    require_root()?;
    let name = super::lab_name(lab)?;
    let record = state::read_record(&name).map_err(|_| Error::NotRunning {
        lab: name.to_string(),
    })?;
    let node = |n: &str| {
        record
            .lab
            .node_index(n)
            .ok_or_else(|| no_such_node(&name, &record.lab, n))
    };
    let (from, to) = (node(attacker)?, node(victim)?);
    let spoof =
        crate::model::attack::arp_spoof(&record.lab, from, claim.into(), to).map_err(|r| {
            Error::Usage(match r.help {
                Some(help) => format!("{}: {}; {help}", r.message, r.label),
                None => format!("{}: {}", r.message, r.label),
            })
        })?;
    let done =
        crate::apply::act::arp_spoof(&record.lab, from, claim, to, &spoof, usize::from(rounds))
            .map_err(|error| Error::Attack {
                what: format!("ARP spoofing from {attacker} to {victim}"),
                error,
            })?;
    crate::outln!("{done}");
    Ok(exit::OK)
}

/// A stage's link or impairment action, recorded as `vnet link` and `vnet impair` record
/// theirs, so that `status` shows the lab as the scenario left it.
pub(super) fn remember(lab: &Lab, action: &crate::model::Action) {
    use crate::model::Action;
    let Ok(name) = state::LabName::new(&lab.name) else {
        return;
    };
    let Ok(mut record) = state::read_record(&name) else {
        return;
    };
    match action {
        Action::Link {
            node, iface, up, ..
        } => {
            let end = format!("{}:{iface}", lab.nodes[*node].name);
            if *up {
                record.runtime.down.remove(&end);
            } else {
                record.runtime.down.insert(end);
            }
        }
        Action::Impair {
            node,
            iface,
            impair,
            ..
        } => {
            let end = format!("{}:{iface}", lab.nodes[*node].name);
            record.runtime.impair.insert(end, impair.clone());
        }
        Action::ArpSpoof { .. } | Action::Exec { .. } => return,
    }
    if let Err(e) = save(&name, &record) {
        crate::errln!("vnet: warning: {e}");
    }
}

/// What the file has `end` (`node:iface`) send through its qdiscs: `None` when nothing.
pub(super) fn file_impair(lab: &Lab, end: &str) -> Option<Impair> {
    let (node, iface) = end.split_once(':')?;
    let n = lab.node_index(node)?;
    lab.links.iter().find_map(|l| {
        let imp = l.impair.as_ref()?;
        [(&l.a, &imp.a), (&l.b, &imp.b)]
            .into_iter()
            .find(|(e, _)| e.node == n && e.iface == iface)
            .and_then(|(_, i)| i.clone())
    })
}

/// Whether what `end` sends now, as recorded, is other than what the file has it send: an
/// impairment set to the file's own settings, or cleared where the file has none, is not.
pub(super) fn differs_from_file(lab: &Lab, end: &str, now: Option<&Impair>) -> bool {
    let plain = |i: Option<Impair>| i.filter(|i| !i.is_empty());
    plain(now.cloned()) != plain(file_impair(lab, end))
}

/// What differs from the file, in words, for `status`.
pub(super) fn differences(lab: &Lab, runtime: &state::Runtime) -> Vec<String> {
    let mut out = Vec::new();
    for (end, now) in &runtime.impair {
        if !differs_from_file(lab, end, now.as_ref()) {
            continue;
        }
        match now.as_ref().filter(|i| !i.is_empty()) {
            Some(i) => out.push(format!("{end}: impaired at runtime: {i}")),
            None => out.push(format!("{end}: impairment cleared at runtime")),
        }
    }
    for end in &runtime.down {
        out.push(format!("{end}: down (taken down at runtime)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        let text = b"name: st
nodes:
  a: {interfaces: {eth0: 10.9.0.1/24}}
  b: {interfaces: {eth0: 10.9.0.2/24}}
  c: {interfaces: {eth0: 10.9.1.1/24}}
  d: {interfaces: {eth0: 10.9.1.2/24}}
links:
  - {endpoints: [a:eth0, b:eth0], impair: {delay: 10ms, rate: 1mbit}}
  - [c:eth0, d:eth0]
";
        crate::topology::parse("st.yaml", "st", text).unwrap().lab
    }

    fn parsed(delay: &str, rate: &str) -> Impair {
        Impair {
            delay_ns: Some(impair::parse_time(delay).unwrap()),
            rate_bps: Some(impair::parse_rate(rate).unwrap()),
            ..Impair::default()
        }
    }

    #[test]
    fn only_what_is_not_the_files_differs_from_the_file() {
        let lab = lab();
        let mut rt = state::Runtime::default();
        // The file's own settings, typed again; a clear where the file has nothing.
        rt.impair
            .insert("a:eth0".into(), Some(parsed("10ms", "1000kbit")));
        rt.impair.insert("c:eth0".into(), None);
        rt.impair.insert("d:eth0".into(), Some(Impair::default()));
        assert_eq!(differences(&lab, &rt), Vec::<String>::new());
        // Other settings, and the file's cleared.
        rt.impair
            .insert("a:eth0".into(), Some(parsed("20ms", "1mbit")));
        rt.impair.insert("b:eth0".into(), None);
        rt.down.insert("c:eth0".into());
        assert_eq!(
            differences(&lab, &rt),
            [
                "a:eth0: impaired at runtime: delay 20ms rate 1mbit",
                "b:eth0: impairment cleared at runtime",
                "c:eth0: down (taken down at runtime)",
            ]
        );
    }

    fn settings(f: impl FnOnce(&mut Settings)) -> Result<Impair, String> {
        let mut s = Settings::default();
        f(&mut s);
        s.impair().map_err(|e| e.to_string())
    }

    /// `vnet impair` reads its values as the file does, and refuses what the file refuses.
    #[test]
    fn the_command_line_takes_the_files_values_and_rules() {
        let i = settings(|s| {
            s.rate = Some("10 mbit".into());
            s.jitter = Some("5 ms 25 %".into());
            s.delay = Some("40 ms".into());
        })
        .unwrap();
        assert_eq!(i.rate_bps, Some(10_000_000));
        assert_eq!(i.jitter.map(|j| j.ns), Some(5_000_000));
        let e = settings(|s| {
            s.delay = Some("0ms".into());
            s.reorder = Some("25%".into());
        })
        .unwrap_err();
        assert!(e.contains("`reorder` needs a `delay`"), "{e}");
        let e = settings(|s| s.jitter = Some("5ms".into())).unwrap_err();
        assert!(e.contains("`jitter` varies a `delay`"), "{e}");
    }

    /// `--every` waits as long as the file's durations say, minutes too, but never nothing.
    #[test]
    fn a_flap_waits_a_duration() {
        assert_eq!(flap_every("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(flap_every("500ms").ok(), Some(Duration::from_millis(500)));
        assert!(flap_every("0s").is_err());
        assert!(flap_every("40").is_err());
    }
}
