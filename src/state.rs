//! Where running labs are remembered: `/run/vnet/<lab>/` (or `$VNET_STATE_DIR`), and the lock
//! that keeps two vnet processes from working on one lab at once.
//!
//! vnet runs as root and removes state, so every path here is built from a [`LabName`] (a
//! name that passed the same rules as a topology's `name:`, so it cannot be `..`, empty, or
//! hold a `/`), and removal is by name: the files vnet writes, then the directory only if it
//! is empty. Nothing here ever removes a tree.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::journal;
use crate::model::Lab;
pub(crate) use crate::model::name::LabName;

const DEFAULT_ROOT: &str = "/run/vnet";

/// The state directory. [`check_root`] has vouched for `VNET_STATE_DIR` before any command runs.
pub(crate) fn root() -> PathBuf {
    std::env::var_os("VNET_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// Why `VNET_STATE_DIR` cannot be used, or `None`. A relative path would name another
/// directory from every working directory (a `down` from elsewhere would say "not running"
/// while the lab runs on), an empty one the working directory itself.
pub(crate) fn check_root() -> Option<String> {
    let set = std::env::var_os("VNET_STATE_DIR")?;
    let path = Path::new(&set);
    if set.is_empty() {
        return Some("VNET_STATE_DIR is set but empty".into());
    }
    if !path.is_absolute() {
        return Some(format!(
            "VNET_STATE_DIR={} is a relative path; it must be absolute",
            path.display()
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Some(format!(
            "VNET_STATE_DIR={} contains `..`; name the directory itself",
            path.display()
        ));
    }
    if path.parent().is_none() {
        return Some(
            "VNET_STATE_DIR=/ would keep labs beside the machine's own directories".into(),
        );
    }
    None
}

/// Whether the state lives in the machine's usual place (no `VNET_STATE_DIR` elsewhere).
pub(crate) fn is_default_root() -> bool {
    root() == Path::new(DEFAULT_ROOT)
}

pub(crate) fn lab_dir(lab: &LabName) -> PathBuf {
    root().join(lab.as_str())
}

/// What `status` and `exec` need to know about a running lab, written once at `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub file: String,
    pub started: u64,
    /// How the lab's 802.1Q switches were built, when it has any.
    #[serde(default)]
    pub vlan_mode: Option<crate::plan::VlanMode>,
    /// [`digest`] of the topology file as it was read at `up`.
    #[serde(default)]
    pub digest: Option<String>,
    pub lab: Lab,
    /// What `vnet impair` and `vnet link` changed since `up`.
    #[serde(default, skip_serializing_if = "Runtime::is_empty")]
    pub runtime: Runtime,
    /// The processes `exec:` left running when `up` finished: `status` says when one is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
}

/// A process of the lab, as `up` left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Process {
    pub pid: i32,
    /// The node whose namespace it runs in, if it still ran in one of the lab's.
    pub node: Option<String>,
    /// Its command line, shortened.
    pub command: String,
    /// When it started, in clock ticks after boot (`/proc/PID/stat`): a reused PID is not it.
    pub started: u64,
}

/// Faults made at runtime, by `node:iface`: impairments set (`None`: cleared, the file's
/// removed) and interfaces taken down.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Runtime {
    #[serde(default)]
    pub impair: std::collections::BTreeMap<String, Option<crate::model::impair::Impair>>,
    #[serde(default)]
    pub down: std::collections::BTreeSet<String>,
}

impl Runtime {
    pub(crate) fn is_empty(&self) -> bool {
        self.impair.is_empty() && self.down.is_empty()
    }
}

/// A fingerprint of a file's bytes (FNV-1a, 64 bits): enough to tell that it changed.
pub(crate) fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub(crate) const RECORD: &str = "lab.json";
/// Output of the lab's `exec:` commands.
pub(crate) const EXEC_LOG: &str = "exec.log";
/// Every file vnet writes in a lab's directory: the only names `down` removes there.
pub(crate) const FILES: [&str; 3] = [journal::FILE_NAME, RECORD, EXEC_LOG];

pub(crate) fn write_record(dir: &Path, record: &Record) -> io::Result<()> {
    let text = serde_json::to_vec(record)?;
    std::fs::write(dir.join(RECORD), text)
}

/// The lab's record, if it is a regular file (never through a symbolic link) that describes
/// this very lab.
pub(crate) fn read_record(lab: &LabName) -> io::Result<Record> {
    let text = read_regular(&lab_dir(lab).join(RECORD))?;
    let record: Record = serde_json::from_slice(&text).map_err(io::Error::other)?;
    if record.lab.name != lab.as_str() {
        return Err(io::Error::other(format!(
            "the record describes lab `{}`",
            record.lab.name
        )));
    }
    Ok(record)
}

/// A file's bytes, refusing anything but a regular file (a FIFO would block, a symbolic link
/// would lead elsewhere).
pub(crate) fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether a lab's directory is vnet's state for that lab, and how that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    /// The journal's header names the lab.
    Journal,
    /// The journal does not prove it (damaged, missing), the lab's record does.
    Record(String),
    /// Nothing in the directory proves it: why not.
    None(String),
}

