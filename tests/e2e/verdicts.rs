//! Verdicts a CI pipeline can trust: no pass that was not seen, one JSON document per
//! `--json` command, rows that say what happened in words.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, run, text, topology, vnet};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "verdicts::a_probe_that_could_not_run_is_an_error_never_a_pass",
            probe_never_ran,
        ),
        Test::new(
            "verdicts::every_json_output_is_one_document",
            one_json_document,
        ),
        Test::new("verdicts::rows_say_what_happened_in_words", rows_in_words),
        Test::new(
            "verdicts::all_pairs_expects_what_the_file_expects",
            all_pairs_isolation,
        ),
        Test::new(
            "verdicts::ipv6_only_layer_2_checks_ask_by_neighbour_discovery",
            ipv6_layer_2,
        ),
        Test::new("verdicts::tables_fit_80_columns", tables_fit),
        Test::new(
            "verdicts::a_file_edited_since_up_is_said_to_differ",
            edited_file,
        ),
    ]
}

/// `a` and `c` on a bridge, `d` alone: `a` reaches `c`, not `d`.
fn lab(name: &str) -> (tempfile::TempDir, String) {
    let (d, f) = topology(&format!(
        "name: {name}
nodes:
  a: {{interfaces: {{eth0: [10.60.0.1/24, fd00:60::1/64]}}}}
  c: {{interfaces: {{eth0: [10.60.0.3/24, fd00:60::3/64]}}}}
  d: {{interfaces: {{eth0: 10.61.0.4/24}}}}
  e: {{interfaces: {{eth0: 10.61.0.5/24}}}}
  sw: {{kind: bridge}}
links:
  - [a:eth0, sw:p1]
  - [c:eth0, sw:p2]
  - [d:eth0, e:eth0]
expect:
  - {{from: a, to: c}}
  - {{from: a, to: 10.61.0.4, reach: false}}
  - {{from: a, to: 'c:8080', proto: tcp}}
  - {{from: a, to: 'c:5353', proto: udp}}
"
    ));
    (d, f.to_string_lossy().into_owned())
}

fn json(out: &std::process::Output) -> Result<Value, String> {
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("stdout is not one JSON document ({e}):\n{}", text(out)))
}

