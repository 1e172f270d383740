//! Requests made from inside a namespace by the thread that entered it, on a socket of its
//! own that lives only as long as the request.
//!
//! `lo` comes up here, in the settings stage, while the thread is inside for the sysctls
//! anyway: sent from the main thread instead, it needed a socket in every namespace made by
//! another visit, and with the pool's bound that visit could not be the creating one.

use std::io;

use rtnetlink::LinkUnspec;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};

/// `ip link set lo up alias TAG` in the calling thread's namespace.
pub(super) fn loopback_up(tag: &str) -> io::Result<()> {
    // `lo` is always index 1 in a fresh namespace.
    let link = LinkUnspec::new_with_index(1)
        .up()
        .alias(tag.to_owned())
        .build();
    request(RouteNetlinkMessage::SetLink(link))
}

/// Sends one request and waits for the kernel's answer to it.
fn request(message: RouteNetlinkMessage) -> io::Result<()> {
    let socket = Socket::new(NETLINK_ROUTE)?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
    packet.finalize();
    let mut out = vec![0; packet.buffer_len()];
    packet.serialize(&mut out);
    socket.send(&out, 0)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = socket.recv(&mut &mut buf[..], 0)?;
        let answer = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if answer.header.sequence_number != 1 {
            continue;
        }
        return match answer.payload {
            NetlinkPayload::Error(e) if e.code.is_some() => Err(e.to_io()),
            _ => Ok(()),
        };
    }
}
