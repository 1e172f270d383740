//! vnet: a YAML description of a network becomes namespaces, links, bridges and routes,
//! is proven by probes, and is torn down without a trace.
//!
//! The modules are the pipeline, in order: topology → model → plan → apply → verify,
//! with journal → teardown on the way back.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod export;
pub mod generate;
pub mod journal;
/// `println!` that ignores a closed stdout (`vnet status | head`) instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
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
pub mod state;
pub mod teardown;
pub mod topology;
pub mod verify;

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
        raise_open_file_limit();
    }
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            errln!("{:?}", failure.report);
            failure.code
        }
    }
}

/// Raises the soft limit on open files to the hard one: a safety net. vnet keeps no
/// descriptor per namespace, and what it keeps at once (a bounded pool of namespaces,
/// probes in waves) is sized to what the limit leaves; should some path still need more, a
/// login shell's usual 1024 is then not what stops it. Never above the hard limit: that one
/// is the administrator's.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