fn rows(doc: &Value) -> Vec<Value> {
    doc["checks"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn probe_never_ran() -> Result<(), String> {
    let (_d, file) = lab("vgone");
    let _lab = Lab("vgone".into());
    expect_code(&["up", &file], 0)?;
    expect_code(&["verify", "vgone"], 0)?;
    // The source of every check vanishes: not one of them may pass, `reach: false` included.
    let del = Command::new("ip")
        .args(["netns", "del", "vgone.a"])
        .output()
        .map_err(|e| e.to_string())?;
    check(del.status.success(), || text(&del))?;
    let out = expect_code(&["verify", "vgone", "--json"], 4)?;
    let doc = json(&out)?;
    let all = rows(&doc);
    for r in &all {
        check(r["verdict"] == "error" && r["pass"] == false, || {
            format!("a probe from a deleted namespace: {r}")
        })?;
    }
    check(
        all.len() == 7
            && doc["ok"] == false
            && doc["exit"] == 4
            && doc["checks"]["errors"] == 7
            && doc["checks"]["passed"] == 0,
        || doc.to_string(),
    )?;
    let table = expect_code(&["verify", "vgone"], 4)?;
    check(
        text(&table).contains("ERROR") && text(&table).contains("7 could not run"),
        || text(&table),
    )?;
    expect_code(&["down", "vgone"], 0)?;
    // A check that fails outranks one that could not run: the lab is not as the file says.
    let (_d2, file) = lab("vmix");
    let _lab2 = Lab("vmix".into());
    let mixed = std::fs::read_to_string(&file).map_err(|e| e.to_string())?
        + "  - {from: d, to: e, reach: false}\n";
    std::fs::write(&file, mixed).map_err(|e| e.to_string())?;
    expect_code(&["up", &file], 0)?;
    let _ = Command::new("ip").args(["netns", "del", "vmix.a"]).output();
    let out = expect_code(&["verify", "vmix", "--json"], 1)?;
    let doc = json(&out)?;
    check(
        doc["checks"]["failed"] == 1 && doc["checks"]["errors"] == 7,
        || doc.to_string(),
    )?;
    expect_code(&["down", "vmix"], 0)?;
    assert_clean("vgone")?;
    assert_clean("vmix")
}

fn one_json_document() -> Result<(), String> {
    let (_d, file) = lab("vjson");
    let _lab = Lab("vjson".into());
    for args in [
        vec!["test", file.as_str(), "--json"],
        vec!["test", file.as_str(), "--json", "--all-pairs"],
    ] {
        let out = run(&args);
        let doc = json(&out).map_err(|e| format!("`vnet {}`: {e}", args.join(" ")))?;
        check(doc["version"] == 1 && doc["lab"] == "vjson", || {
            doc.to_string()
        })?;
    }
    expect_code(&["up", &file], 0)?;
    for args in [
        vec!["verify", "vjson", "--json"],
        vec!["verify", file.as_str(), "--json", "--all-pairs"],
        vec!["status", "--json"],
        vec!["status", "vjson", "--json"],
        vec!["doctor", "--json"],
    ] {
        let out = run(&args);
        json(&out).map_err(|e| format!("`vnet {}`: {e}", args.join(" ")))?;
    }
    expect_code(&["down", "vjson"], 0)?;
    assert_clean("vjson")
}

fn rows_in_words() -> Result<(), String> {
    let (_d, file) = topology(
        "name: vwords
nodes:
  h1: {interfaces: {eth0: 10.62.1.2/24}, gateway: 10.62.1.1}
  r1: {kind: router, interfaces: {a: 10.62.1.1/24, b: 10.62.2.1/24}}
  h2: {interfaces: {eth0: 10.62.2.2/24}, gateway: 10.62.2.1}
links:
  - [h1:eth0, r1:a]
  - [r1:b, h2:eth0]
expect:
  - {from: h1, to: h2, via: [r1]}
  - {from: h1, to: r1}
  - {from: h1, to: 'h2:7001', proto: tcp}
",
    );
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vwords".into());
    expect_code(&["up", &file], 0)?;
    let doc = json(&expect_code(&["verify", "vwords", "--json"], 0)?)?;
    let all = rows(&doc);
    let tcp = all
        .iter()
        .find(|r| r["method"] == "tcp")
        .ok_or("no tcp row")?;
    check(tcp["layer"] == 4 && tcp["listener"] == "vnet", || {
        format!("a TCP row: {tcp}")
    })?;
    let direct = all
        .iter()
        .find(|r| r["method"] == "icmp")
        .ok_or("no icmp row")?;
    let rtt = direct["rtt_ms"].as_f64().unwrap_or(f64::MAX);
    check(rtt < 100.0 && direct["try_no"].as_u64().is_some(), || {
        format!("the round trip of one echo over a veth: {direct}")
    })?;
    // The path gone at its first hop is said in words, not as an empty path.
    let del = Command::new("ip")
        .args(["-n", "vwords.h1", "route", "del", "default"])
        .output()
        .map_err(|e| e.to_string())?;
    check(del.status.success(), || text(&del))?;
    let doc = json(&expect_code(&["verify", "vwords", "--json"], 1)?)?;
    let via = rows(&doc)
        .into_iter()
        .find(|r| r["method"] == "trace")
        .ok_or("no trace row")?;
    let got = via["got"].as_str().unwrap_or_default();
    check(
        got == "not sent: network is unreachable" && via["verdict"] == "fail",
        || format!("a via check with no route: {via}"),
    )?;
    expect_code(&["down", "vwords"], 0)?;
    assert_clean("vwords")
}

fn all_pairs_isolation() -> Result<(), String> {
    let (_d, file) = topology(
        "name: vpairs
nodes:
  a: {interfaces: {eth0: 10.63.0.1/24}}
  b: {interfaces: {eth0: 10.63.0.2/24}}
  lone: {interfaces: {eth0: 10.64.0.9/24}}
  sw: {kind: bridge}
links:
  - [a:eth0, sw:p1]
  - [b:eth0, sw:p2]
  - [lone:eth0, sw:p3]
expect:
  - {from: a, to: b}
  - {from: a, to: lone, reach: false}
  - {from: b, to: lone, reach: false}
  - {from: lone, to: a, reach: false}
  - {from: lone, to: b, reach: false}
",
    );
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vpairs".into());
    expect_code(&["up", &file], 0)?;
    let out = expect_code(&["verify", "vpairs", "--all-pairs"], 0)?;
    check(
        text(&out).contains("–") && text(&out).contains("isolated, as the file expects"),
        || text(&out),
    )?;
    // A pair the file says nothing about is still expected to reach.
    let fewer = std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())?
        .replace("  - {from: lone, to: b, reach: false}\n", "");
    std::fs::write(&file, fewer).map_err(|e| e.to_string())?;
    let out = expect_code(&["verify", &file, "--all-pairs"], 1)?;
    check(text(&out).contains("✗"), || text(&out))?;
    expect_code(&["down", "vpairs"], 0)?;
    assert_clean("vpairs")
}

fn ipv6_layer_2() -> Result<(), String> {
    let (_d, file) = topology(
        "name: vsix
nodes:
  b: {interfaces: {eth0: fd00:b::2/64}}
  c: {interfaces: {eth0: fd00:b::3/64}}
  x: {interfaces: {eth0: fd00:c::4/64}}
  y: {interfaces: {eth0: fd00:c::5/64}}
  sw: {kind: bridge}
links:
  - [b:eth0, sw:p1]
  - [c:eth0, sw:p2]
  - [x:eth0, y:eth0]
expect:
  - {from: b, to: c, layer: 2}
  - {from: b, to: 'fd00:b::3', layer: 2}
  - {from: b, to: x, layer: 2, reach: false}
  - {from: b, to: c}
",
    );
    let file = file.to_string_lossy().into_owned();
    let out = expect_code(&["test", &file, "--json"], 0)?;
    let doc = json(&out)?;
    let ndp = rows(&doc).iter().filter(|r| r["method"] == "ndp").count();
    check(ndp == 3, || doc.to_string())?;
    assert_clean("vsix")
}

fn tables_fit() -> Result<(), String> {
    let (_d, file) = lab("vwide");
    let _lab = Lab("vwide".into());
    expect_code(&["up", &file], 0)?;
    // A failing row has the longest words.
    let _ = Command::new("ip")
        .args(["-n", "vwide.a", "link", "set", "eth0", "down"])
        .output();
    for args in [
        vec!["verify", "vwide"],
        vec!["verify", "vwide", "--all-pairs"],
        vec!["status", "vwide"],
        vec!["status"],
        vec!["doctor"],
    ] {
        let out = vnet(&args)
            .env("COLUMNS", "80")
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let wide: Vec<&str> = stdout.lines().filter(|l| l.chars().count() > 80).collect();
        check(wide.is_empty(), || {
            format!(
                "`vnet {}` is wider than 80 columns:\n{}",
                args.join(" "),
                wide.join("\n")
            )
        })?;
    }
    expect_code(&["down", "vwide"], 0)?;
    assert_clean("vwide")
}

fn edited_file() -> Result<(), String> {
    let (_d, file) = lab("vedit");
    let _lab = Lab("vedit".into());
    expect_code(&["up", &file], 0)?;
    let same = expect_code(&["verify", &file], 0)?;
    check(!text(&same).contains("changed since"), || text(&same))?;
    let edited = std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())?
        .replace(
            "  sw: {kind: bridge}\n",
            "  sw: {kind: bridge}\n  f: {interfaces: {eth0: 10.60.0.6/24}}\n",
        )
        .replace(
            "  - [c:eth0, sw:p2]\n",
            "  - [c:eth0, sw:p2]\n  - [f:eth0, sw:p9]\n",
        );
    std::fs::write(&file, edited).map_err(|e| e.to_string())?;
    let out = run(&["verify", &file]);
    check(
        text(&out).contains("the file changed since lab `vedit` was built")
            && text(&out).contains("node `f` added"),
        || text(&out),
    )?;
    let st = expect_code(&["status", "vedit"], 0)?;
    check(text(&st).contains("changed since"), || text(&st))?;
    expect_code(&["down", "vedit"], 0)?;
    assert_clean("vedit")
}
