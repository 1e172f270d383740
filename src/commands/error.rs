//! Why a command could not do its job: one type, whose variant decides the exit code.

use std::io;

use miette::Diagnostic;
use thiserror::Error;

use super::exit;
use crate::apply::StepError;
use crate::topology::InvalidTopology;
use crate::topology::diag::Refused;

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum Error {
    // --- the command line (exit 2)
    #[error("{arg} is not a lab's name: {why}")]
    #[diagnostic(
        code(vnet::lab_name),
        help(
            "a lab's name is lowercase letters, digits and `-`, as in its topology's `name:`; `vnet status` lists running labs"
        )
    )]
    BadLabName { arg: String, why: String },

    #[error("{arg} is neither a topology file nor a lab's name")]
    #[diagnostic(
        code(vnet::lab_name),
        help("name a running lab (`vnet status` lists them) or its topology file")
    )]
    NotALab { arg: String },

    #[error("{why}")]
    #[diagnostic(
        code(vnet::state_dir),
        help("set VNET_STATE_DIR to an absolute path, or unset it to use /run/vnet")
    )]
    StateDir { why: String },

    #[error("{} labs are running ({}); which one?", labs.len(), labs.join(", "))]
    #[diagnostic(code(vnet::which_lab), help("name the lab: `{example}`"))]
    WhichLab {
        labs: Vec<String>,
        /// The command as typed, with `LAB` where the lab's name goes.
        example: String,
    },

    #[error("lab `{lab}` has no node {node}")]
    #[diagnostic(code(vnet::no_such_node), help("nodes of `{lab}`: {known}"))]
    NoSuchNode {
        lab: String,
        node: String,
        known: String,
    },

    #[error("node {node} has no interface {iface}")]
    #[diagnostic(code(vnet::no_such_interface), help("interfaces of {node}: {known}"))]
    NoSuchInterface {
        node: String,
        iface: String,
        known: String,
    },

    #[error("{0}")]
    #[diagnostic(code(vnet::usage))]
    Usage(String),

    // --- the topology (exit 3)
    #[error("cannot read {file}: {error}")]
    #[diagnostic(code(vnet::read))]
    Read { file: String, error: io::Error },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(Reported),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] InvalidTopology),

    #[error("a lab named `{lab}` is already running, from {file}")]
    #[diagnostic(
        code(vnet::lab_name_taken),
        help("give this lab another `name:`, or stop the other one with `vnet down {lab}`")
    )]
    NameTaken { lab: String, file: String },

    // --- the machine (exit 4)
    #[error("vnet needs root to create network namespaces")]
    #[diagnostic(
        code(vnet::not_root),
        help("run it with sudo; `vnet validate` works without root")
    )]
    NotRoot,

    #[error(transparent)]
    #[diagnostic(transparent)]
    Refused(#[from] Refused),

    #[error("no running lab `{lab}`")]
    #[diagnostic(
        code(vnet::not_running),
        help("`vnet status` lists running labs; `vnet up FILE` starts one")
    )]
    NotRunning { lab: String },

    #[error("no lab is running")]
    #[diagnostic(code(vnet::not_running), help("`vnet up FILE` starts one"))]
    NoneRunning,

    #[error("another vnet is working on lab `{lab}` right now")]
    #[diagnostic(
        code(vnet::busy),
        help("try again when it is done; `vnet status` shows the running labs")
    )]
    Busy { lab: String },

    #[error("lab `{lab}` is already running (from {from})")]
    #[diagnostic(
        code(vnet::already_running),
        help("`vnet down {lab}` first, or give this lab another `name:`")
    )]
    AlreadyRunning { lab: String, from: String },

    #[error("namespace `{ns}` already exists and is not part of a running lab")]
    #[diagnostic(
        code(vnet::netns_exists),
        help(
            "vnet never takes over what it did not create; remove it (`ip netns del {ns}`) if it is a leftover, or rename the lab"
        )
    )]
    NetnsExists { ns: String },

    #[error("interface `{name}` already exists on this machine")]
    #[diagnostic(
        code(vnet::interface_exists),
        help(
            "vnet never takes over what it did not create; choose another name for the machine's end of the link"
        )
    )]
    InterfaceExists { name: String },

    #[error("{dir} is in the way: {why}")]
    #[diagnostic(
        code(vnet::stale_state),
        help(
            "`vnet down {lab}` removes what carries the lab's mark; remove {dir} yourself if it is not vnet's"
        )
    )]
    StaleState {
        lab: String,
        dir: String,
        why: String,
    },

    #[error("cannot {what} in {dir}")]
    #[diagnostic(code(vnet::state))]
    State {
        what: &'static str,
        dir: String,
        #[source]
        error: io::Error,
    },

    #[error("cannot start netlink")]
    #[diagnostic(code(vnet::netlink))]
    Netlink(#[source] io::Error),

    #[error("{failed}\n{rolled}")]
    #[diagnostic(code(vnet::kernel))]
    Kernel {
        failed: StepError,
        rolled: String,
        #[help]
        hint: Option<String>,
    },

    #[error("cannot write the journal: {error}\n{rolled}")]
    #[diagnostic(code(vnet::journal))]
    Journal { error: io::Error, rolled: String },

    #[error("interrupted; {rolled}")]
    #[diagnostic(code(vnet::interrupted))]
    Interrupted { rolled: String },

    #[error("lab `{lab}` is not fully down:\n{}", indent(failures))]
    #[diagnostic(
        code(vnet::teardown),
        help("what could be removed was; the state is kept, so `vnet down {lab}` can try again")
    )]
    NotFullyDown { lab: String, failures: Vec<String> },

    #[error("could not remove lab(s): {}", .labs.join(", "))]
    #[diagnostic(code(vnet::teardown))]
    NotAllDown { labs: Vec<String> },

    #[error("cannot open namespace {ns}")]
    #[diagnostic(
        code(vnet::exec),
        help("`vnet status {lab}` shows whether its namespaces are there")
    )]
    OpenNamespace {
        lab: String,
        ns: String,
        #[source]
        error: io::Error,
    },

    #[error("cannot write the report {file}")]
    #[diagnostic(
        code(vnet::report),
        help("check that the directory exists and is writable")
    )]
    Report {
        file: String,
        #[source]
        error: io::Error,
    },

    #[error("cannot capture on {what}")]
    #[diagnostic(code(vnet::capture))]
    Capture {
        what: String,
        #[source]
        error: io::Error,
    },

    #[error("this kernel lacks {feature} ({config}): {detail}")]
    #[diagnostic(
        code(vnet::kernel_feature),
        help("nothing was changed; `vnet doctor` shows what this kernel can do")
    )]
    KernelLacks {
        feature: String,
        config: String,
        detail: String,
    },

    #[error("{what} failed")]
    #[diagnostic(
        code(vnet::attack),
        help("the attacker needs an interface on the victim's subnet, and both their namespaces")
    )]
    Attack {
        what: String,
        #[source]
        error: io::Error,
    },

    #[error("cannot run `{program}` in {ns}")]
    #[diagnostic(code(vnet::exec))]
    Exec {
        program: String,
        ns: String,
        #[source]
        error: io::Error,
    },
}

impl Error {
    /// The exit code this error means (the README's table).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::BadLabName { .. }
            | Error::NotALab { .. }
            | Error::StateDir { .. }
            | Error::WhichLab { .. }
            | Error::NoSuchNode { .. }
            | Error::NoSuchInterface { .. }
            | Error::Usage(_) => exit::USAGE,
            Error::Read { .. } | Error::Syntax(_) | Error::Invalid(_) | Error::NameTaken { .. } => {
                exit::INVALID
            }
            _ => exit::SYSTEM,
        }
    }
}

fn indent(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A report made elsewhere (serde-saphyr's syntax errors), kept with its own rendering.
pub(crate) struct Reported(pub miette::Report);

impl std::fmt::Debug for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Reported {}

impl Diagnostic for Reported {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.url()
    }
}
