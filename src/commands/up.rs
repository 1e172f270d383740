use std::path::Path;
use std::time::Instant;

use super::progress::{Lap, Reporter};
use super::{Error, Outcome, exit, load, require_root};
use crate::apply::{self, ApplyError, netlink::NetlinkBackend, netns};
use crate::cli::{Progress, VlanModeArg};
use crate::journal::{Header, Journal};
use crate::model::Lab;
use crate::plan::{Step, VlanMode};
use crate::state;
use crate::teardown;
use crate::topology::Problem;
use crate::topology::diag::{Refusal, Refused};

/// What the user allowed a lab to change on the machine itself.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Allowed {
    /// `--allow-machine-nat`
    pub nat: bool,
    /// `--allow-machine-routes`
    pub routes: bool,
}

pub(super) fn up(
    file: &Path,
    progress: Progress,
    vlan: VlanModeArg,
    allowed: Allowed,
    json: bool,
) -> Outcome {
    let mut clock = Lap::start();
    let loaded = load(file)?;
    require_root()?;
    super::installed_signal_handlers();
    let mode = choose_vlan_mode(&loaded.lab, vlan)?;
    kernel_can_build(&loaded, file, mode)?;
    machine_changes_allowed(&loaded, file, allowed)?;
    clock.lap("read, checked", 0);
    let built = bring_up(&loaded, file, progress, mode, allowed)?;
    if json {
        crate::jsonln!(built_document(&loaded.lab, file, mode, &built));
    }
    Ok(exit::OK)
}

/// What `up` made and how long it took, for `--json`.
#[derive(Debug, Default)]
pub(super) struct Built {
    pub steps: usize,
    /// Each stage: its name, its steps, and how long it took.
    pub stages: Vec<(String, usize, f64)>,
    pub seconds: f64,
}

fn built_document(lab: &Lab, file: &Path, mode: VlanMode, built: &Built) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = (0..lab.nodes.len())
        .map(|i| {
            let n = &lab.nodes[i];
            serde_json::json!({
                "name": n.name,
                "kind": if lab.on_machine(i) { "machine" } else { n.kind.as_str() },
                "namespace": lab.netns(i),
            })
        })
        .collect();
    let stages: Vec<serde_json::Value> = built
        .stages
        .iter()
        .map(|(name, steps, seconds)| serde_json::json!({"name": name, "steps": steps, "seconds": seconds}))
        .collect();
    serde_json::json!({
        "version": super::verify::JSON_VERSION,
        "lab": lab.name,
        "file": file.display().to_string(),
        "vlan_mode": crate::plan::uses_vlans(lab).then(|| mode.as_str()),
        "nodes": nodes,
        "links": lab.links.len(),
        "steps": built.steps,
        "stages": stages,
        "seconds": built.seconds,
        "ok": true,
        "exit": exit::OK,
    })
}

pub(super) fn test(
    file: &Path,
    all_pairs: bool,
    show: super::verify::Show,
    vlan: VlanModeArg,
    allowed: Allowed,
    reports: &super::ci::Reports,
) -> Outcome {
    let progress = show.progress;
    let mut clock = Lap::start();
    let loaded = load(file)?;
    require_root()?;
    super::installed_signal_handlers();
    let lab = &loaded.lab;
    let mode = choose_vlan_mode(lab, vlan)?;
    kernel_can_build(&loaded, file, mode)?;
    machine_changes_allowed(&loaded, file, allowed)?;
    clock.lap("read, checked", 0);
    bring_up(&loaded, file, progress, mode, allowed)?;
    clock.lap("up", 0);
    // From here on the lab exists: whatever happens, it is torn down before we return.
    let verdict = if apply::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        None
    } else {
        let probed = super::verify::run_and_print(lab, all_pairs, show);
        let shown = file.display().to_string();
        let src = crate::report::cases::Source {
            file: &shown,
            text: Some(&loaded.source),
        };
        // Written before `down`: the report is there even if tearing down fails.
        Some(super::verify::report(reports, lab, src, &probed))
    };
    clock.lap("verify", 0);
    let watch = super::progress::DeletionWatch::start(progress);
    let down = super::down::down_one(&super::name_of(lab)?);
    watch.finish();
    clock.lap("down", 0);
    down?;
    match verdict {
        None => Err(Error::Interrupted {
            rolled: "the lab was torn down".into(),
        }),
        Some(outcome) => outcome,
    }
}

