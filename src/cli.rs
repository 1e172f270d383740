//! The command line: what a user types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// No GitHub Actions annotations or step summary, even under GitHub Actions (as
    /// VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)
    #[arg(long, global = true)]
    pub no_annotations: bool,
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
    Validate {
        file: PathBuf,
        /// Print the verdict and every problem (file, line, column) as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the kernel operations `up` would perform, in `ip` syntax
    Plan {
        file: PathBuf,
        /// Which VLAN build to print (`auto` prints the native one)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
        /// Print the stages and their steps as JSON
        #[arg(long)]
        json: bool,
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
        /// Let `nat:` on `host` add the lab's table to the machine's nftables ruleset and turn
        /// on its IPv4 forwarding (both undone by `down`)
        #[arg(long)]
        allow_machine_nat: bool,
        /// Let `routes:` on `host` take over the machine's default route (a default route, or
        /// a prefix shorter than /8 or /16; gone when `down` removes the lab's links), and
        /// `host:` take an address on a subnet the machine is already on
        #[arg(long)]
        allow_machine_routes: bool,
        /// Print what was made, and how long each stage took, as JSON
        #[arg(long)]
        json: bool,
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
        /// Every row (and the all-pairs matrix) however large the lab; by default a large
        /// run shows its summary and its failures
        #[arg(long)]
        full: bool,
        /// Also run the file's `stages:` (actions that change the lab, each followed by its
        /// checks); `vnet test` always does
        #[arg(long)]
        stages: bool,
        /// Progress display
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// Also write the verdict as a JUnit XML report to FILE (one test case per check)
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Show running labs, or one lab's nodes, interfaces and addresses
    Status {
        lab: Option<String>,
        #[arg(long)]
        json: bool,
        /// Every node of the lab, however many (by default a summary and the first 20)
        #[arg(long)]
        all: bool,
    },
    /// Run a command inside a node (`vnet exec [LAB] NODE -- CMD...`), or without one a shell
    /// whose prompt names the lab and node
    Exec {
        /// `LAB NODE`, or just `NODE` when one lab is running
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
        /// The command and its arguments; none: `$SHELL` (or /bin/sh), prompt `[LAB.NODE] `
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Impair what a node's interface sends in a running lab (netem, TBF), or --clear it
    Impair {
        /// The running lab
        lab: String,
        /// The sending end, `NODE:IFACE` (an end of a veth link)
        end: String,
        /// One-way delay: 40ms, 250us, 1s
        #[arg(long, allow_hyphen_values = true)]
        delay: Option<String>,
        /// Jitter of the delay, optionally with its correlation: "5ms" or "5ms 25%"
        #[arg(long, allow_hyphen_values = true)]
        jitter: Option<String>,
        /// Random loss: 1%, or "1% 25%" with a correlation
        #[arg(long, allow_hyphen_values = true)]
        loss: Option<String>,
        /// Duplicated packets: 1%
        #[arg(long, allow_hyphen_values = true)]
        duplicate: Option<String>,
        /// Packets sent ahead of the delayed others: 25% (needs --delay)
        #[arg(long, allow_hyphen_values = true)]
        reorder: Option<String>,
        /// Packets with a flipped bit: 0.1%
        #[arg(long, allow_hyphen_values = true)]
        corrupt: Option<String>,
        /// A rate limit: 10mbit, 500kbit, 1gbit
        #[arg(long, allow_hyphen_values = true)]
        rate: Option<String>,
        /// Remove every impairment of the interface (also the file's)
        #[arg(long, conflicts_with_all = ["delay", "jitter", "loss", "duplicate", "reorder", "corrupt", "rate"])]
        clear: bool,
    },
    /// Attack a running lab on purpose, in process: `vnet attack arp-spoof LAB ATTACKER
    /// --claim IP --to VICTIM`
    Attack {
        #[command(subcommand)]
        attack: AttackKind,
    },
    /// Take a node's interface in a running lab down or up, or flap it (--every 2s --times 5)
    Link {
        /// The running lab
        lab: String,
        /// `NODE:IFACE` (an end of a veth link)
        end: String,
        /// `down` or `up`
        #[arg(value_parser = ["down", "up"])]
        state: String,
        /// Flap (with `down`): down, wait this long, up, wait, ... ending up (`2s`, `500ms`;
        /// at least 10ms); Ctrl-C stops it with the link up (exit 4)
        #[arg(long)]
        every: Option<String>,
        /// How many times to flap with --every (1 or more)
        #[arg(long, default_value_t = 5, requires = "every")]
        times: u32,
    },
    /// Watch frames on nodes' interfaces: `vnet capture [LAB] NODE:IF... [-w FILE|-]`
    Capture {
        /// `[LAB] NODE:IF [NODE:IF ...]`; LAB may be left out when one lab is running
        #[arg(required = true, num_args = 1.., value_name = "LAB|NODE:IF")]
        target: Vec<String>,
        /// Write a pcap file (`-` for standard output: `| wireshark -k -i -`) instead of a
        /// line per frame; pcapng when FILE ends in `.pcapng`
        #[arg(short = 'w', long = "write", value_name = "FILE")]
        write: Option<PathBuf>,
        /// The file's format: pcap, or pcapng, which keeps each frame's interface
        /// (default: from -w's extension, else pcap)
        #[arg(long, value_enum, requires = "write")]
        format: Option<CaptureFormat>,
        /// Stop after N frames (1 or more)
        #[arg(short = 'c', long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this long (`500ms`, `10s`, `2m`)
        #[arg(long, value_name = "DUR", value_parser = duration)]
        timeout: Option<std::time::Duration>,
    },
    /// Why a packet from FROM reaches TO or not: the path hop by hop, from each namespace's
    /// kernel state (or, for a lab not running, from the file), and where it stops and why
    Explain {
        /// A running lab's name, or a topology file (its running lab, else the file itself)
        lab: String,
        /// The node the packet is sent from
        from: String,
        /// A node, an address, or `node:PORT` / `ADDRESS:PORT` for TCP or UDP
        to: String,
        /// TCP or UDP (default: ICMP echo; TCP when a port is given)
        #[arg(long, value_enum)]
        proto: Option<ProtoArg>,
        /// The TCP or UDP port (1-65535)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// Print the explanation as JSON
        #[arg(long)]
        json: bool,
    },
    /// Draw the lab: Mermaid (for Markdown), DOT (Graphviz) or SVG drawn by vnet; a running
    /// lab's links that are down are marked
    Graph {
        /// A topology file, or the name of a running lab (its live link state is shown)
        lab: String,
        /// The picture's format (default: from the -o file's extension, else mermaid)
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
        /// Write the picture to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Remove exactly what vnet created for a lab; safe to repeat
    Down {
        /// A lab name or its topology file
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        lab: Option<String>,
        /// Every running lab
        #[arg(long)]
        all: bool,
        /// Progress display
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// Print what was removed as JSON
        #[arg(long)]
        json: bool,
    },
    /// up + verify + down; down always runs, also on failure and Ctrl-C
    Test {
        file: PathBuf,
        #[arg(long)]
        all_pairs: bool,
        #[arg(long)]
        json: bool,
        /// Every row (and the all-pairs matrix) however large the lab
        #[arg(long)]
        full: bool,
        #[arg(long, value_enum, default_value_t = Progress::Auto)]
        progress: Progress,
        /// 802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
        /// Let `nat:` on `host` change the machine's ruleset and forwarding (as for `up`)
        #[arg(long)]
        allow_machine_nat: bool,
        /// Let `routes:` on `host` take over the machine's default route, and `host:` take an
        /// address on a subnet the machine is already on (as for `up`)
        #[arg(long)]
        allow_machine_routes: bool,
        /// Also write the verdict as a JUnit XML report to FILE (one test case per check)
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Check what this machine's kernel can do for vnet, and what to do about the rest
    Doctor {
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a topology of Mininet's shapes: `single N`, `linear N`, `tree --depth D --fanout F`
    Gen {
        #[command(subcommand)]
        shape: GenShape,
        /// Print the topology as JSON data (with its YAML text) instead of YAML
        #[arg(long, global = true)]
        json: bool,
    },
    /// Print the lab as a shell script of `ip`/`bridge`/`nft` commands that builds (or removes) it
    Export {
        file: PathBuf,
        /// A plain shell script, one command per step (the default)
        #[arg(long, conflicts_with = "batch")]
        script: bool,
        /// A shell script that hands `ip -batch` whole groups of steps
        #[arg(long)]
        batch: bool,
        /// The script that removes the lab instead
        #[arg(long)]
        down: bool,
        /// Which VLAN build to write (`auto` writes the native one)
        #[arg(long, value_enum, default_value_t = VlanModeArg::Auto)]
        vlan_mode: VlanModeArg,
    },
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// Print the JSON Schema of the topology format (for editors), or of a command's `--json`
    Schema {
        /// Which schema: the topology file's, or the JSON output of a command
        #[arg(value_enum, default_value_t = SchemaArg::Topology)]
        of: SchemaArg,
    },
}

/// What `vnet explain` sends.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProtoArg {
    Icmp,
    Tcp,
    Udp,
}

/// What `vnet graph` draws.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
}

/// What `vnet capture -w` writes.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

/// The schemas `vnet schema` prints: the topology's, and each `--json` output's.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SchemaArg {
    Topology,
    Explain,
    Validate,
    Plan,
    Up,
    Down,
    Verify,
    Test,
    Status,
    Doctor,
    Gen,
    /// The document a `--json` command prints when it fails before its own
    Error,
}

/// The attacks of `vnet attack`.
#[derive(Debug, Subcommand)]
pub enum AttackKind {
    /// The article's ARP spoofing: forged, unsolicited ARP replies (and requests) from the
    /// attacker telling the victim that the claimed address is at the attacker's MAC
    ArpSpoof {
        /// The running lab
        lab: String,
        /// The node that lies
        attacker: String,
        /// The IPv4 address it claims is its own (the gateway's, say)
        #[arg(long, value_name = "IP")]
        claim: std::net::Ipv4Addr,
        /// The node told the lie
        #[arg(long, value_name = "NODE")]
        to: String,
        /// Rounds of forged packets, 400 ms apart (a reply and a request each)
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1000))]
        rounds: u16,
    },
}

