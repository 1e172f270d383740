//! Named network namespaces that `ip netns` understands, made without forking.
//!
//! Namespaces are per thread: every function that enters one does so on a dedicated OS thread
//! that never runs anything else (never a tokio worker), so nothing else ends up in the wrong
//! namespace by accident.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

/// Where `ip netns` keeps its names; vnet shares it so `ip netns exec LAB-NODE` works.
pub(crate) const NETNS_DIR: &str = "/run/netns";

pub(crate) fn path(ns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(ns)
}

/// A namespace vnet just made, by its inode ([`create_all`] pairs it with its name). Nothing
/// of it stays open: a lab of thousands of namespaces must not need a descriptor each, so
/// later stages reopen what they need.
pub(crate) struct Made {
    pub inode: u64,
}

/// Makes `/run/netns` a shared mount point, as iproute2 does, so that a namespace unmounted
/// here is unmounted in every mount namespace and can really be freed.
pub(crate) fn prepare_dir() -> io::Result<()> {
    std::fs::create_dir_all(NETNS_DIR)?;
    let mut made_mount = false;
    loop {
        let shared = mount(
            None::<&str>,
            NETNS_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        );
        match shared {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) if !made_mount => {
                mount(
                    Some(NETNS_DIR),
                    NETNS_DIR,
                    Some("none"),
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )?;
                made_mount = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Creates the namespaces, spread over a few threads. Each thread unshares into a fresh
/// namespace and pins it with a bind mount.
pub(crate) fn create_all(names: &[String]) -> Vec<(String, io::Result<Made>)> {
    let made = on_threads(names, workers(), |ns| create_on_this_thread(ns));
    names.iter().cloned().zip(made).collect()
}

/// `f` for every item, the items cut in order into one run per thread (at most `threads`);
/// the results in the items' order. A thread that panicked fails each of its items.
fn on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> io::Result<R> + Sync,
) -> Vec<io::Result<R>> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .zip(items.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|_| Err(io::Error::other("a namespace worker thread panicked")))
                        .collect()
                })
            })
            .collect()
    })
}

