//! `vnet doctor`: what this machine's kernel can do for vnet, and what to do about the rest.

use serde::Serialize;
use tabled::{Table, Tabled};

use super::{Outcome, exit};
use crate::apply::probe::{self, Feature, Probe};

/// Width of the detail and hint columns: errors and hints run long, and wrapped at this width
/// the table fits a 120-column terminal.
const WRAP: usize = 40;

#[derive(Tabled)]
struct Row {
    feature: &'static str,
    available: &'static str,
    detail: String,
    #[tabled(rename = "what to do")]
    hint: String,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    feature: Feature,
    name: &'static str,
    available: bool,
    essential: bool,
    config: Option<&'static str>,
    detail: &'a str,
    hint: Option<&'a str>,
}

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    kernel: String,
    /// Whether vnet can build labs here at all.
    ok: bool,
    features: Vec<JsonRow<'a>>,
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

pub(super) fn doctor(json: bool) -> Outcome {
    let results = probe::probe_all();
    let lacking: Vec<&str> = results
        .iter()
        .filter(|(f, p)| f.essential() && !p.available)
        .map(|(f, _)| f.name())
        .collect();
    let ok = lacking.is_empty();
    if json {
        let report = Report {
            version: super::verify::JSON_VERSION,
            kernel: kernel_release(),
            ok,
            features: results.iter().map(|(f, p)| json_row(*f, p)).collect(),
        };
        crate::jsonln!(report);
    } else {
        let rows: Vec<Row> = results.iter().map(|(f, p)| table_row(*f, p)).collect();
        crate::outln!("kernel {}", kernel_release());
        crate::outln!("{}", crate::terminal::fit(Table::new(rows)));
        let optional_missing = results.iter().any(|(f, p)| !f.essential() && !p.available);
        if !ok {
            crate::outln!(
                "vnet cannot build labs here: {} not available",
                lacking.join(", ")
            );
        } else if optional_missing {
            crate::outln!(
                "vnet can build labs here; labs that need a feature marked `no` will not run"
            );
        } else {
            crate::outln!("vnet can build labs here, with every feature");
        }
    }
    Ok(if ok { exit::OK } else { exit::SYSTEM })
}

fn table_row(f: Feature, p: &Probe) -> Row {
    Row {
        feature: f.name(),
        available: if p.available { "yes" } else { "no" },
        detail: wrap(&p.detail, WRAP),
        hint: wrap(p.hint.as_deref().unwrap_or_default(), WRAP),
    }
}

/// Breaks `text` into lines of at most `width` characters at spaces; a longer word (a path)
/// gets a line of its own rather than being cut.
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

fn json_row(f: Feature, p: &Probe) -> JsonRow<'_> {
    JsonRow {
        feature: f,
        name: f.name(),
        available: p.available,
        essential: f.essential(),
        config: f.config(),
        detail: &p.detail,
        hint: p.hint.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(wrap("created a veth pair", 40), "created a veth pair");
        assert_eq!(
            wrap("creating a bridge with vlan_filtering 1: EOPNOTSUPP", 40),
            "creating a bridge with vlan_filtering 1:\nEOPNOTSUPP"
        );
        assert_eq!(
            wrap("deleted /run/netns/vnet-doctor-12345678901234567890123", 20),
            "deleted\n/run/netns/vnet-doctor-12345678901234567890123"
        );
        assert_eq!(wrap("", 40), "");
    }
}
