//! Diagnostics about what the user wrote: every one points at the file, all are reported at once.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceSpan};

pub(crate) type Src = NamedSource<Arc<str>>;

/// One problem in a topology file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<(SourceSpan, String)>,
    pub help: Option<String>,
    pub warning: bool,
    pub src: Src,
}

impl Problem {
    pub fn label(mut self, at: impl Into<SourceSpan>, text: impl Into<String>) -> Self {
        self.labels.push((at.into(), text.into()));
        self
    }

    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }

    pub fn maybe_help(mut self, text: Option<String>) -> Self {
        if text.is_some() {
            self.help = text;
        }
        self
    }

    pub fn warning(mut self) -> Self {
        self.warning = true;
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("vnet::{}", self.code)))
    }
    fn severity(&self) -> Option<Severity> {
        Some(if self.warning {
            Severity::Warning
        } else {
            Severity::Error
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().map(|(at, text)| {
            LabeledSpan::new_with_span(Some(text.clone()), *at)
        })))
    }
}

/// Collects problems while the file is read; cheap to clone its source into each problem.
pub(crate) struct Problems {
    src: Src,
    pub list: Vec<Problem>,
}

impl Problems {
    pub(crate) fn new(src: Src) -> Self {
        Problems {
            src,
            list: Vec::new(),
        }
    }

    /// Starts a problem; push it with [`Problems::push`].
    pub(crate) fn new_problem(&self, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            warning: false,
            src: self.src.clone(),
        }
    }

    pub(crate) fn push(&mut self, p: Problem) {
        self.list.push(p);
    }

    /// The usual shape: a message, one label, maybe a hint.
    pub(crate) fn error(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        at: impl Into<SourceSpan>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let p = self
            .new_problem(code, message)
            .label(at, label)
            .maybe_help(help);
        self.push(p);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.list.iter().any(|p| !p.warning)
    }
}

/// The whole verdict on a file: its errors (and warnings), as one diagnostic.
#[derive(Debug)]
pub struct InvalidTopology {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl InvalidTopology {
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| !p.warning).count()
    }
}

impl fmt::Display for InvalidTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "{}: {n} problem{s} in the topology", self.file)
    }
}

impl std::error::Error for InvalidTopology {}

impl Diagnostic for InvalidTopology {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("vnet::invalid_topology"))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

/// A valid lab refused before anything is created, for a reason of the machine's: each
/// problem pointed at the line that causes it.
#[derive(Debug)]
pub(crate) struct Refused {
    pub file: String,
    pub why: Refusal,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The kernel lacks features the lab needs.
    KernelLacks,
    /// The lab would change the machine in a way not asked for, or could not.
    ChangesMachine,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.why {
            Refusal::KernelLacks => "this machine's kernel cannot build this lab",
            Refusal::ChangesMachine => "this lab would change the machine itself",
        };
        write!(f, "{}: {why}; nothing was created", self.file)
    }
}

impl std::error::Error for Refused {}

impl Diagnostic for Refused {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(match self.why {
            Refusal::KernelLacks => "vnet::kernel_lacks",
            Refusal::ChangesMachine => "vnet::machine_refused",
        }))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.why {
            Refusal::KernelLacks => Some(Box::new("`vnet doctor` shows what this kernel supports")),
            Refusal::ChangesMachine => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

/// Renders a diagnostic the way a terminal shows it, without colour: for tests and logs.
pub(crate) fn render_plain(d: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
    // Rendering into a String cannot fail.
    let _ = handler.render_report(&mut out, d);
    out
}
