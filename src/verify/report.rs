//! How a verdict reads: a table (or a matrix for all-pairs) and a one-line summary.

use std::collections::BTreeMap;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::{Row, Verdict};

#[derive(Tabled)]
struct Line {
    layer: String,
    from: String,
    to: String,
    address: String,
    expect: String,
    got: String,
    rtt: String,
    verdict: &'static str,
}

pub fn summary(v: &Verdict) -> String {
    let n = v.rows.len();
    let s = if n == 1 { "" } else { "s" };
    if v.ok() {
        format!("{n} probe{s}: all passed ({:.2} s)", v.seconds)
    } else {
        format!(
            "{n} probe{s}: {} passed, {} failed ({:.2} s)",
            v.passed, v.failed, v.seconds
        )
    }
}

pub fn table(v: &Verdict) -> String {
    let lines: Vec<Line> = v.rows.iter().map(line).collect();
    Table::new(lines).with(Style::rounded()).to_string()
}

fn line(r: &Row) -> Line {
    Line {
        layer: match (r.layer, r.proto) {
            (2, _) => "L2 arp".into(),
            (_, "icmp") => "L3 icmp".into(),
            (_, proto) => format!("L4 {proto}"),
        },
        from: r.from.clone(),
        to: r.to.clone(),
        address: r.address.to_string(),
        expect: match (r.expect, r.expect_text.is_empty()) {
            (true, true) => "reach".into(),
            (true, false) => format!("reach, {}", r.expect_text),
            (false, _) => "no reach".into(),
        },
        got: r.got.clone(),
        rtt: r
            .rtt_ms
            .map(|ms| format!("{ms:.2} ms"))
            .unwrap_or_else(|| "-".into()),
        verdict: if r.pass { "ok" } else { "FAIL" },
    }
}

/// The all-pairs matrix: a row per source, a column per destination; `✓` every address
/// answered, `✗` one did not, `·` the node itself.
pub fn matrix(v: &Verdict) -> String {
    let mut names: Vec<&str> = v.rows.iter().map(|r| r.from.as_str()).collect();
    names.extend(v.rows.iter().map(|r| r.to.as_str()));
    names.sort();
    names.dedup();
    let mut cell: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    for r in &v.rows {
        let e = cell.entry((r.from.as_str(), r.to.as_str())).or_insert(true);
        *e &= r.pass;
    }
    let mut builder = tabled::builder::Builder::default();
    let mut header = vec![String::from("from \\ to")];
    header.extend(names.iter().map(|n| n.to_string()));
    builder.push_record(header);
    for a in &names {
        let mut row = vec![a.to_string()];
        for b in &names {
            row.push(match cell.get(&(*a, *b)) {
                _ if a == b => "·".into(),
                Some(true) => "✓".into(),
                Some(false) => "✗".into(),
                None => " ".into(),
            });
        }
        builder.push_record(row);
    }
    builder.build().with(Style::rounded()).to_string()
}

/// Only the failing rows, for large runs where the full table would drown them.
pub fn failures(v: &Verdict) -> String {
    failures_first(v, usize::MAX)
}

/// The first `n` failing rows.
pub fn failures_first(v: &Verdict, n: usize) -> String {
    let lines: Vec<Line> = v
        .rows
        .iter()
        .filter(|r| !r.pass)
        .take(n)
        .map(line)
        .collect();
    Table::new(lines).with(Style::rounded()).to_string()
}
