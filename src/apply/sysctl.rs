//! Sysctls of the namespace the calling thread is in, written and read cheaply at scale.
//!
//! The kernel keeps one `/proc/sys/net/ipv4` (and `ipv6`, `core`, …) entry per network
//! namespace, all under one parent and of one name, and looking one up compares against every
//! other namespace's, taking a global lock for each. With thousands of namespaces a sysctl
//! write cost more than making the namespace. Two things keep it short:
//!
//! - each directory two levels down (`net/ipv6`) is opened once per namespace, and the keys
//!   below it are opened from there;
//! - lookups go through a procfs instance of vnet's own, mounted nowhere (`fsopen`/`fsmount`,
//!   Linux 5.2+; the instance vanishes with its descriptor), replaced every
//!   [`PER_INSTANCE`] namespaces: the entries compared against are only those this instance
//!   has seen. Where that is not possible (older kernels, no CAP_SYS_ADMIN) `/proc` is used.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;

/// How many namespaces one procfs instance serves before a fresh one replaces it.
pub(crate) const PER_INSTANCE: usize = 32;

/// Writes the sysctls of namespace after namespace, on one thread.
pub(crate) struct Writer {
    proc: OwnedFd,
    served: usize,
}

impl Writer {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Writer {
            proc: proc_root()?,
            served: 0,
        })
    }

    /// Writes `(key, value)` pairs (dotted keys) in the namespace this thread is in now.
    /// On failure, the index of the pair that failed and why.
    pub(crate) fn write(&mut self, pairs: &[(&str, &str)]) -> Result<(), (usize, io::Error)> {
        if pairs.is_empty() {
            return Ok(());
        }
        if self.served >= PER_INSTANCE {
            self.proc = proc_root().map_err(|e| (0, e))?;
            self.served = 0;
        }
        self.served += 1;
        let mut dirs = Dirs::new(&self.proc);
        for (i, (key, value)) in pairs.iter().enumerate() {
            let mut file = match dirs.open(key, true) {
                Ok(f) => f,
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound && crate::plan::optional_sysctl(key) =>
                {
                    continue;
                }
                Err(e) => return Err((i, e)),
            };
            io::Write::write_all(&mut file, value.as_bytes()).map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

/// Reads sysctls of the namespace this thread is in, trimmed; `None` for one not readable.
pub(crate) fn read(keys: &[&str]) -> io::Result<Vec<Option<String>>> {
    let proc = proc_root()?;
    let mut dirs = Dirs::new(&proc);
    Ok(keys
        .iter()
        .map(|key| {
            let mut file = dirs.open(key, false).ok()?;
            let mut text = String::new();
            io::Read::read_to_string(&mut file, &mut text).ok()?;
            Some(text.trim().to_owned())
        })
        .collect())
}

/// A procfs instance of our own when the kernel allows, else `/proc`.
fn proc_root() -> io::Result<OwnedFd> {
    match private_proc() {
        Ok(fd) => Ok(fd),
        Err(_) => Ok(open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?),
    }
}

/// `fsopen("proc")`, create, `fsmount`: the root of a new procfs, attached to no mount point.
fn private_proc() -> io::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    let owned = |r: libc::c_long| -> io::Result<OwnedFd> {
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
    };
    // SAFETY: fsopen with a NUL-terminated file system name and flags; no memory is kept.
    let fs = owned(unsafe { libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), FSOPEN_CLOEXEC) })?;
    let fs_fd = std::os::fd::AsRawFd::as_raw_fd(&fs);
    // SAFETY: fsconfig on the descriptor just opened; the command takes no key or value.
    let created = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs_fd,
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if created < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount on the configured context; returns a new mount descriptor.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC, 0) })
}

/// The directories two levels below `sys` (`net/ipv4`, `net/ipv6`, …) of one namespace, each
/// opened once, below one procfs root.
struct Dirs<'a> {
    proc: &'a OwnedFd,
    open: Vec<(String, OwnedFd)>,
}

impl<'a> Dirs<'a> {
    fn new(proc: &'a OwnedFd) -> Self {
        Dirs {
            proc,
            open: Vec::new(),
        }
    }

    fn open(&mut self, key: &str, write: bool) -> io::Result<File> {
        let mode = if write {
            OFlag::O_WRONLY
        } else {
            OFlag::O_RDONLY
        } | OFlag::O_CLOEXEC;
        let path = key.replace('.', "/");
        let Some((dir, below)) = path
            .match_indices('/')
            .nth(1)
            .map(|(at, _)| (&path[..at], &path[at + 1..]))
        else {
            let fd = openat(
                self.proc.as_fd(),
                format!("sys/{path}").as_str(),
                mode,
                Mode::empty(),
            )?;
            return Ok(File::from(fd));
        };
        let at = match self.open.iter().position(|(d, _)| d == dir) {
            Some(at) => at,
            None => {
                let fd = openat(
                    self.proc.as_fd(),
                    format!("sys/{dir}").as_str(),
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                self.open.push((dir.to_owned(), fd));
                self.open.len() - 1
            }
        };
        Ok(File::from(openat(
            self.open[at].1.as_fd(),
            below,
            mode,
            Mode::empty(),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_below_their_directory() {
        // Readable without root, in the test's own namespace.
        let v = read(&["net.ipv4.ip_forward", "kernel.ostype", "net.nope.nothing"]).unwrap();
        assert!(matches!(v[0].as_deref(), Some("0" | "1")));
        assert_eq!(v[1].as_deref(), Some("Linux"));
        assert_eq!(v[2], None);
    }
}
