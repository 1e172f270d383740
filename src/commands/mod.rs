//! Glue between the command line and the pipeline; each subcommand is a file.

use std::path::Path;

use miette::Report;

use crate::cli::{Cli, Command};
use crate::model::feature::Feature;
use crate::state::LabName;
use crate::topology::{self, LoadError, Loaded};

mod capture;
pub(crate) mod ci;
mod doctor;
mod down;
pub(crate) mod error;
mod exec;
mod explain;
mod fault;
mod generate;
mod graph;
pub(crate) mod json;
mod machine_subnets;
pub(crate) mod progress;
mod running;
mod status;
mod up;
mod validate;
pub(crate) mod verify;

/// Exit codes, part of the interface.
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const FAILED: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const INVALID: u8 = 3;
    pub(crate) const SYSTEM: u8 = 4;
}

pub(crate) use error::Error;

pub(crate) type Outcome = Result<u8, Error>;

pub(crate) fn dispatch(cli: Cli) -> Outcome {
    let json = match &cli.command {
        Command::Verify { json, .. }
        | Command::Status { json, .. }
        | Command::Test { json, .. }
        | Command::Validate { json, .. }
        | Command::Plan { json, .. }
        | Command::Up { json, .. }
        | Command::Down { json, .. }
        | Command::Gen { json, .. }
        | Command::Explain { json, .. }
        | Command::Doctor { json } => *json,
        _ => false,
    };
    crate::JSON_ON_STDOUT.store(json, std::sync::atomic::Ordering::Relaxed);
    // The reports of `--junit FILE` and GitHub Actions, for the commands that probe.
    let reports = match &cli.command {
        Command::Verify { lab, junit, .. } => ci::Reports::new(
            format!("vnet verify {lab}"),
            junit.clone(),
            cli.no_annotations,
        ),
        Command::Test { file, junit, .. } => ci::Reports::new(
            format!("vnet test {}", file.display()),
            junit.clone(),
            cli.no_annotations,
        ),
        _ => ci::Reports::default(),
    };
    let no_annotations = cli.no_annotations;
    let outcome = run_command(cli, &reports);
    if let Err(e) = &outcome {
        // A failure is reported where CI looks: the JUnit file, the annotations, and with
        // `--json` a document on stdout unless the command printed its own.
        match reports.failed(e) {
            Ok(()) => ci::annotate_unreported(e, no_annotations, &reports),
            Err(report) => crate::errln!("{:?}", Report::new(report)),
        }
        if json && !crate::JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed) {
            crate::jsonln!(json::error_document(e));
        }
    }
    outcome
}

fn run_command(cli: Cli, reports: &ci::Reports) -> Outcome {
    match cli.command {
        Command::Validate { file, json } => validate::validate(&file, json),
        Command::Plan {
            file,
            vlan_mode,
            json,
        } => validate::plan(&file, vlan_mode, json),
        Command::Up {
            file,
            progress,
            vlan_mode,
            allow_machine_nat,
            allow_machine_routes,
            json,
        } => up::up(
            &file,
            progress,
            vlan_mode,
            up::Allowed {
                nat: allow_machine_nat,
                routes: allow_machine_routes,
            },
            json,
        ),
        Command::Verify {
            lab,
            all_pairs,
            json,
            full,
            stages,
            progress,
            junit: _,
        } => verify::verify(
            &lab,
            all_pairs,
            verify::Show {
                json,
                full,
                progress,
                stages,
            },
            reports,
        ),
        Command::Status { lab, json, all } => status::status(lab.as_deref(), json, all),
        Command::Exec { target, command } => exec::exec(&target, &command),
        Command::Explain {
            lab,
            from,
            to,
            proto,
            port,
            json,
        } => explain::explain(&lab, &from, &to, proto, port, json),
        Command::Graph {
            lab,
            format,
            output,
        } => graph::graph(&lab, format, output.as_deref()),
        Command::Capture {
            target,
            write,
            format,
            count,
            timeout,
        } => capture::capture(
            &target,
            write.as_deref(),
            format,
            crate::verify::capture::Limits { count, timeout },
        ),
        Command::Down {
            lab,
            all,
            progress,
            json,
        } => {
            let watch = progress::DeletionWatch::start(progress);
            let done = down::down(lab.as_deref(), all, json);
            watch.finish();
            done
        }
        Command::Test {
            file,
            all_pairs,
            json,
            full,
            progress,
            vlan_mode,
            allow_machine_nat,
            allow_machine_routes,
            junit: _,
        } => up::test(
            &file,
            all_pairs,
            verify::Show {
                json,
                full,
                progress,
                stages: true,
            },
            vlan_mode,
            up::Allowed {
                nat: allow_machine_nat,
                routes: allow_machine_routes,
            },
            reports,
        ),
        Command::Doctor { json } => doctor::doctor(json),
        Command::Impair {
            lab,
            end,
            delay,
            jitter,
            loss,
            duplicate,
            reorder,
            corrupt,
            rate,
            clear,
        } => fault::impair(
            &lab,
            &end,
            &fault::Settings {
                delay,
                jitter,
                loss,
                duplicate,
                reorder,
                corrupt,
                rate,
            },
            clear,
        ),
        Command::Link {
            lab,
            end,
            state,
            every,
            times,
        } => fault::link(&lab, &end, &state, every.as_deref(), times),
        Command::Attack {
            attack:
                crate::cli::AttackKind::ArpSpoof {
                    lab,
                    attacker,
                    claim,
                    to,
                    rounds,
                },
        } => fault::arp_spoof(&lab, &attacker, claim, &to, rounds),
        Command::Gen { shape, json } => generate::generate(&shape, json),
        Command::Export {
            file,
            script: _,
            batch,
            down,
            vlan_mode,
        } => generate::export(&file, batch, down, vlan_mode),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "vnet", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Schema { of } => {
            use std::io::Write as _;
            let _ = write!(std::io::stdout(), "{}", json::schema(of));
            Ok(exit::OK)
        }
    }
}

