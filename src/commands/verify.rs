use std::path::Path;

use super::ci::Reports;
use super::progress::Reporter;
use super::{Error, Outcome, exit, load, require_root};
use crate::cli::Progress;
use crate::model::{Lab, NodeKind};
use crate::report::cases::Source;
use crate::state;
use crate::verify::{self, icmp::Timing, report};

/// Past this many rows a report shows its summary and its failures, not every row.
const TABLE_ROWS: usize = 200;
/// Past this many hosts the all-pairs matrix no longer fits a terminal.
const MATRIX_HOSTS: usize = 24;
/// Failures listed before saying how many more there are (`--full` lists them all).
const FAILURES_SHOWN: usize = 50;

/// How much of a report to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Show {
    pub json: bool,
    /// Every row however many.
    pub full: bool,
    pub progress: Progress,
    /// Run the file's `stages:` after its checks (they change the lab).
    pub stages: bool,
}

pub(crate) fn verify(arg: &str, all_pairs: bool, show: Show, reports: &Reports) -> Outcome {
    let path = Path::new(arg);
    // The checks, and the file (with its text, when it is the one the lab was built from) that
    // reports point into.
    let (lab, file, text) = if path.is_file() {
        let loaded = load(path)?;
        let changed = changed_since_up(&loaded);
        if let Some(changed) = &changed {
            crate::errln!("vnet: warning: {changed}; the checks are the file's as it is now");
        }
        (loaded.lab, arg.to_owned(), Some(loaded.source.to_string()))
    } else {
        let name = super::lab_name(arg)?;
        let record = state::read_record(&name).map_err(|_| Error::NotRunning {
            lab: name.to_string(),
        })?;
        let text = std::fs::read(&record.file)
            .ok()
            .filter(|bytes| record.digest.as_deref() == Some(&state::digest(bytes)))
            .and_then(|bytes| String::from_utf8(bytes).ok());
        (record.lab, super::ci::shown_path(&record.file), text)
    };
    require_root()?;
    if !state::is_running(&super::name_of(&lab)?) {
        return Err(Error::NotRunning {
            lab: lab.name.clone(),
        });
    }
    let probed = run_and_print(&lab, all_pairs, show);
    let src = Source {
        file: &file,
        text: text.as_deref(),
    };
    report(reports, &lab, src, &probed)
}

/// Writes the reports of a verdict; the verdict's exit code stands unless it was a pass and
/// a report could not be written.
pub(crate) fn report(reports: &Reports, lab: &Lab, src: Source<'_>, probed: &Probed) -> Outcome {
    let code = probed.tally.exit_code();
    match reports.probed(
        lab,
        src,
        probed.checks.as_ref(),
        probed.all_pairs.as_ref(),
        &probed.stages,
    ) {
        Ok(()) => Ok(code),
        Err(e) if code == exit::OK => Err(e),
        Err(e) => {
            crate::errln!("{:?}", miette::Report::new(e));
            Ok(code)
        }
    }
}

/// The verdicts of a run: what was probed, and what it came to.
#[derive(Debug)]
pub(crate) struct Probed {
    pub tally: Tally,
    pub checks: Option<verify::Verdict>,
    pub all_pairs: Option<verify::Verdict>,
    /// The stages that ran, by index: their checks' verdict, or why an action could not be done.
    pub stages: Vec<(usize, Result<verify::Verdict, String>)>,
}

/// How the file differs from the one the running lab of its name was built from, if it does.
pub(crate) fn changed_since_up(loaded: &crate::topology::Loaded) -> Option<String> {
    let name = super::name_of(&loaded.lab).ok()?;
    let record = state::read_record(&name).ok()?;
    let was = record.digest.as_deref()?;
    if was == state::digest(loaded.source.as_bytes()) {
        return None;
    }
    let what = record.lab.differences(&loaded.lab);
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(" ({})", what.join(", "))
    };
    Some(format!(
        "the file changed since lab `{name}` was built from {}{what}",
        record.file
    ))
}

