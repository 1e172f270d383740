//! Persistent TAP devices, made with the tun driver's ioctls: the kernel refuses to create
//! them over rtnetlink. Called on a thread that is inside the target namespace, so the device
//! is born there.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;

// From <linux/if_tun.h>: _IOW('T', n, int).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETPERSIST: libc::c_ulong = 0x4004_54cb;
const TUNSETOWNER: libc::c_ulong = 0x4004_54cc;
const TUNSETGROUP: libc::c_ulong = 0x4004_54ce;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

fn ioctl(fd: i32, request: libc::c_ulong, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the tun ioctls below take an integer or a pointer to a live ifreq.
    if unsafe { libc::ioctl(fd, request, arg) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ip tuntap add dev NAME mode tap [user U] [group G]` in the calling thread's namespace.
pub fn create(name: &str, owner: Option<u32>, group: Option<u32>) -> io::Result<()> {
    let tun = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    let fd = tun.as_raw_fd();
    attach(fd, name)?;
    if let Some(uid) = owner {
        ioctl(fd, TUNSETOWNER, libc::c_ulong::from(uid))?;
    }
    if let Some(gid) = group {
        ioctl(fd, TUNSETGROUP, libc::c_ulong::from(gid))?;
    }
    // Persistent: the device outlives this descriptor, waiting for a VM to open it.
    ioctl(fd, TUNSETPERSIST, 1)
}

/// Binds an open `/dev/net/tun` to the TAP device `name` (creating it if it does not exist).
pub fn attach(fd: i32, name: &str) -> io::Result<()> {
    // SAFETY: ifreq is plain data; all-zero is a valid start, the name is copied within bounds.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
    ioctl(fd, TUNSETIFF, (&raw mut ifr) as libc::c_ulong)
}
