//! How a verdict reads: a table (or a matrix for all-pairs) and a one-line summary.

use std::collections::BTreeMap;

use tabled::{Table, Tabled};

use super::{Method, Row, Status, Verdict};
use crate::terminal::{count, fit, fit_to};

#[derive(Tabled)]
struct Line {
    check: String,
    address: String,
    probe: String,
    expect: String,
    got: String,
    verdict: &'static str,
}

pub(crate) fn summary(v: &Verdict) -> String {
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

pub(crate) fn table(v: &Verdict) -> String {
    let lines: Vec<Line> = v.rows.iter().map(line).collect();
    fit(Table::new(lines))
}

fn line(r: &Row) -> Line {
    Line {
        check: match r.method {
            Method::Neighbour => format!("{}'s entry for {}", r.from, r.address),
            _ => format!("{} → {}", r.from, r.to),
        },
        address: r.address.to_string(),
        probe: format!("L{} {}", r.layer, r.method.as_str()),
        expect: match (r.expect, r.expect_text.is_empty()) {
            // These say all they expect in words.
            _ if matches!(r.method, Method::Frame | Method::Neighbour) => r.expect_text.clone(),
            (true, true) => "reach".into(),
            (true, false) => format!("reach, {}", r.expect_text),
            (false, _) => "no reach".into(),
        },
        got: match (r.rtt_ms, r.try_no) {
            // The measurement is the row's news; the round trip of the probe that found the
            // way is another quantity, and would read as if it were the one measured.
            _ if r.measured.measuring() => r.got.clone(),
            (Some(ms), Some(t)) if t > 1 => format!("{} in {ms:.2} ms (try {t})", r.got),
            (Some(ms), _) => format!("{} in {ms:.2} ms", r.got),
            (None, _) => r.got.clone(),
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
pub(crate) fn matrix(v: &Verdict) -> String {
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
    // A matrix is read by its columns: it is never wrapped.
    format!("{}{legend}", fit_to(builder.build(), None))
}

/// Only the rows that did not pass, for large runs where the full table would drown them.
pub(crate) fn failures(v: &Verdict) -> String {
    failures_first(v, usize::MAX)
}

/// Why the failed checks failed (`vnet explain`'s verdict), if any was explained: each in at
/// most two lines of the terminal's width (`vnet explain` gives the whole of it).
pub(crate) fn explanations(v: &Verdict) -> Option<String> {
    let width = crate::terminal::width().unwrap_or(160).max(40);
    let lines: Vec<String> = v
        .rows
        .iter()
        .filter_map(|r| {
            let e = r.explanation.as_ref()?;
            Some(two_lines(
                &format!("why {} → {} ({}): {e}", r.from, r.to, r.address),
                width,
            ))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Words wrapped to `width`, the second line indented and cut with `…` if more would follow.
fn two_lines(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().map(|l| l.chars().count()).unwrap_or(0);
        let indent = if lines.len() > 1 { 2 } else { 0 };
        if line > indent && line + 1 + word.chars().count() > width {
            if lines.len() == 2 {
                let last = lines.last_mut().map(std::mem::take).unwrap_or_default();
                let cut: String = last.chars().take(width.saturating_sub(1)).collect();
                lines[1] = cut + "…";
                return lines.join("\n");
            }
            lines.push("  ".to_owned());
        }
        if let Some(l) = lines.last_mut() {
            if !l.trim().is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    // A single word longer than the line is cut too.
    lines
        .iter()
        .map(|l| {
            if l.chars().count() > width {
                l.chars().take(width - 1).collect::<String>() + "…"
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first `n` rows that did not pass.
pub(crate) fn failures_first(v: &Verdict, n: usize) -> String {
    let lines: Vec<Line> = v
        .rows
        .iter()
        .filter(|r| !r.pass)
        .take(n)
        .map(line)
        .collect();
    fit(Table::new(lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_take_two_lines_at_most() {
        let text = "why pc1 → srv (203.0.113.80): stops at gw: link gw:wan is down, so gw has no route to 203.0.113.80 and a good deal more that does not fit in two lines of forty";
        let out = two_lines(text, 40);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{out}");
        assert!(
            lines[1].starts_with("  ") && lines[1].ends_with('…'),
            "{out}"
        );
        assert_eq!(two_lines("short", 40), "short");
    }
    use crate::verify::transport::Listener;

    fn row(method: Method, to: &str, expect: bool, got: &str, verdict: Status) -> Row {
        Row {
            layer: method.layer(),
            method,
            from: "pc1".into(),
            to: to.into(),
            address: "10.0.1.12".parse().unwrap(),
            expect,
            expect_text: String::new(),
            got: got.into(),
            rtt_ms: (verdict == Status::Pass && expect).then_some(0.12),
            try_no: (verdict == Status::Pass && expect).then_some(if to == "pc3" { 2 } else { 1 }),
            listener: (method == Method::Tcp).then_some(Listener::Vnet),
            verdict,
            pass: verdict == Status::Pass,
            measured: Default::default(),
            explanation: None,
        }
    }

    fn verdict() -> Verdict {
        let rows = vec![
            row(Method::Icmp, "pc2", true, "reply", Status::Pass),
            row(Method::Icmp, "pc3", true, "reply", Status::Pass),
            row(Method::Arp, "pc2", true, "reply", Status::Pass),
            row(
                Method::Tcp,
                "web:80",
                true,
                "connected to vnet's listener, seen as 10.0.1.11 (pc1)",
                Status::Pass,
            ),
            row(Method::Icmp, "web", false, "reply", Status::Fail),
            row(
                Method::Icmp,
                "gone",
                true,
                "probe could not run: cannot enter lab.pc1: No such file or directory (os error 2)",
                Status::Error,
            ),
        ];
        Verdict {
            rows,
            passed: 4,
            failed: 1,
            errors: 1,
            seconds: 1.25,
        }
    }

    #[test]
    fn the_table_reads_as_the_readme_shows_it() {
        let v = verdict();
        let table = fit_to(
            Table::new(v.rows.iter().map(line).collect::<Vec<_>>()),
            None,
        );
        insta::assert_snapshot!(format!("{table}\n{}", summary(&v)));
    }

    #[test]
    fn the_table_fits_80_columns() {
        let v = verdict();
        let table = fit_to(
            Table::new(v.rows.iter().map(line).collect::<Vec<_>>()),
            Some(80),
        );
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
        insta::assert_snapshot!(table);
    }

    #[test]
    fn a_measuring_row_shows_its_measurement_not_the_probes_round_trip() {
        let mut r = row(
            Method::Icmp,
            "srv",
            true,
            "rtt 12.10 ms (< 60ms), 0/10 lost (<= 5%)",
            Status::Pass,
        );
        r.expect_text = "rtt < 60ms, loss <= 5%".into();
        r.measured.rtt_median_ms = Some(12.1);
        r.measured.loss_percent = Some(0.0);
        r.measured.probes = Some(10);
        let l = line(&r);
        assert_eq!(l.got, "rtt 12.10 ms (< 60ms), 0/10 lost (<= 5%)");
        assert_eq!(l.expect, "reach, rtt < 60ms, loss <= 5%");
        let mut r = row(
            Method::Tcp,
            "srv",
            true,
            "9.61 Mbit/s over 1.5 s (>= 9mbit)",
            Status::Pass,
        );
        r.measured.rate_mbit = Some(9.61);
        assert_eq!(line(&r).got, "9.61 Mbit/s over 1.5 s (>= 9mbit)");
    }

    #[test]
    fn the_matrix_marks_each_pair() {
        let mut v = verdict();
        v.rows.truncate(0);
        for (from, to, expect, status) in [
            ("a", "b", true, Status::Pass),
            ("b", "a", true, Status::Fail),
            ("a", "c", false, Status::Pass),
            ("c", "a", true, Status::Error),
        ] {
            let mut r = row(Method::Icmp, to, expect, "", status);
            r.from = from.into();
            v.rows.push(r);
        }
        insta::assert_snapshot!(matrix(&v));
    }
}
