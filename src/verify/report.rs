//! How a verdict reads: a table (or a matrix for all-pairs) and a one-line summary.

use std::collections::BTreeMap;

use tabled::{Table, Tabled};

use super::{Row, Status, Verdict};
use crate::terminal::{count, fit};

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
    let probes = count(n, "probe");
    if v.ok() {
        return format!("{probes}: all passed ({:.2} s)", v.seconds);
    }
    let mut parts = vec![format!("{} passed", v.passed)];
    if v.failed > 0 {
        parts.push(format!("{} failed", v.failed));
    }
    if v.errors > 0 {
        parts.push(format!("{} could not run", v.errors));
    }
    format!("{probes}: {} ({:.2} s)", parts.join(", "), v.seconds)
}

pub fn table(v: &Verdict) -> String {
    let lines: Vec<Line> = v.rows.iter().map(line).collect();
    fit(Table::new(lines))
}

fn line(r: &Row) -> Line {
    Line {
        layer: format!("L{} {}", r.layer, r.method.as_str()),
        from: r.from.clone(),
        to: r.to.clone(),
        address: r.address.to_string(),
        expect: match (r.expect, r.expect_text.is_empty()) {
            (true, true) => "reach".into(),
            (true, false) => format!("reach, {}", r.expect_text),
            (false, _) => "no reach".into(),
        },
        got: r.got.clone(),
        rtt: match (r.rtt_ms, r.try_no) {
            (Some(ms), Some(t)) if t > 1 => format!("{ms:.2} ms (try {t})"),
            (Some(ms), _) => format!("{ms:.2} ms"),
            (None, _) => "-".into(),
        },
        verdict: match r.verdict {
            Status::Pass => "ok",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
        },
    }
}

/// The all-pairs matrix: a row per source, a column per destination; `✓` every address
/// answered, `–` none did and the file expects that, `✗` a probe gave what the file does not
/// expect, `!` a probe could not run, `·` the node itself.
pub fn matrix(v: &Verdict) -> String {
    let mut names: Vec<&str> = v.rows.iter().map(|r| r.from.as_str()).collect();
    names.extend(v.rows.iter().map(|r| r.to.as_str()));
    names.sort();
    names.dedup();
    let mut cell: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for r in &v.rows {
        let mark = match (r.verdict, r.expect) {
            (Status::Error, _) => "!",
            (Status::Fail, _) => "✗",
            (Status::Pass, true) => "✓",
            (Status::Pass, false) => "–",
        };
        let e = cell.entry((r.from.as_str(), r.to.as_str())).or_insert(mark);
        // The worst of a pair's addresses shows.
        let rank = |m: &str| ["✓", "–", "✗", "!"].iter().position(|x| *x == m);
        if rank(mark) > rank(e) {
            *e = mark;
        }
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
                Some(m) => m.to_string(),
                None => " ".into(),
            });
        }
        builder.push_record(row);
    }
    let legend = if cell.values().any(|m| *m == "–") {
        "\n✓ reaches  – isolated, as the file expects  ✗ not as expected  ! could not run"
    } else {
        ""
    };
    format!("{}{legend}", fit(builder.build()))
}

/// Only the rows that did not pass, for large runs where the full table would drown them.
pub fn failures(v: &Verdict) -> String {
    failures_first(v, usize::MAX)
}

/// The first `n` rows that did not pass.
pub fn failures_first(v: &Verdict, n: usize) -> String {
    let lines: Vec<Line> = v
        .rows
        .iter()
        .filter(|r| !r.pass)
        .take(n)
        .map(line)
        .collect();
    fit(Table::new(lines))
}
