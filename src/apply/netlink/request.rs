//! One plan step as one netlink request: the messages are built here, up front, and sent later
//! together with the rest of their stage.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use futures_util::stream::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    BridgeStpState, BridgeVlanInfoFlags, InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute,
    MacVlanMode,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgeVlan, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth,
    LinkVlan, LinkVxlan, RouteMessageBuilder,
};

use super::NetlinkBackend;
use crate::apply::StepError;
use crate::plan::{End, Step};

impl NetlinkBackend {
    fn index(&self, step: &Step, ns: &str, dev: &str) -> Result<u32, StepError> {
        self.space(step, ns)?
            .index
            .get(dev)
            .copied()
            .ok_or_else(|| StepError::new(step, io::Error::from_raw_os_error(libc::ENODEV)))
    }

    /// Builds the request for one step; runs later, concurrently with the rest of the stage.
    pub(super) fn request(&mut self, step: &Step) -> Result<Request, StepError> {
        let e = |err: io::Error| StepError::new(step, err);
        Ok(match step {
            Step::AddBridge {
                ns,
                name,
                stp,
                priority,
                vlan_filtering,
                hub,
            } => {
                let h = self.handle(step, ns)?;
                let state = if *stp {
                    BridgeStpState::KernelStp
                } else {
                    BridgeStpState::Disabled
                };
                // No IGMP/MLD snooping: without a querier a lab's bridge floods multicast
                // anyway, and with it on, every port coming up re-arms the multicast timers
                // of every other port (quadratic in the ports: a fifth of `up` at 1000).
                let mut b = LinkBridge::new(name)
                    .stp_state(state)
                    .append_info_data(InfoBridge::MulticastSnooping(false));
                if *vlan_filtering {
                    // No implicit VLAN 1 on every port: each port gets exactly its own VLANs.
                    b = b.vlan_filtering(true).vlan_default_pvid(0);
                }
                if *stp {
                    // The kernel's minimum: ports start forwarding after 2 x 2 s, not 2 x 15 s.
                    b = b.forward_delay(200);
                }
                if let Some(p) = priority {
                    b = b.append_info_data(InfoBridge::Priority(*p));
                }
                if *hub {
                    // A MAC forgotten as soon as it is learned: every frame goes everywhere.
                    b = b.append_info_data(InfoBridge::AgeingTime(0));
                }
                Request::Link(h, b.build(), true)
            }
            Step::AddVeth { a, b, mtu } => {
                let root = self.root().map_err(e)?;
                let msg =
                    veth_message(a, b, *mtu, self.file(step, &a.ns)?, self.file(step, &b.ns)?)
                        .map_err(e)?;
                Request::Link(root, msg, true)
            }
            Step::SetMaster { ns, dev, master } => {
                let br = self.index(step, ns, master)?;
                let msg = LinkUnspec::new_with_name(dev).controller(br).build();
                Request::Link(self.handle(step, ns)?, msg, false)
            }
            Step::LinkUp { ns, dev } => {
                let msg = LinkUnspec::new_with_name(dev).up().build();
                Request::Link(self.handle(step, ns)?, msg, false)
            }
            Step::AddAddress { ns, dev, addr } => {
                let idx = self.index(step, ns, dev)?;
                Request::Address(self.handle(step, ns)?, idx, *addr)
            }
            Step::BridgeVlan {
                ns,
                dev,
                vid,
                untagged,
                bridge_self,
            } => {
                let idx = self.index(step, ns, dev)?;
                let flags = if *untagged {
                    BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged
                } else {
                    BridgeVlanInfoFlags::empty()
                };
                let mut b = LinkBridgeVlan::new(idx).vlan(*vid, flags);
                if *bridge_self {
                    b = b.bridge_self();
                }
                Request::Link(self.handle(step, ns)?, b.build(), false)
            }
            Step::AddVlan {
                ns,
                parent,
                name,
                vid,
            } => {
                let idx = self.index(step, ns, parent)?;
                let msg = LinkVlan::new(name, idx, *vid).build();
                Request::Link(self.handle(step, ns)?, msg, true)
            }
            Step::AddMacvlan {
                parent,
                child,
                mode,
            } => {
                let idx = self.index(step, &parent.ns, &parent.dev)?;
                let mode = match mode.as_str() {
                    "private" => MacVlanMode::Private,
                    "vepa" => MacVlanMode::Vepa,
                    "passthru" => MacVlanMode::Passthrough,
                    _ => MacVlanMode::Bridge,
                };
                let temporary = self.temporary_name();
                let mut msg = LinkMacVlan::new(&temporary, idx, mode)
                    .setns_by_fd(self.file(step, &child.ns)?.as_raw_fd());
                if let Some(mac) = &child.mac {
                    msg = msg.address(parse_mac(mac).map_err(e)?);
                }
                Request::Born {
                    creator: self.handle(step, &parent.ns)?,
                    msg: msg.build(),
                    home: self.handle(step, &child.ns)?,
                    temporary,
                    name: child.dev.clone(),
                }
            }
            Step::AddVxlan {
                underlay_ns,
                end,
                vni,
                local,
                remote,
            } => {
                let (IpAddr::V4(local), IpAddr::V4(remote)) = (local, remote) else {
                    return Err(e(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)));
                };
                let temporary = self.temporary_name();
                let msg = LinkVxlan::new(&temporary, *vni)
                    .local(*local)
                    .remote(*remote)
                    .port(4789)
                    .setns_by_fd(self.file(step, &end.ns)?.as_raw_fd())
                    .build();
                Request::Born {
                    creator: self.handle(step, underlay_ns)?,
                    msg,
                    home: self.handle(step, &end.ns)?,
                    temporary,
                    name: end.dev.clone(),
                }
            }
            Step::AddRoute { ns, to, via } => Request::Route(self.handle(step, ns)?, *to, *via),
            Step::Impair { ns, dev, shape } => {
                let idx = self.index(step, ns, dev)? as i32;
                Request::Tc(
                    self.handle(step, ns)?,
                    crate::apply::tc::shape_requests(idx, shape),
                    false,
                )
            }
            Step::Unimpair { ns, dev } => {
                let idx = self.index(step, ns, dev)? as i32;
                Request::Tc(
                    self.handle(step, ns)?,
                    vec![crate::apply::tc::delete_root(idx)],
                    true,
                )
            }
            Step::AddNetns { .. }
            | Step::LoopbackUp { .. }
            | Step::Sysctl { .. }
            | Step::Exec { .. }
            | Step::Nft { .. }
            | Step::MachineNat { .. }
            | Step::DelMachineNat { .. }
            | Step::StopProcesses { .. }
            | Step::AddTap { .. }
            | Step::DelLink { .. }
            | Step::MoveLink { .. }
            | Step::DelNetns { .. } => {
                return Err(e(io::Error::other("not a netlink step")));
            }
        })
    }
}