/// Refuses, before anything is created, a lab that needs what this kernel lacks: each missing
/// feature pointed at the line of the topology that needs it.
fn kernel_can_build(
    loaded: &crate::topology::Loaded,
    file: &Path,
    mode: VlanMode,
) -> Result<(), Error> {
    let gaps = super::missing_features(loaded, file, mode == VlanMode::Native, false);
    refuse_if_any(file, Refusal::KernelLacks, gaps)
}

fn refuse_if_any(file: &Path, why: Refusal, problems: Vec<Problem>) -> Result<(), Error> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(Refused {
        file: file.display().to_string(),
        why,
        problems,
    }))
}

/// What the lab would change on the machine beyond its own links is refused, each change at
/// its line, unless the user allowed it: NAT (`--allow-machine-nat`) and routes that take
/// over the machine's default route (`--allow-machine-routes`).
fn machine_changes_allowed(
    loaded: &crate::topology::Loaded,
    file: &Path,
    allowed: Allowed,
) -> Result<(), Error> {
    let mut problems = machine_nat_problems(loaded, file, allowed.nat);
    if !allowed.routes {
        problems.extend(loaded.machine_routes.iter().cloned());
        problems.extend(machine_subnet_problems(loaded, file)?);
    }
    refuse_if_any(file, Refusal::ChangesMachine, problems)
}

/// `host:`'s addresses against the machine's, as the kernel has them now.
fn machine_subnet_problems(
    loaded: &crate::topology::Loaded,
    file: &Path,
) -> Result<Vec<Problem>, Error> {
    super::machine_subnets::clashes(loaded, file).map_err(Error::Netlink)
}

/// [`state::Lock::machine_addresses`], waited for: another `up` holds it while it builds.
fn machine_addresses_lock() -> Result<state::Lock, Error> {
    state::Lock::waited(
        state::Lock::machine_addresses,
        std::time::Duration::from_secs(120),
        "the lock of the machine's addresses",
    )
    .map_err(|error| Error::State {
        what: "wait for another vnet's links to the machine",
        dir: state::root().display().to_string(),
        error,
    })
}

/// NAT on `host` changes the machine's own firewall and forwarding: only when asked for with
/// `--allow-machine-nat`, and only out of interfaces the machine has (a misspelt uplink would
/// otherwise translate nothing, silently).
fn machine_nat_problems(
    loaded: &crate::topology::Loaded,
    file: &Path,
    allowed: bool,
) -> Vec<Problem> {
    let Some(host) = crate::plan::machine_nat(&loaded.lab) else {
        return Vec::new();
    };
    let Some(nat) = &host.nat else {
        return Vec::new();
    };
    let src = miette::NamedSource::new(file.display().to_string(), loaded.source.clone());
    let mut problems = crate::topology::diag::Problems::new(src);
    if !allowed {
        let p = problems
            .new_problem(
                "machine_nat",
                "NAT on `host` adds a table to the machine's own nftables ruleset and turns on its IPv4 forwarding",
            )
            .label(nat.at, "translates on the machine")
            .help(
                "add `--allow-machine-nat` if that is what you want; `vnet down` removes the table and puts forwarding back",
            );
        problems.push(p);
    } else {
        let present = apply::destroy::machine_interfaces().unwrap_or_default();
        let declared = |n: &str| host.interfaces.iter().any(|i| i.name == n);
        let mut named: Vec<&str> = nat.masquerade.iter().map(String::as_str).collect();
        named.extend(nat.publish.iter().map(|p| p.on.as_str()));
        named.sort();
        named.dedup();
        for name in named
            .into_iter()
            .filter(|n| !declared(n) && !present.iter().any(|p| p == n))
        {
            let p = problems
                .new_problem(
                    "machine_nat",
                    format!("the machine has no interface `{name}`"),
                )
                .label(nat.at, format!("translates through `{name}`"))
                .help(format!("the machine's interfaces: {}", present.join(", ")));
            problems.push(p);
        }
    }
    problems.list
}

