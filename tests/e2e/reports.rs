//! Reports for CI from real runs: JUnit files (validated against tests/junit/junit.xsd with
//! xmllint), GitHub annotations and step summaries, and every `--json` document against its
//! schema in schema/output/.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{
    Feature, Lab, Test, assert_clean, check, expect_code, run, text, topologies, topology, vnet,
};

pub(crate) fn trials() -> Vec<Test> {
    let xmllint = Feature::Program("xmllint", "Debian package libxml2-utils");
    vec![
        Test::new(
            "reports::junit_annotations_and_summary_say_what_each_check_did",
            junit_of_checks,
        )
        .needs(xmllint)
        .host_lane_only(),
        Test::new(
            "reports::what_the_kernel_lacks_is_skipped_in_junit",
            kernel_lacks,
        )
        .needs(xmllint)
        .host_lane_only(),
        Test::new(
            "reports::every_json_document_validates_against_its_schema",
            json_documents,
        ),
        Test::new(
            "reports::a_stage_whose_action_failed_has_empty_checks",
            failed_action_stage,
        ),
    ]
}

const LAB: &str = "name: vrep
nodes:
  a: {interfaces: {eth0: [10.63.0.1/24, fd00:63::1/64]}}
  c: {interfaces: {eth0: [10.63.0.3/24, fd00:63::3/64]}}
  d: {interfaces: {eth0: 10.64.0.4/24}}
  e: {interfaces: {eth0: 10.64.0.5/24}}
  sw: {kind: bridge}
links:
  - [a:eth0, sw:p1]
  - [c:eth0, sw:p2]
  - [d:eth0, e:eth0]
expect:
  - {from: a, to: c}
  - {from: a, to: 10.64.0.4, reach: false}
  - {from: a, to: d}
  - {from: c, to: a}
";

fn env_run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = vnet(args);
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("VNET_ANNOTATIONS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("vnet runs")
}

/// Fails unless `file` is a JUnit report by tests/junit/junit.xsd.
pub(crate) fn valid_junit(file: &Path) -> Result<(), String> {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/junit.xsd");
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd)
        .arg(file)
        .output()
        .map_err(|e| format!("xmllint: {e}"))?;
    check(o.status.success(), || {
        format!(
            "{} is not a valid JUnit report:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(file).unwrap_or_default()
        )
    })
}

