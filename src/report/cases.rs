//! A verdict as test cases: one per probe of a check, one for an all-pairs run, one per
//! topology problem or missing kernel feature, one for a command that failed before probing.
//! JUnit, annotations and step summaries are all written from these.

use crate::model::{Check, Lab, Proto, Stage};
use crate::verify::{Row, Status, Verdict};

use super::located::{Located, line_col};

/// How a test case ended, with what a person needs to read in the report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Passed,
    /// What was expected was not seen.
    Failed {
        message: String,
        detail: String,
    },
    /// The probe (or the command) could not run.
    Error {
        message: String,
        detail: String,
    },
    /// Not run: the kernel lacks what it needs.
    Skipped {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    /// `pc1 → pc2 (icmp)`: what a person recognises.
    pub name: String,
    /// Groups the cases: `<lab>.checks`, `<lab>.all-pairs`, `<lab>.topology`, `vnet`.
    pub classname: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub seconds: f64,
    /// What was seen, in a few words, for summaries: `reply, 0.09 ms`.
    pub seen: String,
    pub outcome: Outcome,
}

/// A group of cases: the lab's checks, its all-pairs run, its topology problems.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
    /// Wall time of the whole group (probes run at once, so not the sum of the cases).
    pub seconds: f64,
}

impl Suite {
    pub(crate) fn count(&self, f: fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }
}

pub(crate) fn failed(o: &Outcome) -> bool {
    matches!(o, Outcome::Failed { .. })
}

pub(crate) fn errored(o: &Outcome) -> bool {
    matches!(o, Outcome::Error { .. })
}

pub(crate) fn skipped(o: &Outcome) -> bool {
    matches!(o, Outcome::Skipped { .. })
}

/// The topology file the checks were read from, and its text (for their lines), when the
/// text is the one the lab was built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: Option<&'a str>,
}

/// How a check's target reads in its row: `web`, `10.0.2.1`, `web:8080`.
fn target_text(lab: &Lab, c: &Check) -> String {
    match c.port {
        Some(port) => format!("{}:{port}", lab.target_label(&c.to)),
        None => lab.target_label(&c.to),
    }
}

/// Whether a row can be one of this check's probes.
fn row_of(lab: &Lab, c: &Check, r: &Row) -> bool {
    let transport = matches!(c.proto, Proto::Tcp | Proto::Udp) && c.port.is_some();
    lab.nodes.get(c.from).is_some_and(|n| n.name == r.from)
        && target_text(lab, c) == r.to
        && c.reach == r.expect
        && (c.layer == 2) == (r.layer == 2)
        && (c.layer != 2 && transport) == (r.layer == 4)
}

/// The check each row was probed for. Rows come in the order of the checks, each check's
/// probes together (one per address); a check may have none (no address of a version its
/// source has). A row that fits no check (it should not happen) gets `None`.
pub(crate) fn checks_of_rows(lab: &Lab, checks: &[Check], rows: &[Row]) -> Vec<Option<usize>> {
    let mut out = Vec::with_capacity(rows.len());
    let mut ci = 0;
    let mut seen: Vec<std::net::IpAddr> = Vec::new();
    for r in rows {
        let mut k = ci;
        // The same check never probes one address twice: a repeat is the next check's.
        while k < checks.len()
            && !(row_of(lab, &checks[k], r) && (k != ci || !seen.contains(&r.address)))
        {
            k += 1;
        }
        if k == checks.len() {
            out.push(None);
            continue;
        }
        if k != ci {
            seen.clear();
            ci = k;
        }
        seen.push(r.address);
        out.push(Some(k));
    }
    out
}

fn expected(r: &Row) -> String {
    let reach = if r.expect { "reach" } else { "no reach" };
    if r.expect_text.is_empty() {
        reach.to_owned()
    } else {
        format!("{reach}, {}", r.expect_text)
    }
}

fn round_trip(r: &Row) -> Option<String> {
    let rtt = r.rtt_ms?;
    Some(match r.try_no {
        Some(n) if n > 1 => format!("{rtt} ms (try {n})"),
        _ => format!("{rtt} ms"),
    })
}

