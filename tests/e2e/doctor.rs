//! `vnet doctor` on the real kernel: every feature gets a row, the essentials are there, and
//! the probes leave nothing behind, neither in /run/netns nor in the caller's namespace. Each
//! runs in a private machine, so the check for leftovers sees doctor's work and nobody else's.

use vnet::apply::probe::Feature;

use crate::harness::{Test, check, text};
use crate::private::Machine;

pub(crate) fn trials() -> Vec<Test> {
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

/// The private machine's interfaces and namespace mounts, before `vnet doctor` runs.
struct Before {
    interfaces: Vec<String>,
    /// The machine's mount table starts as a copy of the test process's, which may hold the
    /// namespaces of a lab that a test beside this one has up at that moment (hidden under the
    /// machine's own `/run/netns`): only mounts that were not there before are doctor's.
    mounts: Vec<String>,
}

fn snapshot(m: &Machine) -> Before {
    Before {
        interfaces: m.interfaces(),
        mounts: netns_mounts(m),
    }
}

fn netns_mounts(m: &Machine) -> Vec<String> {
    m.mounts()
        .lines()
        .filter(|l| l.contains(" /run/netns/"))
        .map(str::to_owned)
        .collect()
}

/// Whatever `vnet doctor` left in the private machine: named namespaces, their mounts, and
/// interfaces that were not there before. The machine is the test's alone, so nothing made by
/// the tests running beside it can be mistaken for a leftover (or hide one).
fn doctor_leftovers(m: &Machine, before: &Before) -> Vec<String> {
    let mut left: Vec<String> = m
        .namespaces()
        .into_iter()
        .map(|n| format!("namespace {n}"))
        .collect();
    left.extend(
        netns_mounts(m)
            .into_iter()
            .filter(|l| !before.mounts.contains(l))
            .map(|l| format!("mount {l}")),
    );
    left.extend(
        m.interfaces()
            .into_iter()
            .filter(|i| !before.interfaces.contains(i))
            .map(|i| format!("interface {i}")),
    );
    left
}

fn json_has_every_feature() -> Result<(), String> {
    let m = Machine::new()?;
    let before = snapshot(&m);
    let out = m.run(&["doctor", "--json"], 0)?;
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
    let left = doctor_leftovers(&m, &before);
    check(left.is_empty(), || {
        format!("vnet doctor left behind:\n  {}", left.join("\n  "))
    })
}

fn table_names_every_feature() -> Result<(), String> {
    let m = Machine::new()?;
    let before = snapshot(&m);
    let out = m.run(&["doctor"], 0)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for f in Feature::ALL {
        check(stdout.contains(f.name()), || {
            format!("no row for {}:\n{}", f.name(), text(&out))
        })?;
    }
    check(stdout.contains("vnet can build labs here"), || text(&out))?;
    let left = doctor_leftovers(&m, &before);
    check(left.is_empty(), || {
        format!("vnet doctor left behind:\n  {}", left.join("\n  "))
    })
}