/// The shapes of `vnet gen`, as Mininet's `--topo single,N | linear,N | tree,depth=D,fanout=F`.
#[derive(Debug, Subcommand)]
pub enum GenShape {
    /// N hosts on one switch (several bridges in a tree past --max-ports)
    Single {
        hosts: usize,
        #[command(flatten)]
        opts: GenOpts,
    },
    /// N switches in a chain, one host on each
    Linear {
        switches: usize,
        #[command(flatten)]
        opts: GenOpts,
    },
    /// A tree of switches D deep with F children each; F^D hosts at the leaves
    Tree {
        #[arg(long, default_value_t = 1)]
        depth: u32,
        #[arg(long, default_value_t = 2)]
        fanout: usize,
        #[command(flatten)]
        opts: GenOpts,
    },
}

#[derive(Debug, Clone, Args)]
pub struct GenOpts {
    /// The lab's name (default: after the shape, e.g. `single-100`)
    #[arg(long)]
    pub name: Option<String>,
    /// Ports per bridge at most (Linux allows 1023)
    #[arg(long, default_value_t = crate::generate::DEFAULT_MAX_PORTS)]
    pub max_ports: usize,
    /// The `expect:` checks: every ordered pair, a sample, none; `auto`: all up to 10 hosts
    #[arg(long, value_enum, default_value_t = ExpectArg::Auto)]
    pub expect: ExpectArg,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExpectArg {
    Auto,
    All,
    Sample,
    None,
}

/// `500ms`, `10s`, `1.5s`, `2m`: a duration on the command line, as the topology writes them.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    crate::topology::schema::parse_duration(text)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is not a duration (500ms, 10s, 2m, 1h)"))
}