/// What a row says, line by line, for a report's body.
fn detail(r: &Row, check: Option<&str>, place: Option<&str>) -> String {
    let mut lines = Vec::new();
    if let Some(text) = check {
        lines.push(format!("check: {text}"));
    }
    if let Some(place) = place {
        lines.push(format!("at: {place}"));
    }
    lines.push(format!("from: {}", r.from));
    if r.to == r.address.to_string() {
        lines.push(format!("to: {}", r.to));
    } else {
        lines.push(format!("to: {} ({})", r.to, r.address));
    }
    lines.push(format!("probe: {} (layer {})", r.method.as_str(), r.layer));
    lines.push(format!("expected: {}", expected(r)));
    lines.push(format!("got: {}", r.got));
    if let Some(rtt) = round_trip(r) {
        lines.push(format!("round trip: {rtt}"));
    }
    if let Some(l) = r.listener {
        lines.push(format!(
            "listener: {}",
            serde_json::to_value(l)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ));
    }
    lines.join("\n")
}

/// The check as written in the file: its line from where it starts (a flow mapping is all
/// there; a block mapping shows its first key), cut short.
fn written(text: &str, c: &Check) -> Option<String> {
    let rest = text.get(c.at.offset..)?;
    let line = rest.lines().next()?.trim();
    let cut: String = line.chars().take(120).collect();
    Some(if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    })
}

/// One case per probe of the lab's checks.
/// The cases of a run of checks: `checks` are the file's (the top-level `expect:` or a stage's),
/// `group` names them in the class name (`checks`, `stage 1`).
pub(crate) fn check_cases(
    lab: &Lab,
    checks: &[Check],
    group: &str,
    src: Source<'_>,
    v: &Verdict,
) -> Vec<Case> {
    let owners = checks_of_rows(lab, checks, &v.rows);
    let probes_of = |ci: usize| owners.iter().filter(|o| **o == Some(ci)).count();
    v.rows
        .iter()
        .zip(&owners)
        .map(|(r, owner)| {
            let check = owner.and_then(|ci| checks.get(ci));
            // A check to a node probes each of its addresses: the address tells them apart.
            let several = owner.is_some_and(|ci| probes_of(ci) > 1);
            let to = if several && r.to != r.address.to_string() {
                format!("{} {}", r.to, r.address)
            } else {
                r.to.clone()
            };
            let negated = if r.expect { "" } else { ", must not reach" };
            let name = format!("{} → {to} ({}{negated})", r.from, r.method.as_str());
            let (line, column) = match (check, src.text) {
                (Some(c), Some(text)) => {
                    let (l, col) = line_col(text, c.at.offset);
                    (Some(l), Some(col))
                }
                _ => (None, None),
            };
            let place = line.map(|l| format!("{}:{l}", src.file));
            let written = check.zip(src.text).and_then(|(c, t)| written(t, c));
            let body = detail(r, written.as_deref(), place.as_deref());
            let outcome = match r.verdict {
                Status::Pass => Outcome::Passed,
                Status::Fail => Outcome::Failed {
                    message: format!("expected {}, got {}", expected(r), r.got),
                    detail: body,
                },
                Status::Error => Outcome::Error {
                    message: r.got.clone(),
                    detail: body,
                },
            };
            Case {
                name,
                classname: format!("{}.{group}", lab.name),
                file: Some(src.file.to_owned()),
                line,
                column,
                seconds: r.rtt_ms.map_or(0.0, |ms| ms / 1000.0),
                seen: match round_trip(r) {
                    Some(rtt) => format!("{}, {rtt}", r.got),
                    None => r.got.clone(),
                },
                outcome,
            }
        })
        .collect()
}

/// Failing pairs named in a message before "and N more".
const PAIRS_NAMED: usize = 10;

