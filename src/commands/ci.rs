//! The reports a CI pipeline reads, and when they are written: the JUnit file of
//! `--junit FILE`, and under GitHub Actions annotations on stdout and the job's step summary.
//! What they say is `crate::report`'s; this decides from flags and the environment.

use std::cell::Cell;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Error;
use crate::model::Lab;
use crate::report::cases::{self, Source, Suite};
use crate::report::{github, junit, located};
use crate::topology::diag::Refusal;

/// Where the reports of one command go.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// `--junit FILE`
    junit: Option<PathBuf>,
    /// Annotations on stdout (stderr with `--json`) and the step summary.
    github: bool,
    /// `$GITHUB_STEP_SUMMARY`: the file the summary is appended to.
    summary: Option<PathBuf>,
    /// What the command is, for titles: `vnet test topologies/office-lan.yaml`.
    title: String,
    /// A report of the verdict was written: a later error (a `down` that fails after the
    /// probes) must not replace it.
    written: Cell<bool>,
}

/// Whether GitHub Actions annotations are wanted: `VNET_ANNOTATIONS=1` forces them, `=0` or
/// `--no-annotations` turns them off, else they are on under GitHub Actions only.
pub(crate) fn github_wanted(no_annotations: bool) -> bool {
    if no_annotations {
        return false;
    }
    match std::env::var("VNET_ANNOTATIONS").ok().as_deref() {
        Some("0") => false,
        Some("1") => true,
        _ => std::env::var("GITHUB_ACTIONS").ok().as_deref() == Some("true"),
    }
}

impl Reports {
    pub(crate) fn new(title: String, junit: Option<PathBuf>, no_annotations: bool) -> Self {
        let github = github_wanted(no_annotations);
        Reports {
            junit,
            github,
            summary: github
                .then(|| std::env::var_os("GITHUB_STEP_SUMMARY"))
                .flatten()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            title,
            written: Cell::new(false),
        }
    }

    /// The verdict of a run of checks (and of all pairs): every report there is.
    pub(crate) fn probed(
        &self,
        lab: &Lab,
        src: Source<'_>,
        checks: Option<&crate::verify::Verdict>,
        all_pairs: Option<&crate::verify::Verdict>,
        stages: &[(usize, Result<crate::verify::Verdict, String>)],
    ) -> Result<(), Error> {
        let mut suites = Vec::new();
        if let Some(v) = checks {
            suites.push(Suite {
                name: format!("lab `{}`: checks", lab.name),
                cases: cases::check_cases(lab, &lab.checks, "checks", src, v),
                seconds: v.seconds,
            });
        }
        for (i, run) in stages {
            let Some(stage) = lab.stages.get(*i) else {
                continue;
            };
            let name = format!("lab `{}`: stage {}: {}", lab.name, i + 1, stage.name);
            let group = format!("stage{}", i + 1);
            suites.push(match run {
                Ok(v) => Suite {
                    name,
                    cases: cases::check_cases(lab, &stage.checks, &group, src, v),
                    seconds: v.seconds,
                },
                Err(why) => Suite {
                    name,
                    cases: vec![cases::stage_error_case(lab, &group, stage, src, why)],
                    seconds: 0.0,
                },
            });
        }
        if let Some(v) = all_pairs {
            suites.push(Suite {
                name: format!("lab `{}`: all pairs", lab.name),
                cases: vec![cases::all_pairs_case(lab, src, v)],
                seconds: v.seconds,
            });
        }
        self.written.set(true);
        self.emit(&suites, lab_graph(lab).as_deref(), true)
    }

    /// A command that ended in an error: its problems (an invalid topology, what the kernel
    /// lacks) or the error itself, unless the verdict was reported already.
    pub(crate) fn failed(&self, err: &Error) -> Result<(), Error> {
        if self.written.get() {
            // The verdict stands in the report; the error that followed is annotated.
            if self.github {
                for p in problems_of(err) {
                    crate::outln!("{}", github::problem(&p));
                }
            }
            return Ok(());
        }
        let suite = match err {
            Error::Refused(r) if r.why == Refusal::KernelLacks => Suite {
                name: "what the lab needs of the kernel".into(),
                cases: problems_of(err)
                    .iter()
                    .map(|p| cases::problem_case("kernel", p, true))
                    .collect(),
                seconds: 0.0,
            },
            Error::Invalid(_) | Error::Syntax(_) | Error::Read { .. } | Error::Refused(_) => {
                Suite {
                    name: "the topology".into(),
                    // Its errors; the warnings beside them are annotated, not test cases.
                    cases: problems_of(err)
                        .iter()
                        .filter(|p| p.severity == "error")
                        .map(|p| cases::problem_case("topology", p, false))
                        .collect(),
                    seconds: 0.0,
                }
            }
            other => {
                let suite = Suite {
                    name: "vnet".into(),
                    cases: vec![cases::command_case(
                        &self.title,
                        "vnet",
                        &other.to_string(),
                        &crate::topology::diag::render_plain(other),
                    )],
                    seconds: 0.0,
                };
                return self.emit(&[suite], None, true);
            }
        };
        // Problems are annotated as problems: each with its span and its code as the title.
        if self.github {
            for p in problems_of(err) {
                crate::outln!("{}", github::problem(&p));
            }
        }
        self.emit(&[suite], None, false)
    }

    fn emit(&self, suites: &[Suite], graph: Option<&str>, annotate: bool) -> Result<(), Error> {
        if self.github && annotate {
            for c in suites.iter().flat_map(|s| &s.cases) {
                if let Some(line) = github::case(c) {
                    crate::outln!("{line}");
                }
            }
        }
        if self.github
            && let Some(file) = &self.summary
        {
            let md = github::summary(&self.title, suites, graph);
            append(file, &md).map_err(|error| Error::Report {
                file: file.display().to_string(),
                error,
            })?;
        }
        if let Some(file) = &self.junit {
            let xml = junit::render(
                &self.title,
                suites,
                &junit::rfc3339(crate::state::now()),
                &hostname(),
            );
            std::fs::write(file, xml).map_err(|error| Error::Report {
                file: file.display().to_string(),
                error,
            })?;
        }
        Ok(())
    }
}

/// Annotations for an error of a command without reports of its own (an invalid topology in
/// `validate` or `up`): each problem at its line. `verify` and `test` annotated theirs.
pub(crate) fn annotate_unreported(err: &Error, no_annotations: bool, reports: &Reports) {
    if reports.title.is_empty() && github_wanted(no_annotations) {
        for p in problems_of(err) {
            crate::outln!("{}", github::problem(&p));
        }
    }
}

/// The problems an error stands for, each at its place when it has one.
pub(crate) fn problems_of(err: &Error) -> Vec<located::Located> {
    let mut all = located::located(err);
    // A file that cannot be read has no line, but it has a name.
    if let Error::Read { file, .. } = err {
        for p in &mut all {
            p.file.get_or_insert_with(|| file.clone());
        }
    }
    all
}

/// The lab as a Mermaid diagram for the step summary (GitHub draws it), as `vnet graph`
/// draws the file: many hosts on one bridge are one box, so a big lab stays readable.
fn lab_graph(lab: &Lab) -> Option<String> {
    let picture = crate::report::graph::picture(lab, None);
    Some(crate::report::graph::mermaid::render(&picture))
}

fn append(file: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(text.as_bytes())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// A path as reports should name it: relative to the working directory when it is below it
/// (annotations need the repository's relative path), else as it is.
pub(crate) fn shown_path(path: &str) -> String {
    let p = Path::new(path);
    if p.is_absolute()
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = p.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.to_owned()
}
