//! The processes of a lab: everything started inside it (by `exec:` or `vnet exec`), found
//! again by `down` however it was started and whatever namespace it moved to since.
//!
//! A process started in a node's namespace can leave it (`unshare -n`, a new PID namespace),
//! so its network namespace alone does not find it. Each one is therefore also
//! - put in the lab's own cgroup, `<cgroup2>/vnet/<id>`, which no process leaves without
//!   being moved out on purpose, and whose members `cgroup.kill` ends all at once;
//! - given `VNET_LAB_ID=<id>` in its environment, which its children inherit: the fallback
//!   where no cgroup v2 hierarchy is mounted or writable.
//!
//! `<id>` is `<lab>@<inode of vnet's own network namespace>`: a lab is one name on one machine,
//! and two sandboxes (network namespaces) on one kernel may each run a lab of the same name,
//! whose processes must not be taken for each other's.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::PROCESS_MARK as ID_VAR;

/// The identity of a lab on this machine.
pub(crate) fn lab_id(lab: &str) -> String {
    let machine = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    format!("{lab}@{machine}")
}

/// Where the machine's cgroup v2 hierarchy is mounted, if it is.
fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER`
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// The lab's cgroup directory (whether or not it exists).
fn cgroup_dir(lab: &str) -> Option<PathBuf> {
    Some(cgroup2_mount()?.join("vnet").join(lab_id(lab)))
}

/// How a lab's processes are started so that they can be found again.
pub(crate) struct Pen {
    lab: String,
    id: String,
    /// `cgroup.procs` of the lab's cgroup, open for writing: a child joins by writing to it.
    procs: Option<OwnedFd>,
}

impl Pen {
    /// Makes the lab's cgroup if the machine has a writable cgroup v2 hierarchy; without one
    /// the lab's processes are marked by their environment only.
    pub(crate) fn new(lab: &str) -> Pen {
        let procs = cgroup_dir(lab).and_then(|dir| {
            std::fs::create_dir_all(&dir).ok()?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .ok()?;
            Some(OwnedFd::from(file))
        });
        Pen {
            lab: lab.to_owned(),
            id: lab_id(lab),
            procs,
        }
    }

    /// Arranges for `cmd` to start as one of the lab's processes.
    pub(crate) fn admit(&self, cmd: &mut Command) {
        cmd.env(ID_VAR, &self.id).env("VNET_LAB", &self.lab);
        if let Some(fd) = &self.procs {
            let fd = fd.as_raw_fd();
            // SAFETY: runs in the child between fork and exec; only write(2) on a descriptor
            // the parent keeps open until the spawn returns. "0" moves the writing process.
            unsafe {
                cmd.pre_exec(move || {
                    // A refusal is not fatal: the environment still marks the process.
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    Ok(())
                });
            }
        }
    }
}

/// Every process of the lab still running: its cgroup's members and those that carry its
/// mark in their environment, never vnet itself.
pub(crate) fn processes_of(lab: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = cgroup_dir(lab)
        .map(|dir| cgroup_members(&dir))
        .unwrap_or_default();
    let needle = format!("{ID_VAR}={}\0", lab_id(lab));
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                pids.push(pid);
            }
        }
    }
    pids.retain(|p| *p != me);
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The lab's processes now, each with its node (by namespace), command line and start time.
pub(crate) fn snapshot(lab: &crate::model::Lab) -> Vec<crate::state::Process> {
    let spaces: Vec<(u64, String)> = (0..lab.nodes.len())
        .filter(|&i| lab.nodes[i].inside.is_none() && !lab.on_machine(i))
        .filter_map(|i| {
            let ino = super::netns::inode(&lab.netns(i)).ok()??;
            Some((ino, lab.nodes[i].name.clone()))
        })
        .collect();
    processes_of(&lab.name)
        .into_iter()
        .filter_map(|pid| {
            let started = started_at(pid)?;
            let ns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| m.ino())
                .ok();
            Some(crate::state::Process {
                pid,
                node: spaces
                    .iter()
                    .find(|(ino, _)| Some(*ino) == ns)
                    .map(|(_, n)| n.clone()),
                command: command_line(pid),
                started,
            })
        })
        .collect()
}

/// Whether the process `up` recorded still runs (the same PID, started at the same tick).
pub(crate) fn still_runs(p: &crate::state::Process) -> bool {
    started_at(p.pid) == Some(p.started)
}

/// Field 22 of `/proc/PID/stat`, `None` for a process gone or a zombie (ended, not yet reaped:
/// a lab's orphans are reaped by whichever subreaper adopted them, maybe never).
fn started_at(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis (a command may itself hold spaces and
    // parentheses): the state is field 3, so the start time (22) is the 20th of the rest.
    let (_, after) = stat.rsplit_once(')')?;
    let mut fields = after.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// `/proc/PID/cmdline` as words, at most 60 characters.
fn command_line(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let line = words.join(" ");
    if line.chars().count() > 60 {
        format!("{}…", line.chars().take(59).collect::<String>())
    } else if line.is_empty() {
        format!("pid {pid}")
    } else {
        line
    }
}

/// The members of a cgroup and of every cgroup below it.
fn cgroup_members(dir: &std::path::Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if let Ok(children) = std::fs::read_dir(dir) {
        for c in children.flatten() {
            if c.file_type().is_ok_and(|t| t.is_dir()) {
                pids.extend(cgroup_members(&c.path()));
            }
        }
    }
    pids
}

/// Kills every process of the lab and removes its cgroup. What could not be stopped, or a
/// cgroup that would not go, is an error.
pub(crate) fn stop(lab: &str) -> io::Result<()> {
    let dir = cgroup_dir(lab).filter(|d| d.is_dir());
    if let Some(dir) = &dir {
        // Ends every member at once, including the children of any PID namespace.
        if let Ok(mut kill) = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.kill"))
        {
            let _ = kill.write_all(b"1");
        }
    }
    kill_all(&processes_of(lab));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_of(lab);
        let cgroup_gone = match &dir {
            Some(d) => remove_cgroup(d),
            None => true,
        };
        if left.is_empty() && cgroup_gone {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "processes of lab `{lab}` did not stop: {}",
                left.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        kill_all(&left);
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn kill_all(pids: &[i32]) {
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::SIGKILL);
    }
}

/// Removes the lab's cgroup (once its members are gone) and vnet's parent cgroup if it is
/// empty now; `true` when the lab's is gone.
fn remove_cgroup(dir: &std::path::Path) -> bool {
    for child in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&child.path());
        }
    }
    let gone = match std::fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    };
    if gone && let Some(parent) = dir.parent() {
        // Another lab's cgroup keeps it: ENOTEMPTY/EBUSY are expected.
        let _ = std::fs::remove_dir(parent);
    }
    gone
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_is_found_again_by_its_start_time() {
        let me = std::process::id() as i32;
        let started = super::started_at(me).expect("own /proc/PID/stat");
        let p = crate::state::Process {
            pid: me,
            node: None,
            command: super::command_line(me),
            started,
        };
        assert!(super::still_runs(&p));
        assert!(!super::still_runs(&crate::state::Process {
            started: started + 1,
            ..p.clone()
        }));
        assert!(!p.command.is_empty());
    }
}
