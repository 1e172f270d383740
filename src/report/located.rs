//! A diagnostic's problems with their place in the file: file, line, column (1-based).

use miette::{Diagnostic, Severity};
use serde::Serialize;

/// One problem, where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Located {
    /// The file as named on the command line; `None` when the problem has no place in one.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// `vnet::unknown_key`, ...
    pub code: Option<String>,
    pub message: String,
    /// What the label at the place says (`not a known key here`).
    pub label: Option<String>,
    pub help: Option<String>,
}

/// 1-based line and column (in characters) of a byte offset into `text`; an offset past the
/// end, or inside a character, counts as the nearest place before it.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The problems a diagnostic stands for: its related ones when it has them (an invalid
/// topology is a list of problems), else itself.
pub(crate) fn located(d: &dyn Diagnostic) -> Vec<Located> {
    let related: Vec<&dyn Diagnostic> = d.related().map(|r| r.collect()).unwrap_or_default();
    if related.is_empty() {
        vec![one(d, d.source_code())]
    } else {
        // A related problem without source of its own is read against its parent's.
        related
            .into_iter()
            .map(|r| one(r, r.source_code().or(d.source_code())))
            .collect()
    }
}

fn one(d: &dyn Diagnostic, src: Option<&dyn miette::SourceCode>) -> Located {
    let label = d.labels().and_then(|mut l| l.next());
    let mut at = Located {
        file: None,
        line: None,
        column: None,
        end_line: None,
        end_column: None,
        severity: match d.severity() {
            Some(Severity::Warning) | Some(Severity::Advice) => "warning",
            _ => "error",
        },
        code: d.code().map(|c| c.to_string()),
        message: d.to_string(),
        label: label.as_ref().and_then(|l| l.label().map(str::to_owned)),
        help: d.help().map(|h| h.to_string()),
    };
    if let (Some(label), Some(src)) = (label, src) {
        if let Ok(start) = src.read_span(label.inner(), 0, 0) {
            at.file = start.name().map(str::to_owned);
            at.line = Some(start.line() + 1);
            at.column = Some(start.column() + 1);
        }
        let end: miette::SourceSpan = (label.offset() + label.len(), 0).into();
        if let Ok(end) = src.read_span(&end, 0, 0) {
            at.end_line = Some(end.line() + 1);
            at.end_column = Some(end.column() + 1);
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_from_one_in_characters() {
        let text = "a: 1\nnöde: x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 5), (2, 1));
        // `x` is after the two-byte `ö`: column 7 in characters.
        assert_eq!(line_col(text, 12), (2, 7));
        assert_eq!(line_col(text, 7), (2, 2), "inside `ö`: its start");
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn an_invalid_topology_is_located_problem_by_problem() {
        let err = crate::topology::parse(
            "lab.yaml",
            "lab",
            b"nodes:\n  h1: {colour: red}\n  b1: {kind: brige}\n",
        )
        .unwrap_err();
        let crate::topology::LoadError::Invalid(invalid) = err else {
            panic!("invalid")
        };
        let all = located(&invalid);
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].file.as_deref(), Some("lab.yaml"));
        assert_eq!((all[0].line, all[0].column), (Some(2), Some(8)));
        assert_eq!((all[0].end_line, all[0].end_column), (Some(2), Some(14)));
        assert_eq!(all[0].code.as_deref(), Some("vnet::unknown_key"));
        assert_eq!(all[0].message, "unknown key `colour` in host `h1`");
        assert_eq!(all[1].help.as_deref(), Some("did you mean `bridge`?"));
        assert_eq!(all[1].severity, "error");
    }
}