/// Native 802.1Q when the kernel has it (or when asked), else the emulation; said out loud.
fn choose_vlan_mode(lab: &Lab, requested: VlanModeArg) -> Result<VlanMode, Error> {
    if !crate::plan::uses_vlans(lab) {
        return Ok(VlanMode::Native);
    }
    let mode = match requested {
        // Checked with the lab's other needs, so the refusal points at the switch.
        VlanModeArg::Native => VlanMode::Native,
        VlanModeArg::Emulated => VlanMode::Emulated,
        VlanModeArg::Auto => match apply::probe::native_vlans_missing() {
            None => VlanMode::Native,
            Some(_) => VlanMode::Emulated,
        },
    };
    crate::errln!("vnet: VLAN mode: {}", mode.as_str());
    Ok(mode)
}

fn bring_up(
    loaded: &crate::topology::Loaded,
    file: &Path,
    progress: Progress,
    mode: VlanMode,
    allowed: Allowed,
) -> Result<Built, Error> {
    let lab = &loaded.lab;
    let started = Instant::now();
    let name = super::name_of(lab)?;
    let lock = super::down::lock(&name)?;
    if state::is_running(&name) {
        let from = state::read_record(&name)
            .map(|r| r.file)
            .unwrap_or_else(|_| "?".into());
        return Err(Error::AlreadyRunning {
            lab: lab.name.clone(),
            from,
        });
    }
    for i in 0..lab.nodes.len() {
        let ns = lab.netns(i);
        if !crate::model::Netns::of(&ns).is_machine() && matches!(netns::inode(&ns), Ok(Some(_))) {
            return Err(Error::NetnsExists { ns });
        }
    }
    if let Some(machine) = lab.node_index(crate::model::MACHINE) {
        // Links that end on the machine get the names the topology gives them: never reuse one.
        for link in &lab.links {
            for e in [&link.a, &link.b].into_iter().filter(|e| e.node == machine) {
                if nix::net::if_::if_nametoindex(e.iface.as_str()).is_ok() {
                    return Err(Error::InterfaceExists {
                        name: e.iface.clone(),
                    });
                }
            }
        }
    }
    // Checked again with the lock held until the lab's own addresses are on the machine: two
    // labs brought up at once must not both find a subnet free.
    let _machine_addresses = match lab.node_index(crate::model::MACHINE) {
        Some(_) if !allowed.routes => {
            let lock = machine_addresses_lock()?;
            refuse_if_any(
                file,
                Refusal::ChangesMachine,
                machine_subnet_problems(loaded, file)?,
            )?;
            Some(lock)
        }
        _ => None,
    };
    let dir = state::lab_dir(&name);
    if let Some(state::Proof::None(why)) = state::proof(&name) {
        return Err(Error::StaleState {
            lab: name.to_string(),
            dir: dir.display().to_string(),
            why,
        });
    }
    let io_fail = |what: &'static str, error: std::io::Error| Error::State {
        what,
        dir: dir.display().to_string(),
        error,
    };
    std::fs::create_dir_all(state::root()).map_err(|e| io_fail("create the state directory", e))?;
    std::fs::create_dir(&dir).map_err(|e| io_fail("create the lab's state", e))?;
    let file_text = std::fs::canonicalize(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string();
    let now = state::now();
    let mut journal = Journal::create(
        &dir,
        Header {
            lab: lab.name.clone(),
            file: file_text.clone(),
            vnet: env!("CARGO_PKG_VERSION").into(),
            started: now,
            format: crate::journal::FORMAT,
        },
    )
    .map_err(|e| io_fail("start the journal", e))?;
    let mut record = state::Record {
        file: file_text,
        started: now,
        vlan_mode: crate::plan::uses_vlans(lab).then_some(mode),
        digest: Some(state::digest(loaded.source.as_bytes())),
        lab: lab.clone(),
        runtime: state::Runtime::default(),
        processes: Vec::new(),
    };
    state::write_record(&dir, &record).map_err(|e| io_fail("write the lab record", e))?;

    let plan = crate::plan::plan(lab, mode);
    let mut reporter = Reporter::new(progress, plan.len() as u64, &lab.name);
    let mut backend = NetlinkBackend::new(dir.join(state::EXEC_LOG)).map_err(Error::Netlink)?;
    let mut built = Built {
        steps: plan.len(),
        ..Built::default()
    };
    let mut lap = Instant::now();
    let result = apply::run(&plan, &mut backend, &mut journal, &mut |stage, n| {
        reporter.stage(stage, n);
        built
            .stages
            .push((stage.to_owned(), n, lap.elapsed().as_secs_f64()));
        lap = Instant::now();
        pause_for_fault_injection(stage);
    });
    let result = result.map(|()| {
        // The kernel finishes links and spanning tree on its own time: wait for it, so that
        // the first probe meets a finished lab.
        if plan
            .steps()
            .any(|s| matches!(s, Step::AddBridge { stp: true, .. }))
        {
            crate::errln!("vnet: waiting for spanning tree to settle (two forward delays, 4 s)");
        }
        match apply::ready::wait(&plan, READY_WITHIN) {
            Ok(took) if took > std::time::Duration::from_secs(1) => crate::errln!(
                "vnet: the lab carried traffic {:.1} s after its last step",
                took.as_secs_f64()
            ),
            Ok(took) if std::env::var_os("VNET_TIMING").is_some() => crate::errln!(
                "vnet: timing: ready after {:.1} ms",
                took.as_secs_f64() * 1e3
            ),
            Ok(_) => {}
            Err(waiting) => crate::errln!(
                "vnet: warning: {} s after its last step the lab is still not ready: {}",
                READY_WITHIN.as_secs(),
                waiting.join("; ")
            ),
        }
    });
    reporter.finish();
    drop(journal);
    // What `exec:` left running, so that `status` can tell when one of them has gone.
    if result.is_ok() && lab.nodes.iter().any(|n| !n.exec.is_empty()) {
        record.processes = crate::apply::procs::snapshot(lab);
        if let Err(e) = state::write_record(&dir, &record) {
            crate::errln!("vnet: warning: cannot record the processes `exec:` left running: {e}");
        }
    }
    match result {
        Ok(()) => {
            drop(lock);
            crate::outln!(
                "{}",
                super::status::nodes_listing(
                    lab,
                    false,
                    &format!("`vnet status {} --all` lists every one", lab.name)
                )
            );
            crate::outln!(
                "lab `{}` is up: {} nodes, {} links, {} steps in {:.2} s",
                lab.name,
                lab.nodes.len(),
                lab.links.len(),
                plan.len(),
                started.elapsed().as_secs_f64()
            );
            built.seconds = started.elapsed().as_secs_f64();
            Ok(built)
        }
        Err(err) => {
            let rollback = teardown::teardown(&dir, &name, &mut backend);
            if rollback.is_ok() {
                let _ = state::remove_lab_state(&name);
            }
            let rolled = match &rollback {
                Ok(_) => "everything vnet created was removed again".to_string(),
                Err(f) => format!(
                    "rolling back also failed ({}); run `vnet down {}`",
                    f.failures
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                    lab.name
                ),
            };
            drop(lock);
            Err(match err {
                ApplyError::Step(failed) => Error::Kernel {
                    hint: failed.hint(),
                    failed,
                    rolled,
                },
                ApplyError::Journal(error) => Error::Journal { error, rolled },
                ApplyError::Interrupted => Error::Interrupted { rolled },
            })
        }
    }
}

