//! Where running labs are remembered: `/run/vnet/<lab>/` (or `$VNET_STATE_DIR`), and the lock
//! that keeps two vnet processes from working on one lab at once.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::journal;
use crate::model::Lab;

pub fn root() -> PathBuf {
    std::env::var_os("VNET_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/vnet"))
}

/// Whether the state lives in the machine's usual place (no `VNET_STATE_DIR` elsewhere).
pub fn is_default_root() -> bool {
    root() == Path::new("/run/vnet")
}

pub fn lab_dir(lab: &str) -> PathBuf {
    root().join(lab)
}

/// What `status` and `exec` need to know about a running lab, written once at `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub file: String,
    pub started: u64,
    /// How the lab's 802.1Q switches were built, when it has any.
    #[serde(default)]
    pub vlan_mode: Option<crate::plan::VlanMode>,
    pub lab: Lab,
}

pub const RECORD: &str = "lab.json";

pub fn write_record(dir: &Path, record: &Record) -> io::Result<()> {
    let text = serde_json::to_vec(record)?;
    std::fs::write(dir.join(RECORD), text)
}

pub fn read_record(lab: &str) -> io::Result<Record> {
    let text = std::fs::read(lab_dir(lab).join(RECORD))?;
    serde_json::from_slice(&text).map_err(io::Error::other)
}

/// Labs with a journal, whether or not their record could be read.
pub fn running() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(root()) else {
        return Vec::new();
    };
    let mut labs: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(journal::FILE_NAME).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    labs.sort();
    labs
}

pub fn is_running(lab: &str) -> bool {
    lab_dir(lab).join(journal::FILE_NAME).exists()
}

/// An exclusive hold on one lab; released on drop.
pub struct Lock {
    _file: File,
    path: PathBuf,
    lab: String,
}

#[derive(Debug)]
pub enum LockError {
    Busy,
    Io(io::Error),
}

impl Lock {
    /// Takes the lab's lock without waiting: another vnet working on it means `Busy`.
    pub fn take(lab: &str) -> Result<Lock, LockError> {
        let root = root();
        std::fs::create_dir_all(&root).map_err(LockError::Io)?;
        let path = root.join(format!("{lab}.lock"));
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(LockError::Io)?;
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
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == ours => {
                    return Ok(Lock {
                        _file: file,
                        path,
                        lab: lab.to_owned(),
                    });
                }
                _ => continue,
            }
        }
    }
}

impl Drop for Lock {
    /// The lock file of a lab that is not running is removed with the lock, so nothing of a
    /// refused, rolled-back or finished lab stays in `/run` (`take` copes with the race).
    fn drop(&mut self) {
        if !lab_dir(&self.lab).exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Seconds since the epoch, for records.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