fn veth_message(
    a: &End,
    b: &End,
    mtu: Option<u32>,
    ns_a: &File,
    ns_b: &File,
) -> io::Result<rtnetlink::packet_route::link::LinkMessage> {
    let mut peer = LinkUnspec::new_with_name(&b.dev).setns_by_fd(ns_b.as_raw_fd());
    if let Some(m) = mtu {
        peer = peer.mtu(m);
    }
    if let Some(mac) = &b.mac {
        peer = peer.address(parse_mac(mac)?);
    }
    let mut peer = peer.build();
    one_queue(&mut peer);
    let mut msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(a.dev.clone())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .setns_by_fd(ns_a.as_raw_fd());
    if let Some(m) = mtu {
        msg = msg.mtu(m);
    }
    if let Some(mac) = &a.mac {
        msg = msg.address(parse_mac(mac)?);
    }
    let mut msg = msg.build();
    one_queue(&mut msg);
    Ok(msg)
}

/// Asks for one TX and one RX queue outright. A veth made without saying so gets one queue
/// per CPU and is then cut down to one, and cutting queues of a registered device waits for
/// an RCU grace period while holding the RTNL lock: twice per pair, every other netlink
/// request of every namespace waiting behind it. `ip link add` pays that; vnet need not.
fn one_queue(msg: &mut rtnetlink::packet_route::link::LinkMessage) {
    msg.attributes.push(LinkAttribute::NumTxQueues(1));
    msg.attributes.push(LinkAttribute::NumRxQueues(1));
}

