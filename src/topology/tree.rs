//! The YAML tree before it is read as a topology: tags vnet would otherwise act on silently
//! (`!!binary` decodes base64, `!foo` is dropped), and values too long to be anything vnet
//! reads.

use std::collections::HashSet;

use miette::SourceSpan;

use super::diag::Problems;
use super::yaml::{Node, Value};

/// The longest value vnet reads: a name, an address, an `exec:` script.
pub(crate) const MAX_SCALAR_BYTES: usize = 4096;

const CORE: &str = "tag:yaml.org,2002:";
/// Tags that only say what a plain value is anyway (`!!str 10` is the string "10").
const PLAIN: &[&str] = &["str", "int", "float", "bool", "null", "seq", "map"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    Readable,
    /// Some value is longer than [`MAX_SCALAR_BYTES`]: reported, and not to be read further.
    TooLong,
}

pub(crate) fn check(p: &mut Problems, root: &Node, text: &str) -> Values {
    let mut tags_seen = HashSet::new();
    let mut values = Values::Readable;
    root.walk(&mut |n| {
        if let Some(tag) = &n.tag {
            tag_problem(p, n, tag, text, &mut tags_seen);
        }
        if let Value::Str(s) = &n.value
            && s.len() > MAX_SCALAR_BYTES
        {
            values = Values::TooLong;
            let start = n.span.offset();
            let from = text.get(start..).unwrap_or_default();
            let line = from.split('\n').next().unwrap_or_default();
            let shown = super::input::cut(line).len();
            p.error(
                "value_too_long",
                format!(
                    "this value is {} bytes long; vnet reads values of at most {MAX_SCALAR_BYTES} bytes",
                    s.len()
                ),
                (start, shown),
                "the value starts here",
                Some("no name or address is this long; split a long `exec:` script into several commands, or let it run a script file".into()),
            );
        }
    });
    values
}

fn tag_problem(p: &mut Problems, n: &Node, tag: &str, text: &str, seen: &mut HashSet<usize>) {
    if tag == "!" || tag.strip_prefix(CORE).is_some_and(|t| PLAIN.contains(&t)) {
        return;
    }
    let value_at = n.span.offset();
    // An alias replays its anchor's tag: the anchor is where it was written and reported.
    if text.get(value_at..).is_some_and(|v| v.starts_with('*')) {
        return;
    }
    let at = tag_span(text, value_at).unwrap_or(n.span);
    if !seen.insert(at.offset()) {
        return;
    }
    let (message, help) = match tag.strip_prefix(CORE) {
        Some(core) => (
            format!("vnet does not read YAML `!!{core}` values"),
            "remove the tag: a topology holds plain strings, numbers, booleans, lists and mappings",
        ),
        None => (
            format!("unknown YAML tag `{tag}`"),
            "remove the tag; quote a value to make it a string (`\"10\"`)",
        ),
    };
    p.error(
        "yaml_tag",
        message,
        at,
        "vnet does not know what this tag means",
        Some(help.into()),
    );
}

/// Where the tag of the value at `value_at` is written: the token before the value, or the
/// one before that when an anchor (`&a !foo x`, `!foo &a x`) stands between.
fn tag_span(text: &str, value_at: usize) -> Option<SourceSpan> {
    let mut rest = text.get(..value_at)?.trim_end();
    for _ in 0..2 {
        let start = rest
            .rfind(|c: char| c.is_whitespace() || matches!(c, '[' | '{' | ','))
            .map_or(0, |i| i + 1);
        let token = &rest[start..];
        if token.starts_with('!') {
            return Some((start, token.len()).into());
        }
        if !token.starts_with('&') {
            return None;
        }
        rest = rest[..start].trim_end();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, String)> {
        let root = super::super::yaml::parse(text).unwrap();
        let src = miette::NamedSource::new("t.yaml", std::sync::Arc::<str>::from(text));
        let mut p = Problems::new(src);
        let _ = check(&mut p, &root, text);
        p.list
            .iter()
            .map(|x| {
                let at = x.labels[0].0;
                (
                    x.message.clone(),
                    text[at.offset()..at.offset() + at.len()].to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn tags_are_pointed_at_where_they_are_written() {
        let found =
            problems("a: !foo x\nb: [&k !!binary aGVsbG8=, *k]\nc: !bar\n  d: 1\ne: !!str 10\n");
        assert_eq!(
            found,
            [
                ("unknown YAML tag `!foo`".to_string(), "!foo".to_string()),
                (
                    "vnet does not read YAML `!!binary` values".to_string(),
                    "!!binary".to_string()
                ),
                ("unknown YAML tag `!bar`".to_string(), "!bar".to_string()),
            ]
        );
    }

    #[test]
    fn a_long_value_is_shown_by_its_start() {
        let text = format!("a: |\n{}", "  xxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(400));
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].0.starts_with("this value is 10000 bytes long"),
            "{found:?}"
        );
        assert!(found[0].1.len() <= super::super::input::EXCERPT_BYTES);
    }
}