pub(crate) fn xpath(file: &Path, expr: &str) -> String {
    Command::new("xmllint")
        .args(["--xpath", expr])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn same(got: String, want: &str, what: &str) -> Result<(), String> {
    check(got == want, || {
        format!("{what}: got `{got}`, want `{want}`")
    })
}

fn junit_of_checks() -> Result<(), String> {
    let (dir, file) = topology(LAB);
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vrep".into());
    let report = dir.path().join("checks.xml");
    let summary = dir.path().join("summary.md");
    let o = env_run(
        &["test", &file, "--junit", report.to_str().unwrap()],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    check(o.status.code() == Some(1), || text(&o))?;
    valid_junit(&report)?;
    same(
        xpath(&report, "count(//testcase)"),
        "6",
        "one case per probe",
    )?;
    same(xpath(&report, "count(//testcase/failure)"), "1", "failures")?;
    same(
        xpath(&report, "string(//testcase[failure]/@name)"),
        "a → d (icmp)",
        "the failing case",
    )?;
    same(
        xpath(&report, "string(//testcase[failure]/@line)"),
        "15",
        "the failing check's line",
    )?;
    same(
        xpath(&report, "string(//testcase[failure]/@file)"),
        &file,
        "the topology file",
    )?;
    let message = xpath(&report, "string(//testcase/failure/@message)");
    check(message.starts_with("expected reach, got "), || {
        message.clone()
    })?;
    same(
        xpath(&report, "string(//testcase[1]/@name)"),
        "a → c 10.63.0.3 (icmp)",
        "a node with several addresses",
    )?;
    same(
        xpath(&report, "string(//testcase[3]/@name)"),
        "a → 10.64.0.4 (icmp, must not reach)",
        "a check that must not reach",
    )?;
    // The annotation points at the check; the summary has its row.
    let out = String::from_utf8_lossy(&o.stdout);
    let annotation = format!(
        "::error file={file},line=15,col=5,title=vnet%3A check failed::a → d (icmp): expected reach, got "
    );
    check(out.lines().any(|l| l.starts_with(&annotation)), || {
        format!("no `{annotation}` in:\n{out}")
    })?;
    let md = std::fs::read_to_string(&summary).map_err(|e| e.to_string())?;
    check(
        md.contains("**❌ failed**: 6 cases, 5 passed, 1 failed")
            && md.contains("| ❌ | a → d (icmp) <sub>"),
        || md.clone(),
    )?;
    // And a picture of the lab, as `vnet graph` draws it, for GitHub to render.
    check(
        md.contains("```mermaid\n---\ntitle: vrep\n---\nflowchart"),
        || md.clone(),
    )?;

    // Probes that cannot run are errors; all pairs is one case naming its pairs.
    expect_code(&["up", &file], 0)?;
    let gone = Command::new("ip")
        .args(["netns", "del", "vrep.c"])
        .output()
        .map_err(|e| e.to_string())?;
    check(gone.status.success(), || text(&gone))?;
    let report = dir.path().join("pairs.xml");
    let o = env_run(
        &[
            "verify",
            "vrep",
            "--all-pairs",
            "--junit",
            report.to_str().unwrap(),
        ],
        &[],
    );
    check(o.status.code() == Some(1), || text(&o))?;
    valid_junit(&report)?;
    same(
        xpath(&report, "count(//testsuite)"),
        "2",
        "checks and all pairs",
    )?;
    same(
        xpath(&report, "count(//testsuite[2]/testcase)"),
        "1",
        "all pairs is one case",
    )?;
    let pairs = xpath(&report, "string(//testsuite[2]/testcase/failure/@message)");
    check(
        pairs.contains("pairs not as the file expects")
            && pairs.contains("could not run")
            && pairs.contains("c → a (10.63.0.1): expected reach, got probe could not run"),
        || pairs.clone(),
    )?;
    let shown = || std::fs::read_to_string(&report).unwrap_or_default();
    same(
        xpath(
            &report,
            "count(//testcase[starts-with(@name, 'c → a ')]/error)",
        ),
        "2",
        "probes from a namespace that is gone are errors",
    )
    .map_err(|e| format!("{e}\n{}", shown()))?;
    let error = xpath(
        &report,
        "string(//testcase[starts-with(@name, 'c → a ')]/error/@message)",
    );
    check(error.starts_with("probe could not run: "), || error.clone())?;
    expect_code(&["down", "vrep"], 0)?;
    assert_clean("vrep")
}

/// `--vlan-mode native` on a kernel without 802.1Q: each missing feature a skipped case at
/// the line that needs it. On a kernel with it (the stock-kernel lane), the lab just passes.
fn kernel_lacks() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let report = dir.path().join("junit.xml");
    let stick = topologies().join("router-on-a-stick.yaml");
    let args = [
        "test",
        stick.to_str().unwrap(),
        "--vlan-mode",
        "native",
        "--junit",
        report.to_str().unwrap(),
    ];
    let _lab = Lab("stick".into());
    if Feature::NativeVlans.missing().is_some() {
        expect_code(&args, 4)?;
        valid_junit(&report)?;
        let skipped: usize = xpath(&report, "count(//testcase/skipped)")
            .parse()
            .unwrap_or(0);
        check(skipped >= 1, || {
            std::fs::read_to_string(&report).unwrap_or_default()
        })?;
        same(
            xpath(&report, "count(//testcase)"),
            &skipped.to_string(),
            "every case skipped",
        )?;
        let why = xpath(&report, "string(//testcase[1]/skipped/@message)");
        check(
            why.contains("this kernel lacks") && why.contains("CONFIG_"),
            || why.clone(),
        )?;
        check(
            !xpath(&report, "string(//testcase[1]/@line)").is_empty(),
            || "at its line".into(),
        )?;
    } else {
        expect_code(&args, 0)?;
        valid_junit(&report)?;
        same(
            xpath(&report, "count(//testcase[failure or error or skipped])"),
            "0",
            "all passed",
        )?;
    }
    assert_clean("stick")
}

fn schema(name: &str) -> Result<jsonschema::Validator, String> {
    let text = match name {
        "up" => include_str!("../../schema/output/up.schema.json"),
        "down" => include_str!("../../schema/output/down.schema.json"),
        "verify" => include_str!("../../schema/output/verify.schema.json"),
        "status" => include_str!("../../schema/output/status.schema.json"),
        "doctor" => include_str!("../../schema/output/doctor.schema.json"),
        "error" => include_str!("../../schema/output/error.schema.json"),
        other => return Err(format!("no schema {other}")),
    };
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    jsonschema::validator_for(&value).map_err(|e| e.to_string())
}

/// Runs `vnet ARGS` (demanding the exit code) and validates its stdout against a schema.
fn valid(name: &str, args: &[&str], code: i32) -> Result<Value, String> {
    let o = expect_code(args, code)?;
    let doc: Value = serde_json::from_slice(&o.stdout).map_err(|e| {
        format!(
            "`vnet {}`: not one JSON document ({e}):\n{}",
            args.join(" "),
            text(&o)
        )
    })?;
    let v = schema(name)?;
    let wrong: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    check(wrong.is_empty(), || {
        format!(
            "`vnet {}` against schema/output/{name}.schema.json:\n{}\n{doc}",
            args.join(" "),
            wrong.join("\n")
        )
    })?;
    Ok(doc)
}

fn json_documents() -> Result<(), String> {
    let (_dir, file) = topology(&LAB.replace("vrep", "vjdoc"));
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vjdoc".into());
    let up = valid("up", &["up", &file, "--json"], 0)?;
    check(
        up["nodes"][0]["namespace"] == "vjdoc.a" && up["steps"].as_u64() > Some(10),
        || up.to_string(),
    )?;
    valid("error", &["up", &file, "--json"], 4)?;
    valid("verify", &["verify", "vjdoc", "--json", "--all-pairs"], 1)?;
    valid("status", &["status", "--json"], 0)?;
    valid("status", &["status", "vjdoc", "--json"], 0)?;
    let down = valid("down", &["down", "vjdoc", "--json"], 0)?;
    check(
        down["labs"][0]["was"] == "down"
            && down["labs"][0]["namespaces"].as_array().map(Vec::len) == Some(5),
        || down.to_string(),
    )?;
    let again = valid("down", &["down", "vjdoc", "--json"], 0)?;
    check(again["labs"][0]["was"] == "not running", || {
        again.to_string()
    })?;
    valid("verify", &["test", &file, "--json"], 1)?;
    valid("doctor", &["doctor", "--json"], 0)?;
    let _ = run(&["down", "vjdoc"]);
    assert_clean("vjdoc")
}

/// A stage whose action cannot be done ends the scenario there; its checks did not run, and
/// its `checks` say so as an empty run (every stage has the same fields, as the schema says).
fn failed_action_stage() -> Result<(), String> {
    let (_dir, file) = topology(
        "name: vstagefail
nodes:
  a: {interfaces: {eth0: 10.66.0.1/24}}
  b: {interfaces: {eth0: 10.66.0.2/24}}
links:
  - [a:eth0, b:eth0]
expect:
  - {from: a, to: b}
stages:
  - name: a command that fails
    do: [{exec: {on: a, run: 'exit 3'}}]
    expect: [{from: a, to: b}]
  - name: never reached
    expect: [{from: b, to: a}]
",
    );
    let file = file.to_string_lossy().into_owned();
    let doc = valid("verify", &["test", &file, "--json"], 4)?;
    let stages = doc["stages"].as_array().cloned().unwrap_or_default();
    check(stages.len() == 1, || format!("one stage ran: {doc:#}"))?;
    let s = &stages[0];
    check(
        s["error"].is_string() && s["actions"][0]["error"].is_string(),
        || format!("the action's error is told: {s:#}"),
    )?;
    check(
        s["checks"]["rows"] == serde_json::json!([])
            && s["checks"]["passed"] == 0
            && s["checks"]["failed"] == 0
            && s["checks"]["errors"] == 0,
        || format!("`checks` is an empty run: {s:#}"),
    )?;
    assert_clean("vstagefail")
}
