//! Link-layer sockets (AF_PACKET): frames sent and seen as they are on the wire, for what no
//! ordinary socket can do: forged ARP, watching a port for another host's frames.
//!
//! Everything here works in the calling thread's network namespace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A packet socket for one ethertype (or all), bound to one interface (or every interface of
/// the namespace).
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
    proto: u16,
}

pub(crate) const ETH_P_ALL: u16 = 0x0003;
pub(crate) const ETH_P_ARP: u16 = 0x0806;

impl PacketSocket {
    /// A socket that sends and receives payloads after the Ethernet header (SOCK_DGRAM) or
    /// whole frames (`raw`), on `iface` (`None`: every interface).
    pub(crate) fn open(iface: Option<&str>, proto: u16, raw: bool) -> io::Result<PacketSocket> {
        let kind = if raw {
            libc::SOCK_RAW
        } else {
            libc::SOCK_DGRAM
        };
        // SAFETY: plain socket(2); the result is checked before it is owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(proto.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ifindex = match iface {
            Some(name) => nix::net::if_::if_nametoindex(name).map_err(io::Error::from)? as i32,
            None => 0,
        };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: binds our socket to a correctly sized, initialised sockaddr_ll.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket { fd, ifindex, proto })
    }

    /// Sends `payload` to the link-layer address `to` (SOCK_DGRAM: the kernel writes the
    /// Ethernet header with this interface's own MAC as the source).
    pub(crate) fn send_to(&self, payload: &[u8], to: [u8; 6]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = self.proto.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&to);
        // SAFETY: sends our buffer to a correctly sized, initialised address.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The next frame waiting (non-blocking), if any.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: receives into our own buffer of the given size.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        usize::try_from(n).ok()
    }

    /// Waits up to `ms` for a frame to arrive.
    pub(crate) fn wait(&self, ms: i32) -> bool {
        let mut fds = [libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `fds` is a valid, exclusively borrowed array of one pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, ms.max(0)) > 0 }
    }
}

/// A frame as captured: its bytes (up to the buffer), its length on the wire, and when the
/// kernel saw it.
pub(crate) struct Captured {
    pub len: usize,
    pub wire_len: usize,
    pub at: std::time::SystemTime,
}

impl PacketSocket {
    /// Asks the kernel to stamp each frame as it arrives: the time in a capture must be when
    /// the frame crossed the interface, not when vnet got round to reading it.
    pub(crate) fn stamp(&self) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads one int from a valid pointer of the given size.
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMP,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The next frame waiting (non-blocking), with its wire length and the kernel's stamp
    /// (the time of reading when the socket was not asked to [`stamp`](Self::stamp)).
    pub(crate) fn recv_captured(&self, buf: &mut [u8]) -> Option<Captured> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one SCM_TIMESTAMP control message, aligned as cmsg(3) wants.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain data; all-zero is a valid starting value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: every pointer in `msg` points into buffers that outlive the call, with
        // their true sizes. MSG_TRUNC makes the result the frame's whole length.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
        let wire_len = usize::try_from(n).ok()?;
        let mut at = std::time::SystemTime::now();
        // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes the kernel filled in.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMP {
                    let tv: libc::timeval = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    at = std::time::UNIX_EPOCH
                        + std::time::Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        Some(Captured {
            len: wire_len.min(buf.len()),
            wire_len,
            at,
        })
    }
}

/// Waits up to `ms` for a frame on any of `sockets`; which of them have one.
pub(crate) fn wait_any(sockets: &[&PacketSocket], ms: i32) -> Vec<bool> {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfds.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms.max(0)) };
    if n <= 0 {
        return vec![false; sockets.len()];
    }
    fds.iter().map(|f| f.revents & libc::POLLIN != 0).collect()
}

/// The MAC address of an interface of the calling thread's namespace.
pub(crate) fn mac_of(iface: &str) -> io::Result<[u8; 6]> {
    let s = PacketSocket::open(Some(iface), ETH_P_ARP, false)?;
    // SAFETY: ifreq is plain data; the name is copied in within its bounds below.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in ifr
        .ifr_name
        .iter_mut()
        .zip(iface.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = c as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR fills `ifr` for the named interface.
    if unsafe { libc::ioctl(s.fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds a sockaddr with the hardware address.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(mac)
}

/// An ARP packet (after the Ethernet header): `op` 1 request, 2 reply.
pub(crate) fn arp(
    op: u16,
    sender_mac: [u8; 6],
    sender_ip: std::net::Ipv4Addr,
    target_mac: [u8; 6],
    target_ip: std::net::Ipv4Addr,
) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&op.to_be_bytes());
    p[8..14].copy_from_slice(&sender_mac);
    p[14..18].copy_from_slice(&sender_ip.octets());
    p[18..24].copy_from_slice(&target_mac);
    p[24..28].copy_from_slice(&target_ip.octets());
    p
}

/// `02:00:00:00:00:03`.
pub(crate) fn mac_text(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
