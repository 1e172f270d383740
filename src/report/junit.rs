//! JUnit XML: the report format every CI system reads (GitLab's `reports: junit`, Jenkins,
//! GitHub test-report actions). `tests/junit/junit.xsd` is the shape it must have.

use std::fmt::Write as _;

use super::cases::{Case, Outcome, Suite, errored, failed, skipped};

/// `&`, `<`, `>`, quotes, and characters XML 1.0 cannot hold (control characters other than
/// tab and line breaks, which a probe's error text could contain) as `?`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: line breaks kept as character references, or XML would read them as
/// spaces.
fn attr(text: &str) -> String {
    escape(text)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

fn seconds(s: f64) -> String {
    if s.is_finite() && s > 0.0 {
        format!("{s:.6}")
    } else {
        "0".into()
    }
}

fn case_xml(out: &mut String, c: &Case) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attr(&c.name),
        attr(&c.classname),
        seconds(c.seconds)
    );
    if let Some(file) = &c.file {
        let _ = write!(out, " file=\"{}\"", attr(file));
    }
    if let Some(line) = c.line {
        let _ = write!(out, " line=\"{line}\"");
    }
    let (tag, message, body) = match &c.outcome {
        Outcome::Passed => {
            out.push_str("/>\n");
            return;
        }
        Outcome::Failed { message, detail } => ("failure", message, Some(detail)),
        Outcome::Error { message, detail } => ("error", message, Some(detail)),
        Outcome::Skipped { message } => ("skipped", message, None),
    };
    out.push_str(">\n");
    let _ = write!(
        out,
        "      <{tag} message=\"{}\" type=\"vnet.{tag}\"",
        attr(message)
    );
    match body {
        Some(body) if !body.is_empty() => {
            let _ = writeln!(out, ">{}</{tag}>", escape(body));
        }
        _ => out.push_str("/>\n"),
    }
    out.push_str("    </testcase>\n");
}

/// The whole report: one `<testsuite>` per group of cases. `timestamp` is RFC 3339 (UTC).
pub(crate) fn render(name: &str, suites: &[Suite], timestamp: &str, hostname: &str) -> String {
    let total = |f: fn(&Outcome) -> bool| suites.iter().map(|s| s.count(f)).sum::<usize>();
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let time: f64 = suites.iter().map(|s| s.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        attr(name),
        total(failed),
        total(errored),
        seconds(time)
    );
    for s in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" hostname=\"{}\">",
            attr(&s.name),
            s.cases.len(),
            s.count(failed),
            s.count(errored),
            s.count(skipped),
            seconds(s.seconds),
            attr(timestamp),
            attr(hostname)
        );
        for c in &s.cases {
            case_xml(&mut out, c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Seconds since the epoch as RFC 3339 in UTC (`2026-05-01T12:00:00Z`), without a date crate.
pub(crate) fn rfc3339(epoch: u64) -> String {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_777_636_800), "2026-05-01T12:00:00Z");
    }

    #[test]
    fn text_is_escaped_and_counts_add_up() {
        let case = |outcome| Case {
            name: "a → b <\"x\"> & 'y'".into(),
            classname: "t.checks".into(),
            file: Some("t.yaml".into()),
            line: Some(3),
            column: Some(5),
            seconds: 0.001,
            seen: String::new(),
            outcome,
        };
        let suite = Suite {
            name: "t".into(),
            cases: vec![
                case(Outcome::Passed),
                case(Outcome::Failed {
                    message: "expected reach\ngot \u{1}none".into(),
                    detail: "a <b>".into(),
                }),
                case(Outcome::Skipped {
                    message: "no VLANs".into(),
                }),
            ],
            seconds: 2.0,
        };
        let xml = render("vnet test t.yaml", &[suite], &rfc3339(0), "box");
        assert!(
            xml.contains("name=\"a → b &lt;&quot;x&quot;&gt; &amp; &apos;y&apos;\""),
            "{xml}"
        );
        assert!(
            xml.contains("message=\"expected reach&#10;got ?none\""),
            "{xml}"
        );
        assert!(xml.contains(">a &lt;b&gt;</failure>"), "{xml}");
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"2.000000\""),
            "{xml}"
        );
        assert!(xml.contains("file=\"t.yaml\" line=\"3\""), "{xml}");
    }
}