/// The all-pairs run as one case: the pairs that were not as expected in its message.
pub(crate) fn all_pairs_case(lab: &Lab, src: Source<'_>, v: &Verdict) -> Case {
    let pair = |r: &Row| {
        format!(
            "{} → {} ({}): expected {}, got {}",
            r.from,
            r.to,
            r.address,
            expected(r),
            r.got
        )
    };
    let bad: Vec<&Row> = v
        .rows
        .iter()
        .filter(|r| r.verdict != Status::Pass)
        .collect();
    let named: Vec<String> = bad.iter().take(PAIRS_NAMED).map(|r| pair(r)).collect();
    let more = bad.len().saturating_sub(PAIRS_NAMED);
    let mut message = named.join("; ");
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    let detail = bad.iter().map(|r| pair(r)).collect::<Vec<_>>().join("\n");
    let outcome = if v.failed > 0 {
        Outcome::Failed {
            message: if v.errors > 0 {
                format!(
                    "{} of {} pairs not as the file expects, {} could not run: {message}",
                    v.failed,
                    v.rows.len(),
                    v.errors
                )
            } else {
                format!(
                    "{} of {} pairs not as the file expects: {message}",
                    v.failed,
                    v.rows.len()
                )
            },
            detail,
        }
    } else if v.errors > 0 {
        Outcome::Error {
            message: format!(
                "{} of {} probes could not run: {message}",
                v.errors,
                v.rows.len()
            ),
            detail,
        }
    } else {
        Outcome::Passed
    };
    Case {
        name: format!("all pairs ({} probes)", v.rows.len()),
        classname: format!("{}.all-pairs", lab.name),
        file: Some(src.file.to_owned()),
        line: None,
        column: None,
        seconds: v.seconds,
        seen: format!(
            "{} passed, {} failed, {} could not run",
            v.passed, v.failed, v.errors
        ),
        outcome,
    }
}

