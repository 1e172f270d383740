//! `vnet doctor` on the real kernel: every feature gets a row, the essentials are there, and
//! the probes leave nothing behind, neither in /run/netns nor in the caller's namespace.

use vnet::apply::probe::Feature;

use crate::harness::{Test, check, expect_code, text};

pub fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "doctor::json_has_every_feature_and_leaves_nothing",
            json_has_every_feature,
        ),
        Test::new(
            "doctor::table_names_every_feature",
            table_names_every_feature,
        ),
    ]
}

/// Interfaces of the namespace this process is in (the sandbox's, standing in for the
/// machine's): `/proc/self/net` is per namespace, unlike `/sys/class/net`.
fn interfaces_here() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    let mut names: Vec<String> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// Whatever `vnet doctor` could have left: its named namespaces and their mounts.
/// What finished `vnet doctor` runs left: names `vnet-doctor-PID` whose process is gone (a
/// doctor running beside this test still has its probe namespace, for a moment).
fn doctor_leftovers() -> Vec<String> {
    let gone = |name: &str| {
        name.strip_prefix("vnet-doctor-")
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    };
    let mut left = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if gone(&name) {
                left.push(format!("namespace {name}"));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts.lines() {
        let leaked = line
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("/run/netns/"))
            .any(gone);
        if leaked {
            left.push(format!("mount {line}"));
        }
    }
    left
}

fn json_has_every_feature() -> Result<(), String> {
    let before = interfaces_here();
    let out = expect_code(&["doctor", "--json"], 0)?;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {}", text(&out)))?;
    check(json["ok"] == true, || format!("not ok:\n{}", text(&out)))?;
    let rows = json["features"]
        .as_array()
        .ok_or_else(|| format!("no features array:\n{}", text(&out)))?;
    check(rows.len() == Feature::ALL.len(), || {
        format!(
            "{} rows for {} features:\n{}",
            rows.len(),
            Feature::ALL.len(),
            text(&out)
        )
    })?;
    for f in Feature::ALL {
        let key = serde_json::to_value(f).map_err(|e| e.to_string())?;
        let row = rows
            .iter()
            .find(|r| r["feature"] == key)
            .ok_or_else(|| format!("no row for {key}:\n{}", text(&out)))?;
        check(row["available"].is_boolean(), || format!("{row}"))?;
        check(
            row["detail"].as_str().is_some_and(|d| !d.is_empty()),
            || format!("{row}"),
        )?;
        // A missing feature always says what to do about it.
        check(
            row["available"] == true || row["hint"].as_str().is_some(),
            || format!("no hint: {row}"),
        )?;
        if f.essential() {
            check(row["available"] == true, || {
                format!("essential feature missing: {row}")
            })?;
        }
    }
    let left = doctor_leftovers();
    check(left.is_empty(), || {
        format!("vnet doctor left behind:\n  {}", left.join("\n  "))
    })?;
    let after = interfaces_here();
    check(before == after, || {
        format!("interfaces here changed: {before:?} -> {after:?}")
    })
}

fn table_names_every_feature() -> Result<(), String> {
    let out = expect_code(&["doctor"], 0)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for f in Feature::ALL {
        check(stdout.contains(f.name()), || {
            format!("no row for {}:\n{}", f.name(), text(&out))
        })?;
    }
    check(stdout.contains("vnet can build labs here"), || text(&out))?;
    let left = doctor_leftovers();
    check(left.is_empty(), || {
        format!("vnet doctor left behind:\n  {}", left.join("\n  "))
    })
}