/// Must only run on a thread of its own: it leaves the thread inside the new namespace.
fn create_on_this_thread(ns: &str) -> io::Result<Made> {
    let path = path(ns);
    // O_EXCL: the name is ours only if we made the file; a namespace that already exists
    // (another lab's, the machine's) is never taken over.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    let pinned = (|| -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &path,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    })();
    if let Err(e) = pinned {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    // The mount point now shows the namespace's own inode (nsfs), not the marker file's.
    let inode = std::fs::metadata(&path)?.ino();
    Ok(Made { inode })
}

/// A handle to the namespace; the empty name is vnet's own (the machine's, for `host`).
pub(crate) fn open(ns: &str) -> io::Result<File> {
    if crate::model::Netns::of(ns).is_machine() {
        // The thread-group leader never changes namespace: this is the process's own.
        return File::open("/proc/self/ns/net");
    }
    File::open(path(ns))
}

/// The inode that identifies a namespace, `None` when there is no such name.
pub(crate) fn inode(ns: &str) -> io::Result<Option<u64>> {
    match std::fs::metadata(path(ns)) {
        Ok(m) => Ok(Some(m.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the name is a live namespace (a bind mount), not a stale marker left by a crash.
pub(crate) fn is_mounted(ns: &str) -> bool {
    // nsfs inodes live on the "nsfs" filesystem; a plain file on tmpfs is just a marker.
    nix::sys::statfs::statfs(&path(ns))
        .map(|s| s.filesystem_type().0 == 0x6e73_6673)
        .unwrap_or(false)
}

/// `ip netns del`: unmount (lazily, so open handles do not block it) and remove the name.
pub(crate) fn delete(ns: &str) -> io::Result<()> {
    let path = path(ns);
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

static DELETED: AtomicUsize = AtomicUsize::new(0);
static DELETING: AtomicUsize = AtomicUsize::new(0);

/// How many namespaces [`delete_all`] has deleted so far in this process, of how many it was
/// given: what `down`'s progress bar shows.
pub(crate) fn deletions() -> (usize, usize) {
    (
        DELETED.load(Ordering::SeqCst),
        DELETING.load(Ordering::SeqCst),
    )
}

/// [`delete`] for many namespaces at once, results in the same order.
///
/// Unmounting waits for an RCU grace period each time (the kernel frees the mount only after
/// one), and that wait, not the work, is what deleting thousands of namespaces costs. A grace
/// period is short, unless the kernel is meanwhile freeing the namespaces already unmounted
/// (it starts as soon as the last reference goes): then each one took milliseconds, and 5000
/// took seconds. So every namespace is kept alive until all are unmounted, and only then let
/// go, all at once; and the unmounts are spread over threads, which share grace periods.
///
/// Keeping them alive takes no descriptor each (see [`Kept`]); where the kernel will not
/// have that, as many as the open-file limit leaves room for are held open, and the
/// namespaces go in batches of that size: correct, but letting go of a batch sets the kernel
/// freeing it while the next is unmounted (5000 in batches of 256: ~1.7 s, not ~0.15 s).
pub(crate) fn delete_all(names: &[&str]) -> Vec<io::Result<()>> {
    const THREADS: usize = 16;
    DELETING.fetch_add(names.len(), Ordering::SeqCst);
    let mut done = Vec::with_capacity(names.len());
    let mut rest = names;
    while !rest.is_empty() {
        let mut kept = Kept::new(spare_descriptors().saturating_sub(RESERVED));
        let mut taken = 0;
        while taken < rest.len() && (taken == 0 || kept.has_room()) {
            let end = (taken + kept.parcel()).min(rest.len());
            // A namespace that cannot be opened is still deleted, only not kept alive.
            kept.keep(
                rest[taken..end]
                    .iter()
                    .filter_map(|ns| File::open(path(ns)).ok())
                    .collect(),
            );
            taken = end;
        }
        let (now, later) = rest.split_at(taken);
        done.extend(on_threads(now, THREADS, |ns| {
            let r = delete(ns);
            DELETED.fetch_add(1, Ordering::SeqCst);
            r
        }));
        drop(kept);
        rest = later;
    }
    done
}

/// Descriptors left for what is not counted: stdio, the journal, sockets, the runtime.
const RESERVED: usize = 64;

/// How many more descriptors this process may open now: its soft `RLIMIT_NOFILE` less the
/// descriptors it has open.
pub(crate) fn spare_descriptors() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 256;
    }
    // Less one: the directory being read is open while it is read.
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(RESERVED);
    usize::try_from(limit.rlim_cur)
        .unwrap_or(usize::MAX)
        .saturating_sub(open)
}

/// Namespaces kept alive without a descriptor each. A handle is opened, sent over a socket
/// pair of vnet's own that nobody reads (SCM_RIGHTS), and closed: a file in flight holds its
/// namespace as an open one does, and takes no slot in the descriptor table. The kernel
/// counts files in flight against `RLIMIT_NOFILE` only for processes without CAP_SYS_ADMIN
/// or CAP_SYS_RESOURCE, and vnet needs CAP_SYS_ADMIN to mount namespaces at all. Should it
/// refuse anyway, handles stay open, within `budget`. Dropped: every one is let go at once.
struct Kept {
    pairs: Vec<(UnixStream, UnixStream)>,
    open: Vec<File>,
    budget: usize,
    parks: bool,
}

impl Kept {
    /// Handles sent in one message: the kernel takes at most 253 (SCM_MAX_FD).
    const PARCEL: usize = 250;

    fn new(budget: usize) -> Self {
        Kept {
            pairs: Vec::new(),
            open: Vec::new(),
            budget,
            parks: true,
        }
    }

    /// How many handles to open at a time.
    fn parcel(&self) -> usize {
        if self.parks {
            Self::PARCEL
        } else {
            self.budget.clamp(1, Self::PARCEL)
        }
    }

    fn has_room(&self) -> bool {
        self.parks || self.open.len() + self.parcel() <= self.budget
    }

    fn keep(&mut self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        if self.parks {
            match self.park(&files) {
                // Sent: the kernel holds them now, and ours close as `files` goes.
                Ok(()) => return,
                Err(_) => self.parks = false,
            }
        }
        self.open.extend(files);
    }

    fn park(&mut self, files: &[File]) -> io::Result<()> {
        let fds: Vec<RawFd> = files.iter().map(AsRawFd::as_raw_fd).collect();
        let rights = [ControlMessage::ScmRights(&fds)];
        let byte = [io::IoSlice::new(b"n")];
        // A full socket buffer (some 75,000 handles) takes a fresh pair; nothing reads the old.
        for fresh in [self.pairs.is_empty(), true] {
            if fresh {
                self.pairs.push(UnixStream::pair()?);
            }
            let (tx, _) = self.pairs.last().expect("a pair was pushed");
            match sendmsg::<()>(tx.as_raw_fd(), &byte, &rights, MsgFlags::MSG_DONTWAIT, None) {
                Ok(_) => return Ok(()),
                Err(Errno::EAGAIN | Errno::ENOBUFS) if !fresh => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }
}

/// Runs `f` on a fresh thread that has entered the namespace `fd`.
pub(crate) fn in_netns<T: Send>(fd: &File, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("a namespace worker thread panicked")))
    })
}

/// Runs `f` for every namespace already open, a few threads each entering them in turn.
pub(crate) fn in_each<T: Send, F>(targets: &[(&str, &File)], f: F) -> Vec<(String, io::Result<T>)>
where
    F: Fn(&str) -> io::Result<T> + Sync,
{
    spread(
        targets,
        |(ns, _)| ns,
        |(_, fd)| Ok(setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)?),
        || Ok(()),
        |(), ns| f(ns),
    )
}

/// As [`in_each`] for namespaces named, not open: each thread opens the one it enters and
/// closes it once inside, so no more are open than there are threads. With state of each
/// thread's own made by `init` (when `init` fails, every namespace of that thread gets its
/// error).
pub(crate) fn in_each_with<S, T: Send, I, F>(
    names: &[&str],
    init: I,
    f: F,
) -> Vec<(String, io::Result<T>)>
where
    I: Fn() -> io::Result<S> + Sync,
    F: Fn(&mut S, &str) -> io::Result<T> + Sync,
{
    spread(
        names,
        |ns| ns,
        |ns| Ok(setns(open(ns)?.as_fd(), CloneFlags::CLONE_NEWNET)?),
        init,
        f,
    )
}

/// The items cut in order into one run per worker thread; each thread makes its state, then
/// for each item enters the namespace `name` names and runs `f` there.
fn spread<X: Sync, S, T: Send, N, E, I, F>(
    items: &[X],
    name: N,
    enter: E,
    init: I,
    f: F,
) -> Vec<(String, io::Result<T>)>
where
    N: Fn(&X) -> &str + Sync,
    E: Fn(&X) -> io::Result<()> + Sync,
    I: Fn() -> io::Result<S> + Sync,
    F: Fn(&mut S, &str) -> io::Result<T> + Sync,
{
    let workers = items.len().clamp(1, workers());
    let chunk = items.len().div_ceil(workers).max(1);
    let (name, enter, init, f) = (&name, &enter, &init, &f);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut state = init();
                    part.iter()
                        .map(|item| {
                            let ns = name(item);
                            let r = match &mut state {
                                Ok(state) => enter(item).and_then(|()| f(state, ns)),
                                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                            };
                            (ns.to_string(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Threads for work spread over namespaces: the kernel does most of it, so one per CPU
/// (more only contend for the kernel's locks), at most four.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4)
}

/// Every process whose network namespace is one of `inodes`: found by namespace, never by name.
pub(crate) fn processes_in(inodes: &[u64]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| inodes.contains(&m.ino()))
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Vec<File> {
        (0..n).map(|_| File::open("/dev/null").unwrap()).collect()
    }

    #[test]
    fn kept_handles_are_parked_not_held_open() {
        let mut kept = Kept::new(8);
        for _ in 0..4 {
            kept.keep(files(Kept::PARCEL));
        }
        // Where the kernel refuses (a process without CAP_SYS_ADMIN, past its open-file
        // limit in flight), the handles stay open instead; then the budget rules.
        if kept.parks {
            assert!(kept.open.is_empty());
            assert!(kept.has_room());
        } else {
            assert!(!kept.has_room());
        }
    }

    #[test]
    fn without_parking_no_more_are_held_than_the_budget() {
        let mut kept = Kept::new(10);
        kept.parks = false;
        assert_eq!(kept.parcel(), 10);
        assert!(kept.has_room());
        kept.keep(files(kept.parcel()));
        assert!(!kept.has_room());
        assert_eq!(kept.open.len(), 10);
    }
}