/// What is known about the directory `<state>/<lab>`.
pub(crate) fn proof(lab: &LabName) -> Option<Proof> {
    let dir = lab_dir(lab);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    if !meta.is_dir() {
        return Some(Proof::None(format!("{} is not a directory", dir.display())));
    }
    let journal = match journal::header(&dir.join(journal::FILE_NAME)) {
        Ok(Some(h)) if h.lab == lab.as_str() => return Some(Proof::Journal),
        Ok(Some(h)) => format!("its journal's header names lab `{}`", h.lab),
        Ok(None) => "its journal has no header".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => "it has no journal".to_owned(),
        Err(e) => format!("its journal cannot be read ({e})"),
    };
    Some(match read_record(lab) {
        Ok(_) => Proof::Record(journal),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Proof::None(format!("{journal}, and no lab record"))
        }
        Err(e) => Proof::None(format!(
            "{journal}, and its lab record cannot be read ({e})"
        )),
    })
}

/// The entries of the state directory: labs whose state proves them vnet's, and the
/// directories that look like a lab's but do not (with why), which nothing may touch.
pub(crate) fn scan() -> (Vec<LabName>, Vec<(String, String)>) {
    let Ok(dir) = std::fs::read_dir(root()) else {
        return (Vec::new(), Vec::new());
    };
    let mut labs = Vec::new();
    let mut unproven = Vec::new();
    for e in dir.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let Ok(lab) = LabName::new(&name) else {
            continue;
        };
        match proof(&lab) {
            Some(Proof::Journal | Proof::Record(_)) => labs.push(lab),
            Some(Proof::None(why)) => unproven.push((name, why)),
            None => {}
        }
    }
    labs.sort();
    unproven.sort();
    (labs, unproven)
}

/// Labs whose state proves them vnet's.
pub(crate) fn running() -> Vec<LabName> {
    scan().0
}

pub(crate) fn is_running(lab: &LabName) -> bool {
    matches!(proof(lab), Some(Proof::Journal | Proof::Record(_)))
}

/// Removes what vnet wrote for the lab, by name, then the directory if that left it empty.
/// Returns what was left there (entries vnet did not write, or could not remove), if any.
pub(crate) fn remove_lab_state(lab: &LabName) -> Result<(), Vec<String>> {
    remove_state_in(&lab_dir(lab))
}

fn remove_state_in(dir: &Path) -> Result<(), Vec<String>> {
    let dir = dir.to_path_buf();
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
        Ok(m) if !m.is_dir() => {
            return Err(vec![format!(
                "{} is not a directory vnet made; left untouched",
                dir.display()
            )]);
        }
        Ok(_) => {}
    }
    let mut left = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => left.push(format!("{}: {e}", path.display())),
            // A symbolic link is removed, not followed: whatever it points at stays.
            Ok(m) if m.is_file() || m.file_type().is_symlink() => {
                if let Err(e) = std::fs::remove_file(&path) {
                    left.push(format!("{}: {e}", path.display()));
                }
            }
            Ok(_) => left.push(format!(
                "{} is not a file vnet wrote; left untouched",
                path.display()
            )),
        }
    }
    match std::fs::remove_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
            let foreign: Vec<String> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !FILES.contains(&n.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            if !foreign.is_empty() {
                left.push(format!(
                    "{} holds what vnet did not write ({}); left in place",
                    dir.display(),
                    foreign.join(", ")
                ));
            }
        }
        Err(e) => left.push(format!("{}: {e}", dir.display())),
    }
    if left.is_empty() { Ok(()) } else { Err(left) }
}

/// An exclusive hold on one lab (or on the machine's shared settings); released on drop.
pub(crate) struct Lock {
    _file: File,
    path: PathBuf,
    /// The lab whose directory's absence lets the lock file go with the lock.
    lab: Option<LabName>,
}

#[derive(Debug)]
pub(crate) enum LockError {
    Busy,
    Io(io::Error),
}

impl Lock {
    /// Takes the lab's lock without waiting: another vnet working on it means `Busy`.
    pub(crate) fn take(lab: &LabName) -> Result<Lock, LockError> {
        let path = root().join(format!("{lab}.lock"));
        Self::at(path, Some(lab.clone()))
    }