/// A problem as a case: an error (the topology is invalid), or skipped (the kernel lacks a
/// feature the lab needs, so it was not run).
pub(crate) fn problem_case(group: &str, p: &Located, skip: bool) -> Case {
    let mut message = p.message.clone();
    if let Some(label) = &p.label {
        message.push_str(&format!(" ({label})"));
    }
    if let Some(help) = &p.help {
        message.push_str(&format!("; {help}"));
    }
    let place = match (&p.file, p.line, p.column) {
        (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: "),
        _ => String::new(),
    };
    Case {
        name: format!("{group}: {}", p.message),
        classname: group.to_owned(),
        file: p.file.clone(),
        line: p.line,
        column: p.column,
        seconds: 0.0,
        seen: p.label.clone().unwrap_or_default(),
        outcome: if skip {
            Outcome::Skipped { message }
        } else {
            Outcome::Error {
                detail: format!("{place}{message}"),
                message,
            }
        },
    }
}

/// A stage whose action could not be done: one error case at the stage, and the scenario
/// ends there.
pub(crate) fn stage_error_case(
    lab: &Lab,
    group: &str,
    stage: &Stage,
    src: Source<'_>,
    why: &str,
) -> Case {
    let (line, column) = match src.text {
        Some(text) => {
            let (l, c) = line_col(text, stage.at.offset);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    let message = format!("an action could not be done: {why}");
    let place = line.map_or(String::new(), |l| format!("{}:{l}: ", src.file));
    Case {
        name: format!("stage `{}`: its actions", stage.name),
        classname: format!("{}.{group}", lab.name),
        file: Some(src.file.to_owned()),
        line,
        column,
        seconds: 0.0,
        seen: why.to_owned(),
        outcome: Outcome::Error {
            detail: format!("{place}{message}"),
            message,
        },
    }
}

/// A command that failed before it could probe anything: one error case.
pub(crate) fn command_case(name: &str, group: &str, message: &str, detail: &str) -> Case {
    Case {
        name: name.to_owned(),
        classname: group.to_owned(),
        file: None,
        line: None,
        column: None,
        seconds: 0.0,
        seen: String::new(),
        outcome: Outcome::Error {
            message: message.to_owned(),
            detail: detail.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lab() -> (Lab, String) {
        let text = "name: t\nnodes:\n  a: {interfaces: {eth0: [10.0.0.1/24, fd00::1/64]}}\n  b: {interfaces: {eth0: [10.0.0.2/24, fd00::2/64]}}\nlinks:\n  - [a:eth0, b:eth0]\nexpect:\n  - {from: a, to: b}\n  - {from: a, to: b}\n  - {from: a, to: 10.0.0.9, reach: false}\n  - {from: a, to: 'b:80', proto: tcp}\n  - {from: a, to: b, layer: 2}\n";
        let lab = crate::topology::parse("t.yaml", "t", text.as_bytes())
            .unwrap()
            .lab;
        (lab, text.to_owned())
    }

    pub(crate) fn row(
        from: &str,
        to: &str,
        addr: &str,
        method: crate::verify::Method,
        expect: bool,
        verdict: Status,
    ) -> Row {
        Row {
            layer: method.layer(),
            method,
            from: from.into(),
            to: to.into(),
            address: addr.parse().unwrap(),
            expect,
            expect_text: String::new(),
            got: if verdict == Status::Pass {
                "reply".into()
            } else {
                "no reply".into()
            },
            rtt_ms: (verdict == Status::Pass).then_some(0.25),
            try_no: Some(1),
            listener: None,
            verdict,
            pass: verdict == Status::Pass,
            measured: Default::default(),
            explanation: None,
        }
    }

    pub(crate) fn verdict(rows: Vec<Row>) -> Verdict {
        let count = |s: Status| rows.iter().filter(|r| r.verdict == s).count();
        Verdict {
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            errors: count(Status::Error),
            rows,
            seconds: 1.5,
        }
    }

    pub(crate) fn rows() -> Vec<Row> {
        use crate::verify::Method::*;
        vec![
            row("a", "b", "10.0.0.2", Icmp, true, Status::Pass),
            row("a", "b", "fd00::2", Icmp, true, Status::Pass),
            row("a", "b", "10.0.0.2", Icmp, true, Status::Fail),
            row("a", "b", "fd00::2", Icmp, true, Status::Pass),
            row("a", "10.0.0.9", "10.0.0.9", Icmp, false, Status::Pass),
            row("a", "b:80", "10.0.0.2", Tcp, true, Status::Error),
            row("a", "b:80", "fd00::2", Tcp, true, Status::Pass),
            row("a", "b", "10.0.0.2", Arp, true, Status::Pass),
        ]
    }

    #[test]
    fn rows_are_matched_to_their_checks_also_when_a_check_repeats() {
        let (lab, _) = lab();
        assert_eq!(
            checks_of_rows(&lab, &lab.checks, &rows()),
            [
                Some(0),
                Some(0),
                Some(1),
                Some(1),
                Some(2),
                Some(3),
                Some(3),
                Some(4)
            ]
        );
    }

    #[test]
    fn cases_are_named_placed_and_judged() {
        let (lab, text) = lab();
        let cases = check_cases(
            &lab,
            &lab.checks,
            "checks",
            Source {
                file: "t.yaml",
                text: Some(&text),
            },
            &verdict(rows()),
        );
        assert_eq!(cases[0].name, "a → b 10.0.0.2 (icmp)");
        assert_eq!(cases[4].name, "a → 10.0.0.9 (icmp, must not reach)");
        assert_eq!(
            cases[7].name, "a → b (arp)",
            "one address: no address in the name"
        );
        assert_eq!(
            (cases[0].line, cases[2].line, cases[7].line),
            (Some(8), Some(9), Some(12))
        );
        assert_eq!(cases[0].outcome, Outcome::Passed);
        let Outcome::Failed { message, detail } = &cases[2].outcome else {
            panic!("{:?}", cases[2].outcome)
        };
        assert_eq!(message, "expected reach, got no reply");
        assert!(
            detail.contains("check: {from: a, to: b}\nat: t.yaml:9"),
            "{detail}"
        );
        assert!(matches!(cases[5].outcome, Outcome::Error { .. }));
        assert_eq!(cases[0].seconds, 0.00025);
    }

    #[test]
    fn all_pairs_is_one_case_naming_its_failing_pairs() {
        let (lab, _) = lab();
        let src = Source {
            file: "t.yaml",
            text: None,
        };
        let case = all_pairs_case(&lab, src, &verdict(rows()));
        let Outcome::Failed { message, .. } = &case.outcome else {
            panic!("{:?}", case.outcome)
        };
        assert!(message.starts_with("1 of 8 pairs not as the file expects, 1 could not run: a → b (10.0.0.2): expected reach, got no reply"), "{message}");
        assert_eq!(case.name, "all pairs (8 probes)");
    }
}
