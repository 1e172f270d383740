//! A private machine for tests that act on every lab (`down --all`) or that lose vnet's
//! state on purpose: a process holds a network and mount namespace of its own (with fresh
//! `/run/netns` and `/run/vnet`), and every command of the test runs inside it.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};

pub(crate) struct Machine {
    holder: Child,
    net: File,
    mnt: File,
}

impl Machine {
    /// A machine with fresh, empty `/run/netns` and `/run/vnet`.
    pub(crate) fn new() -> Result<Machine, String> {
        Self::start(false)
    }

    /// A machine with a private tmpfs over the whole of `/run` (holding only `netns/` and
    /// `vnet/`): for tests of anything that deletes files, which could reach past vnet's own
    /// directories.
    pub(crate) fn with_private_run() -> Result<Machine, String> {
        let m = Self::start(true)?;
        for d in ["/run/netns", "/run/vnet"] {
            std::fs::create_dir_all(m.path(d)).map_err(|e| format!("{d}: {e}"))?;
        }
        Ok(m)
    }

    fn start(whole_run: bool) -> Result<Machine, String> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "exec sleep 600"]).stdin(Stdio::null());
        let over: &[&str] = if whole_run {
            &["/run"]
        } else {
            &["/run/netns", "/run/vnet"]
        };
        // SAFETY: between fork and exec, only syscalls (unshare, mount) run in the child.
        unsafe {
            cmd.pre_exec(move || {
                unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )?;
                for dir in over {
                    mount(
                        Some("private"),
                        *dir,
                        Some("tmpfs"),
                        MsFlags::empty(),
                        Some("mode=755"),
                    )?;
                }
                Ok(())
            });
        }
        let holder = cmd.spawn().map_err(|e| e.to_string())?;
        let pid = holder.id();
        // `spawn` returns once the child has exec'd (std waits on a close-on-exec pipe for
        // that), so its namespaces and mounts are all in place.
        let net = File::open(format!("/proc/{pid}/ns/net")).map_err(|e| e.to_string())?;
        let mnt = File::open(format!("/proc/{pid}/ns/mnt")).map_err(|e| e.to_string())?;
        Ok(Machine { holder, net, mnt })
    }

    /// `vnet ARGS` inside the private machine.
    pub(crate) fn vnet(&self, args: &[&str]) -> Command {
        self.inside(crate::harness::vnet(args))
    }

    /// `sh -c SCRIPT` inside the private machine: its standard output, or why it failed.
    pub(crate) fn sh(&self, script: &str) -> Result<String, String> {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        let o = self.inside(c).output().map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("`{script}` failed:\n{}", crate::harness::text(&o)));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn inside(&self, mut c: Command) -> Command {
        let (net, mnt) = (self.net.as_raw_fd(), self.mnt.as_raw_fd());
        // SAFETY: between fork and exec the child is single-threaded and only calls setns(2)
        // on descriptors the parent keeps open until after the spawn.
        unsafe {
            c.pre_exec(move || {
                setns(BorrowedFd::borrow_raw(mnt), CloneFlags::CLONE_NEWNS)?;
                setns(BorrowedFd::borrow_raw(net), CloneFlags::CLONE_NEWNET)?;
                Ok(())
            });
        }
        c
    }

    pub(crate) fn run(&self, args: &[&str], code: i32) -> Result<Output, String> {
        let o = self.vnet(args).output().map_err(|e| e.to_string())?;
        if o.status.code() == Some(code) {
            Ok(o)
        } else {
            Err(format!(
                "`vnet {}` should exit {code}:\n{}",
                args.join(" "),
                crate::harness::text(&o)
            ))
        }
    }

    /// A path as the private machine sees it.
    pub(crate) fn path(&self, p: &str) -> String {
        format!("/proc/{}/root{p}", self.holder.id())
    }

    /// The names under the private `/run/netns`.
    pub(crate) fn namespaces(&self) -> Vec<String> {
        std::fs::read_dir(self.path("/run/netns"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The private machine's mount table, as `/proc/PID/mountinfo` shows it.
    pub(crate) fn mounts(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/mountinfo", self.holder.id())).unwrap_or_default()
    }

    /// The private machine's own interfaces.
    pub(crate) fn interfaces(&self) -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{}/net/dev", self.holder.id()))
            .unwrap_or_default()
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next().map(|n| n.trim().to_owned()))
            .collect()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        // Its namespaces, mounts and everything in them go with the holder.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