/// [`changed_since_up`] for the file a running lab was built from, if it is still there.
pub(crate) fn changed_file(name: &state::LabName) -> Option<String> {
    let record = state::read_record(name).ok()?;
    let loaded = crate::topology::load(Path::new(&record.file)).ok()?;
    changed_since_up(&loaded)
}

/// What a run of checks came to.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub failed: usize,
    /// Probes that could not be carried out.
    pub errors: usize,
}

impl Tally {
    /// 1 when a check failed (the lab does not behave as the file says, whatever else went
    /// wrong), else 4 when a probe could not run (no verdict), else 0.
    pub(crate) fn exit_code(self) -> u8 {
        if self.failed > 0 {
            exit::FAILED
        } else if self.errors > 0 {
            exit::SYSTEM
        } else {
            exit::OK
        }
    }

    fn add(&mut self, v: &verify::Verdict) {
        self.failed += v.failed;
        self.errors += v.errors;
    }
}

/// The JSON document's format; fields are only ever added within one version.
pub(crate) const JSON_VERSION: u32 = 1;

/// Probes and prints (or, with `--json`, prints one document on stdout).
pub(crate) fn run_and_print(lab: &Lab, all_pairs: bool, show: Show) -> Probed {
    let timing = Timing::default();
    let mut tally = Tally::default();
    let mut probed_checks = None;
    let mut probed_pairs = None;
    let mut out = serde_json::Map::new();
    out.insert("version".into(), JSON_VERSION.into());
    out.insert("lab".into(), lab.name.clone().into());
    if !lab.checks.is_empty() || !all_pairs {
        let probing = Reporter::new(show.progress, 0, &lab.name);
        probing.spin(&format!("probing {} checks", lab.checks.len()));
        let mut v = verify::checks(lab, &timing);
        verify::explain::failed_rows(lab, &mut v.rows);
        probing.finish();
        tally.add(&v);
        if show.json {
            out.insert(
                "checks".into(),
                serde_json::to_value(&v).unwrap_or_default(),
            );
        } else if v.rows.is_empty() {
            crate::outln!("lab `{}` has no `expect:` checks", lab.name);
        } else if v.rows.len() > TABLE_ROWS && !show.full {
            crate::outln!("checks: {}", report::summary(&v));
            if !v.ok() {
                crate::outln!("{}", failures(&v));
                why(&v);
            }
        } else {
            crate::outln!("{}", report::table(&v));
            why(&v);
            crate::outln!("checks: {}", report::summary(&v));
        }
        probed_checks = Some(v);
    }
    if all_pairs {
        let hosts = (0..lab.nodes.len())
            .filter(|&n| lab.nodes[n].kind == NodeKind::Host && lab.addresses(n).next().is_some())
            .count();
        let probing = Reporter::new(show.progress, 0, &lab.name);
        probing.spin(&format!(
            "probing {} pairs of {hosts} hosts",
            hosts * hosts.saturating_sub(1)
        ));
        let mut v = verify::all_pairs(lab, &timing);
        verify::explain::failed_rows(lab, &mut v.rows);
        probing.finish();
        tally.add(&v);
        if let Some(w) = verify::neighbour_pressure(&v, lab).filter(|_| !v.ok()) {
            crate::errln!("warning: {w}");
        }
        if show.json {
            out.insert(
                "all_pairs".into(),
                serde_json::to_value(&v).unwrap_or_default(),
            );
        } else if hosts > MATRIX_HOSTS && !show.full {
            // Summary first; a matrix this wide would not fit a terminal.
            crate::outln!("all pairs: {}", report::summary(&v));
            if !v.ok() {
                crate::outln!("{}", failures(&v));
                why(&v);
            }
        } else {
            let matrix = report::matrix(&v);
            let wide = matrix.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            // A matrix cannot wrap: wider than the terminal, it is left out unless asked for.
            if show.full || crate::terminal::width().is_none_or(|w| wide <= w) {
                crate::outln!("{matrix}");
            } else {
                crate::outln!("(the all-pairs matrix is {wide} columns wide; `--full` prints it)");
            }
            if !v.ok() {
                crate::outln!("{}", report::failures(&v));
                why(&v);
            }
            crate::outln!("all pairs: {}", report::summary(&v));
        }
        probed_pairs = Some(v);
    }
    let mut staged = Vec::new();
    if show.stages && !lab.stages.is_empty() {
        let stages = run_stages(lab, show, &timing, &mut tally, &mut staged);
        out.insert("stages".into(), serde_json::Value::Array(stages));
    }
    if show.json {
        out.insert("ok".into(), (tally.failed == 0 && tally.errors == 0).into());
        out.insert("exit".into(), tally.exit_code().into());
        crate::jsonln!(serde_json::Value::Object(out));
    }
    Probed {
        tally,
        checks: probed_checks,
        all_pairs: probed_pairs,
        stages: staged,
    }
}

