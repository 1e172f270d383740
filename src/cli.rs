//! The command line: what a user types.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vnet",
    version,
    about = "Build virtual networks from YAML, prove they behave, tear them down without a trace",
    after_help = "Exit codes: 0 passed, 1 an expectation failed, 2 usage error, 3 invalid topology, 4 system error"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Progress {
    Auto,
    Always,
    Never,
}

/// How 802.1Q switches are built; `auto` picks native when the kernel can.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum VlanModeArg {
    Auto,
    Native,
    Emulated,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a topology file and report every problem at once (no root needed)
    Validate { file: PathBuf },
    /// Print the kernel operations `up` would perform, in `ip` syntax
    Plan {
        file: PathBuf,
        /// Which VLAN build to print (`auto` prints the native one)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
    },
    /// Build the lab: namespaces, links, bridges, addresses, routes
    Up {
        file: PathBuf,
        /// Progress display
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// 802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
    },
    /// Run the lab's `expect:` checks against the running lab
    Verify {
        /// The topology file (its checks are used) or the name of a running lab
        lab: String,
        /// Probe every host from every other host and print a matrix
        #[arg(long)]
        all_pairs: bool,
        /// Print the verdict as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show running labs, or one lab's nodes, interfaces and addresses
    Status {
        lab: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a node: `vnet exec [LAB] NODE -- CMD...`
    Exec {
        /// `LAB NODE`, or just `NODE` when one lab is running
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Remove exactly what vnet created for a lab; safe to repeat
    Down {
        /// A lab name or its topology file
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        lab: Option<String>,
        /// Every running lab
        #[arg(long)]
        all: bool,
    },
    /// up + verify + down; down always runs, also on failure and Ctrl-C
    Test {
        file: PathBuf,
        #[arg(long)]
        all_pairs: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// 802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
    },
    /// Check what this machine's kernel can do for vnet, and what to do about the rest
    Doctor {
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
}