fn parse_mac(mac: &str) -> io::Result<Vec<u8>> {
    mac.split(':')
        .map(|b| u8::from_str_radix(b, 16).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL)))
        .collect()
}

pub(super) enum Request {
    /// A link message; `true` when it creates a link (RTM_NEWLINK with CREATE|EXCL).
    Link(Handle, rtnetlink::packet_route::link::LinkMessage, bool),
    /// A device made in one namespace for another under a name of vnet's, then renamed
    /// there: older kernels check the final name against the namespace that creates it.
    Born {
        creator: Handle,
        msg: rtnetlink::packet_route::link::LinkMessage,
        home: Handle,
        temporary: String,
        name: String,
    },
    Address(Handle, u32, ipnet::IpNet),
    Route(Handle, ipnet::IpNet, IpAddr),
    /// Traffic-control requests, sent one after the other (a child qdisc needs its parent);
    /// `true`: "no such qdisc" is what was wanted (deleting a root that is the default).
    Tc(Handle, Vec<TcRequest>, bool),
}

type TcRequest =
    rtnetlink::packet_core::NetlinkMessage<rtnetlink::packet_route::RouteNetlinkMessage>;

impl Request {
    pub(super) async fn send(self) -> io::Result<()> {
        if let Request::Tc(h, requests, absent_ok) = self {
            for r in requests {
                match crate::apply::tc::send(h.clone(), r).await {
                    Err(e)
                        if absent_ok
                            && matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => {}
                    other => other?,
                }
            }
            return Ok(());
        }
        self.send_link().await.map_err(super::nl_err)
    }

    async fn send_link(self) -> Result<(), rtnetlink::Error> {
        match self {
            Request::Link(h, msg, true) => h.link().add(msg).execute().await,
            Request::Link(h, msg, false) => h.link().set(msg).execute().await,
            Request::Born {
                creator,
                msg,
                home,
                temporary,
                name,
            } => {
                creator.link().add(msg).execute().await?;
                let idx = match home
                    .link()
                    .get()
                    .match_name(temporary)
                    .execute()
                    .try_next()
                    .await?
                {
                    Some(l) => l.header.index,
                    None => return Err(rtnetlink::Error::RequestFailed),
                };
                home.link()
                    .set(LinkUnspec::new_with_index(idx).name(name).build())
                    .execute()
                    .await
            }
            Request::Address(h, idx, net) => add_address(&h, idx, net).await,
            Request::Route(h, to, via) => add_route(&h, to, via).await,
            Request::Tc(..) => Err(rtnetlink::Error::RequestFailed),
        }
    }
}

/// `ip addr add NET dev IDX` (IPv6 without duplicate address detection, as vnet sets it).
pub(crate) async fn add_address(
    h: &Handle,
    idx: u32,
    net: ipnet::IpNet,
) -> Result<(), rtnetlink::Error> {
    let mut req = h.address().add(idx, net.addr(), net.prefix_len());
    if net.addr().is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    req.execute().await
}

/// `ip route add TO via VIA`; the kernel picks the interface.
pub(crate) async fn add_route(
    h: &Handle,
    to: ipnet::IpNet,
    via: IpAddr,
) -> Result<(), rtnetlink::Error> {
    let msg = match (to, via) {
        (ipnet::IpNet::V4(to), IpAddr::V4(via)) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .destination_prefix(to.network(), to.prefix_len())
            .gateway(via)
            .build(),
        (ipnet::IpNet::V6(to), IpAddr::V6(via)) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
            .destination_prefix(to.network(), to.prefix_len())
            .gateway(via)
            .build(),
        _ => return Err(rtnetlink::Error::RequestFailed),
    };
    h.route().add(msg).execute().await
}
