//! vnet: a YAML description of a network becomes namespaces, links, bridges and routes,
//! is proven by probes, and is torn down without a trace.
//!
//! The modules are the pipeline, in order: topology → model → plan → apply → verify,
//! with journal → teardown on the way back.

pub mod apply;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod export;
pub(crate) mod generate;
pub(crate) mod journal;
/// Set when a command was asked for `--json`: its standard output is then exactly one JSON
/// document ([`jsonln!`]), and everything [`outln!`] says goes to standard error.
pub static JSON_ON_STDOUT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// `println!` that ignores a closed stdout (`vnet status | head`) instead of panicking; on
/// stderr when stdout is for a JSON document.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if $crate::JSON_ON_STDOUT.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr(), $($arg)*);
        } else {
            let _ = writeln!(std::io::stdout(), $($arg)*);
        }
    }};
}

/// Set once a command has printed its JSON document: a failure after it must not print a
/// second one.
pub static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The one JSON document of a `--json` command, on stdout.
#[macro_export]
macro_rules! jsonln {
    ($value:expr) => {{
        use std::io::Write as _;
        let text = serde_json::to_string_pretty(&$value).unwrap_or_default();
        let _ = writeln!(std::io::stdout(), "{text}");
        $crate::JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }};
}

/// `eprintln!` that ignores a closed stderr: a rollback must finish even if nobody listens.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod model;
pub mod plan;
pub(crate) mod report;
pub(crate) mod state;
pub(crate) mod teardown;
pub(crate) mod terminal;
pub mod topology;
pub(crate) mod verify;

/// Runs vnet with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    use clap::Parser;
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                commands::exit::USAGE
            } else {
                commands::exit::OK
            };
        }
    };
    // `vnet exec` becomes the user's command, which gets the user's limits.
    if !matches!(cli.command, cli::Command::Exec { .. }) {
        apply::exec::raise_open_file_limit();
    }
    let outcome = match state::check_root() {
        Some(why) => Err(commands::Error::StateDir { why }),
        None => commands::dispatch(cli),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            errln!("{:?}", miette::Report::new(e));
            code
        }
    }
}
