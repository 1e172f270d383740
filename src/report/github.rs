//! GitHub Actions: workflow-command annotations (`::error file=…,line=…::…`, shown on the
//! pull request's diff) and the Markdown of a job's step summary.

use super::cases::{Case, Outcome, Suite, errored, failed, skipped};
use super::located::Located;

/// A message of a workflow command: `%`, CR and LF would end or garble it.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property of a workflow command: also `:` and `,`, which separate properties.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

struct Place<'a> {
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
}

fn command(level: &str, at: &Place<'_>, title: &str, message: &str) -> String {
    let mut props = Vec::new();
    if let Some(file) = at.file {
        props.push(format!("file={}", property(file)));
        // A line without a file means nothing to GitHub.
        for (key, value) in [
            ("line", at.line),
            ("endLine", at.end_line),
            ("col", at.column),
            ("endColumn", at.end_column),
        ] {
            if let Some(v) = value {
                props.push(format!("{key}={v}"));
            }
        }
    }
    props.push(format!("title={}", property(title)));
    format!("::{level} {}::{}", props.join(","), data(message))
}

/// `::error file=lab.yaml,line=3,endLine=3,col=5,endColumn=11,title=vnet::unknown_key::…`
pub(crate) fn problem(p: &Located) -> String {
    let mut message = p.message.clone();
    if let Some(label) = &p.label {
        message.push_str(&format!(": {label}"));
    }
    if let Some(help) = &p.help {
        message.push_str(&format!("\n{help}"));
    }
    let level = if p.severity == "warning" {
        "warning"
    } else {
        "error"
    };
    let at = Place {
        file: p.file.as_deref(),
        line: p.line,
        column: p.column,
        end_line: p.end_line,
        end_column: p.end_column,
    };
    command(level, &at, p.code.as_deref().unwrap_or("vnet"), &message)
}

/// An annotation for a case that did not pass (a skipped one is a warning); `None` for a pass.
pub(crate) fn case(c: &Case) -> Option<String> {
    let (level, title, message) = match &c.outcome {
        Outcome::Passed => return None,
        Outcome::Failed { message, .. } => ("error", "vnet: check failed", message),
        Outcome::Error { message, .. } => ("error", "vnet: could not run", message),
        Outcome::Skipped { message } => ("warning", "vnet: not run", message),
    };
    let at = Place {
        file: c.file.as_deref(),
        line: c.line,
        column: c.column,
        end_line: None,
        end_column: None,
    };
    Some(command(
        level,
        &at,
        title,
        &format!("{}: {message}", c.name),
    ))
}

/// A table cell: `|` would end it, a line break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// Rows of passed cases shown in a summary; failures, errors and skips are always shown.
const PASSES_SHOWN: usize = 200;

/// The step summary: a heading, the counts, one table per suite (failures first), and a
/// diagram of the lab when one is given (Mermaid, from `vnet graph` once it exists).
pub(crate) fn summary(title: &str, suites: &[Suite], graph: Option<&str>) -> String {
    let total = |f: fn(&Outcome) -> bool| suites.iter().map(|s| s.count(f)).sum::<usize>();
    let cases: usize = suites.iter().map(|s| s.cases.len()).sum();
    let (bad, errors, skips) = (total(failed), total(errored), total(skipped));
    let verdict = if bad + errors == 0 && skips == 0 {
        "✅ all passed"
    } else if bad > 0 {
        "❌ failed"
    } else if errors > 0 {
        "⚠️ could not run"
    } else {
        "⏭️ not run"
    };
    let mut out = format!("### {}\n\n", cell(title));
    out.push_str(&format!(
        "**{verdict}**: {cases} cases, {} passed, {bad} failed, {errors} could not run, {skips} skipped\n\n",
        cases - bad - errors - skips
    ));
    for s in suites.iter().filter(|s| !s.cases.is_empty()) {
        out.push_str(&format!(
            "#### {} ({:.2} s)\n\n| | case | expected / why | seen |\n|---|---|---|---|\n",
            cell(&s.name),
            s.seconds
        ));
        let mut order: Vec<&Case> = s
            .cases
            .iter()
            .filter(|c| c.outcome != Outcome::Passed)
            .collect();
        let passed: Vec<&Case> = s
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Passed)
            .collect();
        order.extend(passed.iter().take(PASSES_SHOWN));
        for c in order {
            let (mark, why) = match &c.outcome {
                Outcome::Passed => ("✅", ""),
                Outcome::Failed { message, .. } => ("❌", message.as_str()),
                Outcome::Error { message, .. } => ("⚠️", message.as_str()),
                Outcome::Skipped { message } => ("⏭️", message.as_str()),
            };
            let place = match (&c.file, c.line) {
                (Some(f), Some(l)) => format!(" <sub>{}:{l}</sub>", cell(f)),
                _ => String::new(),
            };
            out.push_str(&format!(
                "| {mark} | {}{place} | {} | {} |\n",
                cell(&c.name),
                cell(why),
                cell(&c.seen)
            ));
        }
        if passed.len() > PASSES_SHOWN {
            out.push_str(&format!(
                "\n… and {} more passed (the JUnit report and `--json` have every one)\n",
                passed.len() - PASSES_SHOWN
            ));
        }
        out.push('\n');
    }
    if let Some(graph) = graph {
        out.push_str(&format!("```mermaid\n{graph}\n```\n\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_what_would_end_them() {
        let p = Located {
            file: Some("labs/a,b.yaml".into()),
            line: Some(3),
            column: Some(5),
            end_line: Some(3),
            end_column: Some(11),
            severity: "error",
            code: Some("vnet::unknown_key".into()),
            message: "unknown key `colour` in host `h1`".into(),
            label: Some("not a known key here".into()),
            help: Some("100% sure: did you mean `kind`?".into()),
        };
        assert_eq!(
            problem(&p),
            "::error file=labs/a%2Cb.yaml,line=3,endLine=3,col=5,endColumn=11,title=vnet%3A%3Aunknown_key::unknown key `colour` in host `h1`: not a known key here%0A100%25 sure: did you mean `kind`?"
        );
    }

    #[test]
    fn a_summary_lists_failures_first() {
        let case = |name: &str, outcome| Case {
            name: name.into(),
            classname: "t.checks".into(),
            file: Some("t.yaml".into()),
            line: Some(4),
            column: Some(5),
            seconds: 0.0,
            seen: "no reply".into(),
            outcome,
        };
        let s = Suite {
            name: "lab `t`: checks".into(),
            cases: vec![
                case("a → b (icmp)", Outcome::Passed),
                case(
                    "a → c (icmp)",
                    Outcome::Failed {
                        message: "expected reach, got no reply".into(),
                        detail: String::new(),
                    },
                ),
            ],
            seconds: 1.0,
        };
        let md = summary("vnet test t.yaml", &[s], None);
        assert!(
            md.contains("**❌ failed**: 2 cases, 1 passed, 1 failed"),
            "{md}"
        );
        let fail = md.find("a → c").unwrap();
        assert!(fail < md.find("a → b").unwrap(), "{md}");
        assert!(md.contains("| ❌ | a → c (icmp) <sub>t.yaml:4</sub> | expected reach, got no reply | no reply |"), "{md}");
    }
}
