//! Reports for CI without root: JUnit files of commands that fail before probing (validated
//! against tests/junit/junit.xsd with xmllint, from Debian's libxml2-utils, which
//! scripts/test.sh installs), and GitHub Actions annotations and step summaries.

use std::path::Path;
use std::process::{Command, Output};

use crate::{repo, stderr};

fn vnet_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vnet"));
    c.args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("VNET_ANNOTATIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env(
            "VNET_STATE_DIR",
            std::env::temp_dir().join("vnet-cli-test-state"),
        );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("vnet runs")
}

/// Fails unless the file is a JUnit report by tests/junit/junit.xsd.
pub(crate) fn valid_junit(file: &Path) {
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo("tests/junit/junit.xsd"))
        .arg(file)
        .output()
        .expect("xmllint runs (Debian package libxml2-utils; scripts/test.sh installs it)");
    assert!(
        o.status.success(),
        "{} is not a valid JUnit report:\n{}\n{}",
        file.display(),
        stderr(&o),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// An XPath expression's value in the file, as xmllint prints it.
pub(crate) fn xpath(file: &Path, expr: &str) -> String {
    let o = Command::new("xmllint")
        .args(["--xpath", expr])
        .arg(file)
        .output()
        .expect("xmllint runs");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn an_invalid_topology_is_a_junit_report_of_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("junit.xml");
    let broken = repo("tests/broken/many-problems.yaml");
    let o = vnet_env(
        &[
            "test",
            broken.to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    valid_junit(&report);
    assert_eq!(
        xpath(&report, "count(//testcase)"),
        "5",
        "its errors; not its warnings"
    );
    assert_eq!(xpath(&report, "count(//testcase/error)"), "5");
    assert_eq!(
        xpath(
            &report,
            "string(//testcase[contains(@name, 'gatway')]/@line)"
        ),
        "11"
    );
    assert_eq!(xpath(&report, "string(/testsuites/@errors)"), "5");
}

#[test]
fn a_command_that_fails_before_probing_is_one_error_case() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("junit.xml");
    let o = vnet_env(
        &["verify", "no-such-lab", "--junit", report.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    valid_junit(&report);
    assert_eq!(xpath(&report, "count(//testcase)"), "1");
    assert_eq!(
        xpath(&report, "string(//testcase/error/@message)"),
        "no running lab `no-such-lab`"
    );
    // A report that cannot be written is an error of its own.
    let o = vnet_env(
        &["verify", "no-such-lab", "--junit", "/nonexistent/dir/r.xml"],
        &[],
    );
    assert!(
        stderr(&o).contains("cannot write the report /nonexistent/dir/r.xml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn annotations_under_github_actions_only() {
    let broken = repo("tests/broken/kind-typo.yaml");
    let file = broken.to_str().unwrap();
    let annotation = format!(
        "::error file={file},line=5,endLine=5,col=14,endColumn=19,title=vnet%3A%3Akind::unknown node kind `brige`: unknown kind%0Adid you mean `bridge`?"
    );
    let out = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["validate", file];
        args.extend(extra);
        let o = vnet_env(&args, env);
        assert_eq!(o.status.code(), Some(3));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(out(&[("GITHUB_ACTIONS", "true")], &[]).trim(), annotation);
    assert_eq!(out(&[("VNET_ANNOTATIONS", "1")], &[]).trim(), annotation);
    assert_eq!(out(&[], &[]), "");
    assert_eq!(
        out(
            &[("GITHUB_ACTIONS", "true"), ("VNET_ANNOTATIONS", "0")],
            &[]
        ),
        ""
    );
    assert_eq!(
        out(&[("GITHUB_ACTIONS", "true")], &["--no-annotations"]),
        ""
    );
    // With --json, stdout is the document; annotations go to stderr.
    let o = vnet_env(&["validate", file, "--json"], &[("GITHUB_ACTIONS", "true")]);
    assert!(serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok());
    assert!(stderr(&o).contains(&annotation), "{}", stderr(&o));
}

#[test]
fn the_step_summary_lists_the_problems() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier steps' text\n").unwrap();
    let broken = repo("tests/broken/kind-typo.yaml");
    let o = vnet_env(
        &["test", broken.to_str().unwrap()],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier steps' text\n### vnet test "),
        "appended:\n{md}"
    );
    assert!(
        md.contains("| ⚠️ | topology: unknown node kind `brige` <sub>"),
        "{md}"
    );
}
