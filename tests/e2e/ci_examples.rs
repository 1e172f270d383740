//! The CI examples in docs/ci/ run as written: their lines marked `# tested: e2e` are taken
//! out (the build lines are not: the suite has its vnet), run against the bundled labs with
//! the environment that CI gives them, and the report they upload must be there and valid.
//! Each example tests a lab of its own (office, routed), so the two can run side by side.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::{Feature, Test, assert_clean, check, topologies, vnet_bin};
use crate::reports::{valid_junit, xpath};

pub(crate) fn trials() -> Vec<Test> {
    let xmllint = Feature::Program("xmllint", "Debian package libxml2-utils");
    vec![
        Test::new(
            "ci_examples::github_actions_workflow_runs_as_written",
            || {
                example(
                    "docs/ci/github-actions.yml",
                    &[("GITHUB_ACTIONS", "true")],
                    github_artifact,
                    "office",
                )
            },
        )
        .needs(xmllint)
        .host_lane_only(),
        Test::new("ci_examples::gitlab_ci_job_runs_as_written", || {
            example("docs/ci/gitlab-ci.yml", &[], gitlab_report, "routed")
        })
        .needs(xmllint)
        .host_lane_only(),
    ]
}

const MARK: &str = "# tested: e2e";

/// The shell lines of an example that are marked to be tested, as the shell sees them: the
/// YAML list dash and `run:` taken off, the mark with them.
pub(crate) fn marked_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(MARK).map(|(before, _)| before.trim()))
        .map(|l| {
            let l = l.strip_prefix("- ").unwrap_or(l);
            l.strip_prefix("run:").unwrap_or(l).trim().to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The file the workflow uploads: `path:` of its upload-artifact step.
fn github_artifact(doc: &Value) -> Option<String> {
    let jobs = doc["jobs"].as_object()?;
    jobs.values()
        .flat_map(|j| j["steps"].as_array().cloned().unwrap_or_default())
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .and_then(|s| s["with"]["path"].as_str().map(str::to_owned))
}

/// The JUnit report the job hands GitLab: `artifacts: reports: junit:`.
fn gitlab_report(doc: &Value) -> Option<String> {
    let jobs = doc.as_object()?;
    jobs.values().find_map(|j| {
        j["artifacts"]["reports"]["junit"]
            .as_str()
            .map(str::to_owned)
    })
}

fn example(
    file: &str,
    env: &[(&str, &str)],
    report_of: fn(&Value) -> Option<String>,
    lab: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(repo(file)).map_err(|e| format!("{file}: {e}"))?;
    let doc = vnet::topology::yaml::parse(&text)
        .map_err(|e| format!("{file} is not YAML: {e}"))?
        .to_json();
    let report = report_of(&doc).ok_or(format!("{file} uploads no JUnit report"))?;
    let lines = marked_lines(&text);
    check(
        lines
            .iter()
            .any(|l| l.contains("vnet test") && l.contains(&format!("--junit {report}"))),
        || format!("{file}: no marked `vnet test ... --junit {report}` among {lines:?}"),
    )?;
    // A checkout of the project: its bundled labs, vnet on PATH, and `sudo` (the suite is
    // root already) passing its command through.
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(topologies(), work.path().join("topologies"))
        .map_err(|e| e.to_string())?;
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(vnet_bin(), bin.join("vnet")).map_err(|e| e.to_string())?;
    let sudo = bin.join("sudo");
    std::fs::write(
        &sudo,
        "#!/bin/sh\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\nexec \"$@\"\n",
    )
    .map_err(|e| e.to_string())?;
    let mut perms = std::fs::metadata(&sudo)
        .map_err(|e| e.to_string())?
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&sudo, perms).map_err(|e| e.to_string())?;
    let summary = work.path().join("step-summary.md");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in &lines {
        let mut c = Command::new("sh");
        c.args(["-ec", line])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("VNET_ANNOTATIONS");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().map_err(|e| e.to_string())?;
        check(o.status.success(), || {
            format!(
                "{file}: `{line}` exited {:?}\n{}\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })?;
    }
    let junit = work.path().join(&report);
    valid_junit(&junit)?;
    check(xpath(&junit, "count(//testcase)") != "0", || {
        "an empty report".into()
    })?;
    if env.iter().any(|(k, _)| *k == "GITHUB_ACTIONS") {
        let md = std::fs::read_to_string(&summary).map_err(|e| format!("no step summary: {e}"))?;
        check(
            md.contains("**✅ all passed**") && md.contains("| ✅ | pc1 → pc2"),
            || md.clone(),
        )?;
    }
    assert_clean(lab)
}