    /// The lock of the machine's own settings (its NAT tables and forwarding), under a name
    /// no lab can have.
    pub(crate) fn machine() -> Result<Lock, LockError> {
        Self::at(root().join(".machine.lock"), None)
    }

    /// The lock a lab with links to the machine holds from checking the machine's subnets
    /// until its own addresses are there, so that two such labs never both find a subnet
    /// free. Not the NAT lock: `up` takes that one inside.
    pub(crate) fn machine_addresses() -> Result<Lock, LockError> {
        Self::at(root().join(".machine-addresses.lock"), None)
    }

    /// `take` tried again while another vnet holds the lock, for up to `within`; then an
    /// error that names the lock (`whose`).
    pub(crate) fn waited(
        take: fn() -> Result<Lock, LockError>,
        within: std::time::Duration,
        whose: &str,
    ) -> io::Result<Lock> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match take() {
                Ok(lock) => return Ok(lock),
                Err(LockError::Io(e)) => return Err(e),
                Err(LockError::Busy) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(LockError::Busy) => {
                    return Err(io::Error::other(format!(
                        "another vnet has held {whose} for {} s",
                        within.as_secs()
                    )));
                }
            }
        }
    }

    fn at(path: PathBuf, lab: Option<LabName>) -> Result<Lock, LockError> {
        std::fs::create_dir_all(root()).map_err(LockError::Io)?;
        loop {
            let file = open_lock(&path).map_err(LockError::Io)?;
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r != 0 {
                let e = io::Error::last_os_error();
                return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    LockError::Busy
                } else {
                    LockError::Io(e)
                });
            }
            // The holder before us may have removed the file after we opened it: then our lock
            // is on a file nobody else will see, so try again on the current one.
            let ours = file.metadata().map_err(LockError::Io)?.ino();
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.ino() == ours => {
                    return Ok(Lock {
                        _file: file,
                        path,
                        lab,
                    });
                }
                _ => continue,
            }
        }
    }
}

/// The lock file, made if missing. Never through a symbolic link (that could make a file
/// anywhere); a directory put where the file belongs is locked as it is, so a stray
/// directory cannot keep every `down` from working.
fn open_lock(path: &Path) -> io::Result<File> {
    let made = OpenOptions::new()
        .read(true)
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .mode(0o600)
        .open(path);
    match made {
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(path),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(io::Error::other(format!(
            "{} is a symbolic link, not vnet's lock file; remove it",
            path.display()
        ))),
        other => {
            let file = other?;
            let kind = file.metadata()?.file_type();
            if !kind.is_file() {
                return Err(io::Error::other(format!(
                    "{} is not a regular file, not vnet's lock file; remove it",
                    path.display()
                )));
            }
            Ok(file)
        }
    }
}

impl Drop for Lock {
    /// The lock file of a lab that is not running is removed with the lock, so nothing of a
    /// refused, rolled-back or finished lab stays in `/run` (`take` copes with the race).
    fn drop(&mut self) {
        let gone = match &self.lab {
            Some(lab) => !is_running(lab),
            None => true,
        };
        let is_file = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file());
        if gone && is_file {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Seconds since the epoch, for records.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names_that_could_escape_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", "A", "a b", "-a", "a.b"] {
            assert!(LabName::new(bad).is_err(), "{bad:?}");
        }
        assert!(LabName::new("office-lan").is_ok());
    }

    /// Only the files vnet writes go, by name; a link goes, not what it points at; the
    /// directory goes only when that leaves it empty.
    #[test]
    fn state_is_removed_by_name_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lab");
        std::fs::create_dir(&dir).unwrap();
        let target = root.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        std::fs::write(dir.join(RECORD), b"{}").unwrap();
        std::fs::write(dir.join(EXEC_LOG), b"").unwrap();
        std::os::unix::fs::symlink(&target, dir.join(journal::FILE_NAME)).unwrap();
        std::fs::write(dir.join("notes.txt"), b"someone's").unwrap();
        let left = remove_state_in(&dir).unwrap_err();
        assert!(left[0].contains("notes.txt"), "{left:?}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(dir.join("notes.txt").exists());
        assert!(!dir.join(RECORD).exists() && !dir.join(journal::FILE_NAME).exists());
        std::fs::remove_file(dir.join("notes.txt")).unwrap();
        std::fs::create_dir(dir.join(journal::FILE_NAME)).unwrap();
        let left = remove_state_in(&dir).unwrap_err();
        assert!(left[0].contains("not a file vnet wrote"), "{left:?}");
        std::fs::remove_dir(dir.join(journal::FILE_NAME)).unwrap();
        remove_state_in(&dir).unwrap();
        assert!(!dir.exists() && root.path().join("precious").exists());
    }
}
