//! What every e2e test needs: the isolated sandbox, a way to run vnet, and the leak check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// A kernel feature a test needs; tests whose feature is missing are skipped, by name, with
/// the reason, and never counted as passed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Feature {
    /// 802.1Q devices and VLAN-filtering bridges (CONFIG_VLAN_8021Q, CONFIG_BRIDGE_VLAN_FILTERING).
    NativeVlans,
    /// A program on PATH, and the package (or command) that installs it.
    Program(&'static str, &'static str),
    /// A kernel feature as `vnet doctor` probes it (netem, TBF, ...).
    Kernel(vnet::model::feature::Feature),
    /// A file or directory named by an environment variable, and what it is.
    Asset(&'static str, &'static str),
}

impl Feature {
    /// Why the feature is missing on this kernel, or `None` when it is there.
    pub(crate) fn missing(self) -> Option<String> {
        match self {
            Feature::NativeVlans => vnet::apply::probe::native_vlans_missing(),
            Feature::Program(name, from) => (!on_path(name)).then(|| {
                format!("`{name}` is not installed ({from}; scripts/test.sh installs it)")
            }),
            Feature::Kernel(f) => vnet::apply::probe::missing(&[f])
                .into_iter()
                .next()
                .map(|(f, p)| format!("this kernel has no {f:?}: {}", p.detail)),
            Feature::Asset(var, what) => match std::env::var_os(var).filter(|v| !v.is_empty()) {
                None => Some(format!(
                    "{var} ({what}) is not set: `eval \"$(scripts/kernel-lane.sh --prepare-only)\"` \
                     sets it, and scripts/test.sh does"
                )),
                Some(path) => (!Path::new(&path).exists()).then(|| {
                    format!(
                        "{var} names {}, which does not exist",
                        Path::new(&path).display()
                    )
                }),
            },
        }
    }
}

/// Whether a program is on PATH.
pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

pub(crate) struct Test {
    pub name: String,
    pub needs: Vec<Feature>,
    /// Why it runs in the host lane only (it is about the machine's tools, the repository or
    /// vnet's own limits, not the kernel), if it does: left out of the stock-kernel lane.
    pub host_lane_only: Option<&'static str>,
    pub run: Box<dyn FnOnce() -> Result<(), String> + Send>,
}

impl Test {
    pub(crate) fn new(
        name: &str,
        run: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> Self {
        Test {
            name: name.to_owned(),
            needs: Vec::new(),
            host_lane_only: None,
            run: Box::new(run),
        }
    }

    pub(crate) fn needs(mut self, f: Feature) -> Self {
        self.needs.push(f);
        self
    }

    pub(crate) fn host_lane_only(self) -> Self {
        self.host_lane_only_because("the machine's tools and the repository")
    }

    pub(crate) fn host_lane_only_because(mut self, why: &'static str) -> Self {
        self.host_lane_only = Some(why);
        self
    }

    /// Why this test cannot run on this kernel, if it cannot.
    pub(crate) fn missing(&self) -> Option<String> {
        self.needs.iter().find_map(|f| f.missing())
    }

    pub(crate) fn into_trial(self, ignored: bool) -> libtest_mimic::Trial {
        let run = self.run;
        libtest_mimic::Trial::test(self.name, move || run().map_err(Into::into))
            .with_ignored_flag(ignored)
    }
}

/// Enters a private network and mount namespace with a fresh tmpfs on `/run`.
/// Must run before any thread exists (unshare of the mount namespace requires it).
pub(crate) fn isolate() -> nix::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    mount(
        Some("vnet-e2e"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=755"),
    )?;
    std::fs::create_dir_all("/run/netns").map_err(|_| nix::Error::EIO)?;
    std::fs::create_dir_all("/run/vnet").map_err(|_| nix::Error::EIO)?;
    // Tests must never pick up the state of a vnet outside the sandbox.
    // SAFETY: single-threaded here; nothing else reads the environment concurrently.
    unsafe { std::env::remove_var("VNET_STATE_DIR") };
    Ok(())
}

pub(crate) fn vnet_bin() -> PathBuf {
    std::env::var_os("VNET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vnet")))
}

pub(crate) fn topologies() -> PathBuf {
    std::env::var_os("VNET_TOPOLOGIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies"))
}

pub(crate) fn vnet(args: &[&str]) -> Command {
    let mut c = Command::new(vnet_bin());
    c.args(args).env_remove("VNET_PAUSE_AFTER");
    c
}

pub(crate) fn run(args: &[&str]) -> Output {
    vnet(args).output().expect("the vnet binary runs")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs vnet and demands an exit code.
pub(crate) fn expect_code(args: &[&str], code: i32) -> Result<Output, String> {
    let o = run(args);
    if o.status.code() == Some(code) {
        Ok(o)
    } else {
        Err(format!(
            "`vnet {}` should exit {code}:\n{}",
            args.join(" "),
            text(&o)
        ))
    }
}

/// Like [`expect_code`], with a state directory of the test's own: for `down --all`, which
/// would otherwise take down the labs of the tests running beside it.
pub(crate) fn expect_code_in(state: &Path, args: &[&str], code: i32) -> Result<Output, String> {
    let o = vnet(args)
        .env("VNET_STATE_DIR", state)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.code() == Some(code) {
        Ok(o)
    } else {
        Err(format!(
            "`vnet {}` should exit {code}:\n{}",
            args.join(" "),
            text(&o)
        ))
    }
}

/// Writes a topology into a temporary file (kept alive by the returned guard).
pub(crate) fn topology(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, yaml).expect("writes the topology");
    (dir, path)
}

/// Everything a lab could leave behind, by its name: namespaces, state, lock files, processes.
pub(crate) fn leftovers(lab: &str) -> Vec<String> {
    let prefix = format!("{lab}.");
    let mut left = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                left.push(format!("namespace {name}"));
            }
        }
    }
    for p in [format!("/run/vnet/{lab}"), format!("/run/vnet/{lab}.lock")] {
        if Path::new(&p).exists() {
            left.push(format!("state {p}"));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts
        .lines()
        .filter(|l| l.contains(&format!("/run/netns/{prefix}")))
    {
        left.push(format!("mount {line}"));
    }
    // The machine's NAT table (`--allow-machine-nat`).
    let tables = std::process::Command::new("nft")
        .args(["list", "tables", "inet"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if tables
        .lines()
        .any(|l| l.trim() == format!("table inet vnet-{lab}"))
    {
        left.push(format!("nftables table inet vnet-{lab} on the machine"));
    }
    left
}

pub(crate) fn assert_clean(lab: &str) -> Result<(), String> {
    let left = leftovers(lab);
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("lab `{lab}` left behind:\n  {}", left.join("\n  ")))
    }
}

/// Always brings the lab down when the test ends, so one failure cannot spoil the next test.
pub(crate) struct Lab(pub String);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run(&["down", &self.0]);
    }
}

/// Diagnostic text with miette's line wrapping undone: words joined by single spaces.
pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !matches!(*w, "│" | "·" | "|"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// Held by tests that bring up a bundled lab with links to the machine (`host:`): those
/// interface names are the file's, the same in every copy, so two such labs at once would
/// collide on the suite's machine.
pub(crate) fn machine_links_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a topology file has the machine as a node (`host:`).
pub(crate) fn links_the_machine(path: &Path) -> bool {
    vnet::topology::load(path)
        .is_ok_and(|l| l.lab.nodes.iter().any(|n| n.name == vnet::model::MACHINE))
}