/// How long `up` waits for the kernel to finish what it started (links coming up, spanning
/// tree settling: two forward delays of 2 s each).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Crash-safety tests stop `up` between stages to kill it there: `VNET_PAUSE_AFTER=links`
/// makes it announce the pause on stderr and wait (up to a minute, or until Ctrl-C).
fn pause_for_fault_injection(stage: &str) {
    if std::env::var("VNET_PAUSE_AFTER").ok().as_deref() != Some(stage) {
        return;
    }
    crate::errln!("vnet: paused after {stage}");
    let until = Instant::now() + std::time::Duration::from_secs(60);
    while Instant::now() < until && !apply::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> crate::topology::Loaded {
        crate::topology::parse("lab.yaml", "lab", text.as_bytes()).unwrap()
    }

    fn refusal(text: &str, allowed: Allowed) -> Option<String> {
        let l = loaded(text);
        match machine_changes_allowed(&l, Path::new("lab.yaml"), allowed) {
            Ok(()) => None,
            Err(f) => {
                assert_eq!(f.exit_code(), super::super::exit::SYSTEM);
                let mut out = String::new();
                let _ = miette::GraphicalReportHandler::new_themed(
                    miette::GraphicalTheme::unicode_nocolor(),
                )
                .with_width(200)
                .render_report(&mut out, &f);
                Some(out)
            }
        }
    }

    const TAKEOVER: &str = "nodes:\n  host:\n    interfaces: {vnet0: 10.9.0.1/24}\n    routes:\n      - {to: default, via: 10.9.0.2}\n      - {to: 0.0.0.0/1, via: 10.9.0.2}\n      - {to: 10.0.0.0/8, via: 10.9.0.2}\n  r1: {kind: router, interfaces: {eth0: 10.9.0.2/24}}\nlinks:\n  - [host:vnet0, r1:eth0]\n";

    #[test]
    fn routes_that_take_over_the_machine_are_refused_unless_allowed() {
        let shown = refusal(TAKEOVER, Allowed::default()).expect("refused");
        assert!(
            shown.contains("this lab would change the machine itself"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "a default route on `host` replaces the machine's own IPv4 default route"
            ),
            "{shown}"
        );
        assert!(shown.contains("lab.yaml:5:14"), "{shown}");
        assert!(
            shown.contains(
                "the route to 0.0.0.0/1 on `host` takes over the machine's default route in effect"
            ),
            "{shown}"
        );
        // A /8 is a route to part of the lab, not a takeover.
        assert_eq!(shown.matches("vnet::machine_route").count(), 2, "{shown}");
        assert_eq!(
            refusal(
                TAKEOVER,
                Allowed {
                    nat: false,
                    routes: true
                }
            ),
            None
        );
    }

    #[test]
    fn routes_to_the_lab_on_the_machine_need_no_flag_and_short_prefixes_do() {
        let text = TAKEOVER
            .replace("default", "10.1.0.0/16")
            .replace("0.0.0.0/1", "10.2.0.0/16");
        assert_eq!(refusal(&text, Allowed::default()), None);
        let v6 = "nodes:\n  host:\n    interfaces: {vnet0: fd00:9::1/64}\n    routes: [{to: '2000::/3', via: 'fd00:9::2'}, {to: 'fd00::/16', via: 'fd00:9::2'}]\n  r1: {kind: router, interfaces: {eth0: fd00:9::2/64}}\nlinks:\n  - [host:vnet0, r1:eth0]\n";
        let shown = refusal(v6, Allowed::default()).expect("2000::/3 is refused");
        assert!(shown.contains("the route to 2000::/3"), "{shown}");
        assert_eq!(shown.matches("vnet::machine_route").count(), 1, "{shown}");
    }
}
