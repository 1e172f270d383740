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
    require_root()?;
    let name = super::lab_name(lab)?;
    let lock = state::Lock::take(&name).map_err(|_| Error::Busy {
        lab: name.to_string(),
    })?;
    let record = state::read_record(&name).map_err(|_| Error::NotRunning {
        lab: name.to_string(),
    })?;
    let Some((node, iface)) = end.split_once(':') else {
        return Err(Error::Usage(format!(
            "`{}` is not NODE:IFACE",
            super::shown(end)
        )));
    };
    let Some(n) = record.lab.node_index(node) else {
        return Err(no_such_node(&name, &record.lab, node));
    };
    if !linked(&record.lab, n, iface) {
        return Err(Error::Usage(format!(
            "`{node}:{}` is not an end of a veth link of lab `{name}`",
            super::shown(iface)
        )));
    }
    Ok((name, lock, record, n))
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

/// `--every`: a wait, written as the file's durations are (`500ms`, `2s`, `2m`; not tc's
/// times, which stop at a minute), and more than nothing.
fn flap_every(text: &str) -> Result<Duration, Error> {
    match crate::topology::schema::parse_duration(text) {
        Some(0) => Err(Error::Usage("--every must be more than 0".into())),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Err(Error::Usage(format!(
            "--every: `{}` is not a duration (500ms, 2s, 2m, 1h)",
            super::shown(text)
        ))),
    }
}

/// `vnet link LAB NODE:IFACE down|up [--every 2s --times N]`: with `--every`, a flap: down,
/// wait, up, wait, N times, ending up.
pub(super) fn link(
    lab: &str,
    end: &str,
    state_word: &str,
    every: Option<&str>,
    times: u32,
) -> Outcome {
    let up = match state_word {
        "up" => true,
        "down" => false,
        other => {
            return Err(Error::Usage(format!(
                "`{}` is neither `up` nor `down`",
                super::shown(other)
            )));
        }
    };
    let every = every.map(flap_every).transpose()?;
    let (name, _lock, mut record, n) = target(lab, end)?;
    let iface = end.split_once(':').map_or("", |(_, i)| i).to_owned();
    let ns = record.lab.netns(n);
    let set = |up: bool| -> Result<(), Error> {
        crate::apply::act::set_link(&ns, &iface, up).map_err(|error| {
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
    match every {
        None => {
            set(up)?;
            crate::outln!("{end}: {state_word}");
            if up {
                record.runtime.down.remove(end);
            } else {
                record.runtime.down.insert(end.to_owned());
            }
        }
        Some(gap) => {
            for i in 1..=times.max(1) {
                set(false)?;
                crate::outln!("{end}: down ({i}/{times})");
                std::thread::sleep(gap);
                set(true)?;
                crate::outln!("{end}: up ({i}/{times})");
                if i < times {
                    std::thread::sleep(gap);
                }
            }
            record.runtime.down.remove(end);
        }
    }
    save(&name, &record)?;
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

/// What differs from the file, in words, for `status`.
pub(super) fn differences(record: &state::Record) -> Vec<String> {
    let mut out = Vec::new();
    for (end, now) in &record.runtime.impair {
        match now {
            Some(i) => out.push(format!("{end}: impaired at runtime: {i}")),
            None => out.push(format!("{end}: impairment cleared at runtime")),
        }
    }
    for end in &record.runtime.down {
        out.push(format!("{end}: down (taken down at runtime)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