/// Loads a topology, printing its warnings; a bad file is exit code 3.
pub(crate) fn load(file: &Path) -> Result<Loaded, Error> {
    match topology::load(file) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                crate::errln!("{:?}", Report::new(w.clone()));
            }
            Ok(loaded)
        }
        Err(LoadError::Read { file, error }) => Err(Error::Read { file, error }),
        Err(LoadError::Syntax(report)) => Err(Error::Syntax(error::Reported(report))),
        Err(LoadError::Invalid(invalid)) => Err(Error::Invalid(invalid)),
    }
}

/// The features the lab needs that this kernel lacks, as diagnostics at the topology's lines
/// (warnings when `warn`). Probing takes root; without it nothing is said.
pub(crate) fn missing_features(
    loaded: &topology::Loaded,
    file: &Path,
    native_vlans: bool,
    warn: bool,
) -> Vec<topology::Problem> {
    if !nix::unistd::geteuid().is_root() {
        return Vec::new();
    }
    let needs = topology::needs::needs(&loaded.lab, native_vlans);
    let features: Vec<_> = needs.iter().map(|n| n.feature).collect();
    let src = miette::NamedSource::new(file.display().to_string(), loaded.source.clone());
    let mut problems = topology::diag::Problems::new(src);
    for (feature, probe) in crate::apply::probe::missing(&features) {
        let Some(need) = needs.iter().find(|n| n.feature == feature) else {
            continue;
        };
        let config = feature.config().unwrap_or("the needed option");
        let mut p = problems
            .new_problem("kernel_feature", format!("this kernel lacks {} ({config})", feature.name()))
            .label(need.at, format!("{} needs it", need.what))
            .help(match feature {
                Feature::BridgeVlanFiltering | Feature::Vlan => format!(
                    "use `--vlan-mode emulated` (a bridge per VLAN: the same behaviour, no tags on the wire), or a kernel with {config}"
                ),
                _ => probe.hint.unwrap_or_else(|| probe.detail.clone()),
            });
        if warn {
            p = p.warning();
        }
        problems.push(p);
    }
    problems.list
}

/// vnet changes the kernel's network configuration: that takes root.
pub(crate) fn require_root() -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(Error::NotRoot)
}

/// A lab named on the command line: a running lab's name, or a topology file that names one.
/// Anything else (`..`, `""`, a name with `/`) is a usage error before any path is built.
pub(crate) fn lab_name(arg: &str) -> Result<LabName, Error> {
    let path = Path::new(arg);
    let looks_like_file = arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/');
    let from_file = |path: &Path| -> Result<LabName, Error> {
        let lab = load(path)?.lab;
        name_of(&lab)
    };
    if looks_like_file {
        if path.is_file() {
            return from_file(path);
        }
        return Err(Error::NotALab { arg: shown(arg) });
    }
    match LabName::new(arg) {
        Ok(name) if path.is_file() && !crate::state::is_running(&name) => from_file(path),
        Ok(name) => Ok(name),
        Err(_) if path.is_file() => from_file(path),
        Err(why) => Err(Error::BadLabName {
            arg: shown(arg),
            why,
        }),
    }
}

/// A lab's own name (a topology's, valid by construction) as a [`LabName`].
pub(crate) fn name_of(lab: &crate::model::Lab) -> Result<LabName, Error> {
    LabName::new(&lab.name).map_err(|why| Error::BadLabName {
        arg: shown(&lab.name),
        why,
    })
}

/// An argument as the user typed it, quoted, and cut short if it is long.
pub(super) fn shown(arg: &str) -> String {
    let cut: String = arg.chars().take(40).collect();
    if cut.len() < arg.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

pub(crate) fn installed_signal_handlers() {
    extern "C" fn on_signal(_: libc::c_int) {
        crate::apply::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_signal),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SIGHUP too: a closed terminal rolls back like Ctrl-C.
    for sig in [
        nix::sys::signal::SIGINT,
        nix::sys::signal::SIGTERM,
        nix::sys::signal::SIGHUP,
    ] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &action) };
    }
}
