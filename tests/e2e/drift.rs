//! `vnet status LAB` compares the live kernel with what vnet built: each kind of difference
//! is found and said, `vnet link`'s own changes are not drift, and the exit code says which.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, text, topology};

pub(crate) fn trials() -> Vec<Test> {
    vec![Test::new(
        "drift::status_names_each_difference_from_what_was_built",
        status_drift,
    )]
}

const LAB: &str = "name: vdrift
nodes:
  h1: {interfaces: {eth0: 10.80.0.2/24}, gateway: 10.80.0.1}
  h2: {interfaces: {eth0: 10.80.0.3/24}, gateway: 10.80.0.1}
  sw: {kind: bridge}
  r1: {kind: router, interfaces: {lan: 10.80.0.1/24, wan: 192.0.2.1/24}, nat: {masquerade: [wan]}}
  ext: {interfaces: {eth0: 192.0.2.2/24}}
links:
  - [h1:eth0, sw:p1]
  - [h2:eth0, sw:p2]
  - [r1:lan, sw:p3]
  - [r1:wan, ext:eth0]
";

/// Runs a command line directly, not through `sh`: the stock-kernel lane's busybox shell
/// would take its own `ip` applet, which has no `-n`.
fn sh(cmd: &str) -> Result<(), String> {
    let argv: Vec<&str> = cmd.split_whitespace().collect();
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| e.to_string())?;
    check(o.status.success(), || format!("`{cmd}`: {}", text(&o)))
}

/// `vnet status vdrift` exits `code` and says each of `says`.
fn status_says(code: i32, says: &[&str]) -> Result<(), String> {
    let o = expect_code(&["status", "vdrift"], code)?;
    for s in says {
        check(text(&o).contains(s), || {
            format!("no `{s}` in:\n{}", text(&o))
        })?;
    }
    Ok(())
}

fn status_drift() -> Result<(), String> {
    let (_d, file) = topology(LAB);
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vdrift".into());
    expect_code(&["up", &file], 0)?;
    status_says(0, &["health: as built"])?;
    let doc: Value =
        serde_json::from_slice(&expect_code(&["status", "vdrift", "--json"], 0)?.stdout)
            .map_err(|e| e.to_string())?;
    check(doc["health"] == "as built", || format!("{doc:#}"))?;
    let live = doc["live"]["interfaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check(
        live.iter()
            .any(|i| i["node"] == "r1" && i["name"] == "wan" && i["state"] == "up"),
        || format!("the live interfaces: {live:?}"),
    )?;

    // vnet's own change is not drift.
    expect_code(&["link", "vdrift", "h2:eth0", "down"], 0)?;
    status_says(
        0,
        &["health: as built", "h2:eth0: down (taken down at runtime)"],
    )?;
    expect_code(&["link", "vdrift", "h2:eth0", "up"], 0)?;

    // Someone else's changes are, each in its words.
    sh("ip -n vdrift.h1 link set eth0 down")?;
    status_says(
        1,
        &[
            "health: 2 differences",
            "link h1:eth0 is down",
            "link sw:p1 has no carrier",
        ],
    )?;
    sh("ip -n vdrift.h1 link set eth0 up")?;
    status_says(0, &["health: as built"])?;
    sh("ip netns exec vdrift.r1 nft delete table inet vnet_nat")?;
    status_says(1, &["table inet vnet_nat is missing in r1"])?;
    sh("ip -n vdrift.ext link del eth0")?;
    status_says(
        1,
        &[
            "interface ext:eth0 is missing",
            "interface r1:wan is missing",
        ],
    )?;
    sh("ip netns del vdrift.h2")?;
    let o = expect_code(&["status", "vdrift", "--json"], 1)?;
    let doc: Value = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
    let kinds: Vec<String> = doc["live"]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for k in ["namespace_missing", "link_missing", "table_missing"] {
        check(kinds.iter().any(|x| x == k), || {
            format!("no {k} among {kinds:?}:\n{doc:#}")
        })?;
    }
    check(doc["health"] == "drifted", || format!("{doc:#}"))?;
    expect_code(&["down", "vdrift"], 0)?;
    assert_clean("vdrift")
}