/// The lab's scenario, stage by stage: its actions, then its checks. An action that fails
/// ends the scenario there (what follows would test a lab other than the file's).
fn run_stages(
    lab: &Lab,
    show: Show,
    timing: &Timing,
    tally: &mut Tally,
    verdicts: &mut Vec<(usize, Result<verify::Verdict, String>)>,
) -> Vec<serde_json::Value> {
    let log = state::LabName::new(&lab.name)
        .map(|n| state::lab_dir(&n).join(state::EXEC_LOG))
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, stage) in lab.stages.iter().enumerate() {
        crate::outln!("stage {}: {}", i + 1, stage.name);
        let mut done = Vec::new();
        let mut broke = None;
        for a in &stage.actions {
            match crate::apply::act::perform(lab, a, &log) {
                Ok(what) => {
                    super::fault::remember(lab, a);
                    crate::outln!("  {what}");
                    done.push(serde_json::json!({ "did": what }));
                }
                Err(e) => {
                    crate::outln!("  could not be done: {e}");
                    done.push(serde_json::json!({ "error": e.to_string() }));
                    broke = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = broke {
            tally.errors += 1;
            verdicts.push((i, Err(e.clone())));
            // Its checks did not run: an empty verdict, so that every stage has the same
            // fields and a reader need not ask whether `checks` is there.
            let none = verify::Verdict {
                rows: Vec::new(),
                passed: 0,
                failed: 0,
                errors: 0,
                seconds: 0.0,
            };
            out.push(serde_json::json!({
                "name": stage.name,
                "actions": done,
                "checks": serde_json::to_value(&none).unwrap_or_default(),
                "error": e,
            }));
            crate::outln!(
                "the scenario stops here: the lab is no longer the one the file describes"
            );
            break;
        }
        let mut v = verify::run_checks(lab, &stage.checks, timing);
        verify::explain::failed_rows(lab, &mut v.rows);
        tally.add(&v);
        if !show.json && !v.rows.is_empty() {
            crate::outln!("{}", report::table(&v));
            why(&v);
            crate::outln!("stage {}: {}", i + 1, report::summary(&v));
        }
        out.push(serde_json::json!({
            "name": stage.name,
            "actions": done,
            "checks": serde_json::to_value(&v).unwrap_or_default(),
        }));
        verdicts.push((i, Ok(v)));
    }
    out
}

/// Under a table, why its failed checks failed.
fn why(v: &verify::Verdict) {
    if let Some(text) = report::explanations(v) {
        crate::outln!("{text}");
    }
}

/// The failing rows, the first [`FAILURES_SHOWN`] of them, and how many more there are.
fn failures(v: &verify::Verdict) -> String {
    let mut text = report::failures_first(v, FAILURES_SHOWN);
    if v.failed > FAILURES_SHOWN {
        text.push_str(&format!(
            "\n… and {} more failures (`--full` lists them all, `--json` gives every row)",
            v.failed - FAILURES_SHOWN
        ));
    }
    text
}
