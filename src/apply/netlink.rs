//! The real backend: rtnetlink over one socket per namespace, opened once and reused, with the
//! requests of a stage pipelined (the kernel sees them back to back, not one round trip each).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::PathBuf;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    BridgeStpState, BridgeVlanInfoFlags, InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute,
    LinkExtentMask, MacVlanMode,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgeVlan, LinkMacVlan, LinkMessageBuilder, LinkUnspec, LinkVeth,
    LinkVlan, LinkVxlan, RouteMessageBuilder,
};

use super::{Backend, Fact, StepError, exec, netns};
use crate::plan::{End, Step};

/// How many requests of one stage may be in flight at once.
const IN_FLIGHT: usize = 32;

struct Space {
    file: File,
    handle: Handle,
    /// Interface name → index, of the devices looked up so far; emptied when devices are
    /// made or moved there.
    index: HashMap<String, u32>,
}

pub struct NetlinkBackend {
    rt: tokio::runtime::Runtime,
    spaces: HashMap<String, Space>,
    root: Option<Handle>,
    exec_log: PathBuf,
    temporaries: u32,
    /// Namespaces this backend created, fresh: what they inherited is the same for all.
    made: HashSet<String>,
}

fn nl_err_is(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == errno)
}

fn nl_err(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

impl NetlinkBackend {
    /// `exec_log` receives the output of `exec:` commands.
    pub fn new(exec_log: PathBuf) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(NetlinkBackend {
            rt,
            spaces: HashMap::new(),
            root: None,
            exec_log,
            temporaries: 0,
            made: HashSet::new(),
        })
    }

    /// A device name of vnet's own, unique within this run, for devices that are renamed
    /// once they are where they belong.
    fn temporary_name(&mut self) -> String {
        self.temporaries += 1;
        format!("vnet-t{}", self.temporaries)
    }

    /// A handle from a netlink socket that was opened inside some namespace.
    fn handle_from(&self, sock: rtnetlink::sys::Socket) -> io::Result<Handle> {
        let _guard = self.rt.enter();
        let fd = sock.into_raw_fd();
        // SAFETY: `fd` was just released from an owned netlink socket and is given to exactly
        // one new owner here.
        let tokio_sock = unsafe { rtnetlink::sys::TokioSocket::from_raw_fd(fd) };
        let (conn, handle, _) = rtnetlink::from_socket(tokio_sock);
        self.rt.spawn(conn);
        Ok(handle)
    }

    fn root(&mut self) -> io::Result<Handle> {
        if let Some(h) = &self.root {
            return Ok(h.clone());
        }
        let sock = rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)?;
        let h = self.handle_from(sock)?;
        self.root = Some(h.clone());
        Ok(h)
    }

    /// The namespace's handle, opening one if this process did not create it.
    fn space(&mut self, ns: &str) -> io::Result<&mut Space> {
        if !self.spaces.contains_key(ns) {
            let file = netns::open(ns)?;
            let sock = netns::in_netns(&file, || {
                rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)
            })??;
            let handle = self.handle_from(sock)?;
            self.spaces.insert(
                ns.to_owned(),
                Space {
                    file,
                    handle,
                    index: HashMap::new(),
                },
            );
        }
        Ok(self.spaces.get_mut(ns).expect("inserted above"))
    }

    fn add_namespaces(&mut self, steps: &[Step], facts: &mut Vec<Fact>) -> Result<(), StepError> {
        netns::prepare_dir().map_err(|e| StepError::new(&steps[0], e))?;
        let names: Vec<String> = steps.iter().map(|s| s.ns().to_owned()).collect();
        let mut first_error = None;
        for (ns, made) in netns::create_all(&names) {
            let step = Step::AddNetns { ns: ns.clone() };
            match made {
                Ok(m) => {
                    // Recorded before anything else can fail: this namespace is provably ours.
                    facts.push(Fact::Netns {
                        ns: ns.clone(),
                        inode: m.inode,
                    });
                    self.made.insert(ns.clone());
                    match self.handle_from(m.netlink) {
                        Ok(handle) => {
                            self.spaces.insert(
                                ns,
                                Space {
                                    file: m.file,
                                    handle,
                                    index: HashMap::new(),
                                },
                            );
                        }
                        Err(e) => {
                            first_error.get_or_insert(StepError::new(&step, e));
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(StepError::new(&step, e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Steps that are done from inside the namespace (sysctls, TAP ioctls), a few threads
    /// each entering namespaces in turn.
    fn in_namespaces(&mut self, steps: &[Step]) -> Result<(), StepError> {
        let unchanged = self.already_set(steps)?;
        let mut by_ns: HashMap<&str, Vec<&Step>> = HashMap::new();
        for s in steps {
            if let Step::Sysctl { key, value, .. } = s
                && unchanged.get(key.as_str()) == Some(value)
            {
                continue;
            }
            by_ns.entry(s.ns()).or_default().push(s);
        }
        for ns in by_ns.keys() {
            self.space(ns)
                .map_err(|e| StepError::new(by_ns[ns][0], e))?;
        }
        let targets: Vec<(&str, &File)> = by_ns
            .keys()
            .map(|ns| (*ns, &self.spaces[*ns].file))
            .collect();
        let results = netns::in_each_with(&targets, super::sysctl::Writer::new, |writer, ns| {
            let steps = &by_ns[ns];
            let sysctls: Vec<(&Step, (&str, &str))> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Sysctl { key, value, .. } => Some((*s, (key.as_str(), value.as_str()))),
                    _ => None,
                })
                .collect();
            let pairs: Vec<(&str, &str)> = sysctls.iter().map(|(_, p)| *p).collect();
            if let Err((i, e)) = writer.write(&pairs) {
                return Ok(Err((sysctls[i].0, e)));
            }
            for s in steps {
                if let Step::AddTap {
                    dev, owner, group, ..
                } = s
                    && let Err(e) = super::tap::create(dev, *owner, *group)
                {
                    return Ok(Err((*s, e)));
                }
            }
            Ok(Ok(()))
        });
        for (ns, r) in results {
            match r {
                Ok(Ok(())) => {}
                Ok(Err((step, e))) => return Err(StepError::new(step, e)),
                Err(e) => return Err(StepError::new(by_ns[ns.as_str()][0], e)),
            }
        }
        Ok(())
    }

    /// The sysctl values every namespace of `steps` has already, when they were all made by
    /// this run: then they all inherited the same values (from the machine's namespace, or
    /// the kernel's defaults), so one namespace tells for all, and a sysctl already at the
    /// value wanted need not be written a thousand times. Empty when that cannot be known.
    fn already_set<'a>(
        &mut self,
        steps: &'a [Step],
    ) -> Result<HashMap<&'a str, String>, StepError> {
        let mut keys: Vec<&str> = Vec::new();
        for s in steps {
            let Step::Sysctl { ns, key, .. } = s else {
                continue;
            };
            if !self.made.contains(ns) {
                // A namespace this run did not make may have been set to anything.
                return Ok(HashMap::new());
            }
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
        let Some(first) = steps.iter().find(|s| matches!(s, Step::Sysctl { .. })) else {
            return Ok(HashMap::new());
        };
        let file = &self
            .space(first.ns())
            .map_err(|e| StepError::new(first, e))?
            .file;
        let values = netns::in_netns(file, || super::sysctl::read(&keys))
            .and_then(|r| r)
            .map_err(|e| StepError::new(first, e))?;
        Ok(keys
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k, v?)))
            .collect())
    }

    /// Marks each link, then moves it to the machine under its final name.
    fn move_links(&mut self, steps: &[Step]) -> Result<(), StepError> {
        for s in steps {
            let Step::MoveLink { ns, dev, name, tag } = s else {
                continue;
            };
            let e = |err: io::Error| StepError::new(s, err);
            let machine = self.space("").map_err(e)?.file.try_clone().map_err(e)?;
            let h = self.space(ns).map_err(e)?.handle.clone();
            self.rt
                .block_on(async {
                    h.link()
                        .set(LinkUnspec::new_with_name(dev).alias(tag.clone()).build())
                        .execute()
                        .await?;
                    let idx = match h
                        .link()
                        .get()
                        .match_name(dev.clone())
                        .execute()
                        .try_next()
                        .await?
                    {
                        Some(l) => l.header.index,
                        None => return Err(rtnetlink::Error::RequestFailed),
                    };
                    h.link()
                        .set(
                            LinkUnspec::new_with_index(idx)
                                .setns_by_fd(machine.as_raw_fd())
                                .name(name.clone())
                                .build(),
                        )
                        .execute()
                        .await
                })
                .map_err(|err| e(nl_err(err)))?;
            for space in [ns.as_str(), ""] {
                if let Some(sp) = self.spaces.get_mut(space) {
                    sp.index.clear();
                }
            }
        }
        Ok(())
    }

    /// Makes sure every namespace the steps touch has a handle, and that the index of every
    /// device a step names by index is known.
    ///
    /// Devices are looked up by name, one request each, rather than by dumping a namespace's
    /// links: a bridge's namespace has a link per port, and a dump of a thousand parsed
    /// links was most of `up`'s memory. Steps that can name a device by name (bringing it up,
    /// joining it to a bridge) need no index at all.
    fn prepare(&mut self, steps: &[Step]) -> Result<(), StepError> {
        let mut wanted: Vec<(String, String, &Step)> = Vec::new();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for s in steps {
            let mut spaces = vec![s.ns()];
            match s {
                Step::AddVeth { b, .. } => spaces.push(&b.ns),
                Step::AddMacvlan { child, .. } => spaces.push(&child.ns),
                Step::AddVxlan { end, .. } => spaces.push(&end.ns),
                _ => {}
            }
            for ns in spaces {
                self.space(ns).map_err(|e| StepError::new(s, e))?;
            }
            let named: Option<(&str, &str)> = match s {
                Step::SetMaster { ns, master, .. } => Some((ns, master)),
                Step::AddAddress { ns, dev, .. } | Step::BridgeVlan { ns, dev, .. } => {
                    Some((ns, dev))
                }
                Step::AddVlan { ns, parent, .. } => Some((ns, parent)),
                Step::AddMacvlan { parent, .. } => Some((&parent.ns, &parent.dev)),
                _ => None,
            };
            if let Some((ns, dev)) = named
                && !self.spaces[ns].index.contains_key(dev)
                && seen.insert((ns, dev))
            {
                wanted.push((ns.to_owned(), dev.to_owned(), s));
            }
        }
        let lookups: Vec<_> = wanted
            .into_iter()
            .map(|(ns, dev, s)| {
                let h = self.spaces[&ns].handle.clone();
                (ns, dev, s, h)
            })
            .collect();
        let found = self.rt.block_on(async {
            stream::iter(lookups.into_iter().map(|(ns, dev, step, h)| async move {
                let link = h
                    .link()
                    .get()
                    .match_name(dev.clone())
                    .set_filter_mask(AddressFamily::Unspec, vec![LinkExtentMask::SkipStats])
                    .execute()
                    .try_next()
                    .await;
                match link {
                    Ok(Some(l)) => Ok(Some((ns, dev, l.header.index))),
                    // The step itself says the device is missing, with its own errno.
                    Ok(None) => Ok(None),
                    Err(e) if nl_err_is(&e, libc::ENODEV) => Ok(None),
                    Err(e) => Err(StepError::new(step, nl_err(e))),
                }
            }))
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await
        })?;
        for (ns, dev, index) in found.into_iter().flatten() {
            if let Some(sp) = self.spaces.get_mut(&ns) {
                sp.index.insert(dev, index);
            }
        }
        Ok(())
    }

    fn index(&self, step: &Step, ns: &str, dev: &str) -> Result<u32, StepError> {
        self.spaces
            .get(ns)
            .and_then(|s| s.index.get(dev).copied())
            .ok_or_else(|| StepError::new(step, io::Error::from_raw_os_error(libc::ENODEV)))
    }

    /// Builds the request for one step; runs later, concurrently with the rest of the stage.
    fn request(&mut self, step: &Step) -> Result<Request, StepError> {
        let e = |err: io::Error| StepError::new(step, err);
        Ok(match step {
            Step::LoopbackUp { ns, tag } => {
                let h = self.spaces[ns].handle.clone();
                // `lo` is always index 1 in a fresh namespace.
                let msg = LinkUnspec::new_with_index(1)
                    .up()
                    .alias(tag.clone())
                    .build();
                Request::Link(h, msg, false)
            }
            Step::AddBridge {
                ns,
                name,
                stp,
                vlan_filtering,
            } => {
                let h = self.spaces[ns].handle.clone();
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
                Request::Link(h, b.build(), true)
            }
            Step::AddVeth { a, b, mtu } => {
                let root = self.root().map_err(e)?;
                let msg = veth_message(
                    a,
                    b,
                    *mtu,
                    &self.spaces[&a.ns].file,
                    &self.spaces[&b.ns].file,
                )
                .map_err(e)?;
                Request::Link(root, msg, true)
            }
            Step::SetMaster { ns, dev, master } => {
                let br = self.index(step, ns, master)?;
                let msg = LinkUnspec::new_with_name(dev).controller(br).build();
                Request::Link(self.spaces[ns].handle.clone(), msg, false)
            }
            Step::LinkUp { ns, dev } => {
                let msg = LinkUnspec::new_with_name(dev).up().build();
                Request::Link(self.spaces[ns].handle.clone(), msg, false)
            }
            Step::AddAddress { ns, dev, addr } => {
                let idx = self.index(step, ns, dev)?;
                Request::Address(self.spaces[ns].handle.clone(), idx, *addr)
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
                Request::Link(self.spaces[ns].handle.clone(), b.build(), false)
            }
            Step::AddVlan {
                ns,
                parent,
                name,
                vid,
            } => {
                let idx = self.index(step, ns, parent)?;
                let msg = LinkVlan::new(name, idx, *vid).build();
                Request::Link(self.spaces[ns].handle.clone(), msg, true)
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
                    .setns_by_fd(self.spaces[&child.ns].file.as_raw_fd());
                if let Some(mac) = &child.mac {
                    msg = msg.address(parse_mac(mac).map_err(e)?);
                }
                Request::Born {
                    creator: self.spaces[&parent.ns].handle.clone(),
                    msg: msg.build(),
                    home: self.spaces[&child.ns].handle.clone(),
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
                    .setns_by_fd(self.spaces[&end.ns].file.as_raw_fd())
                    .build();
                Request::Born {
                    creator: self.spaces[underlay_ns].handle.clone(),
                    msg,
                    home: self.spaces[&end.ns].handle.clone(),
                    temporary,
                    name: end.dev.clone(),
                }
            }
            Step::AddRoute { ns, to, via } => {
                Request::Route(self.spaces[ns].handle.clone(), *to, *via)
            }
            Step::AddNetns { .. }
            | Step::Sysctl { .. }
            | Step::Exec { .. }
            | Step::Nft { .. }
            | Step::MachineNat { .. }
            | Step::DelMachineNat { .. }
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

enum Request {
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
}

impl Request {
    async fn send(self) -> Result<(), rtnetlink::Error> {
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
            Request::Address(h, idx, net) => {
                let mut req = h.address().add(idx, net.addr(), net.prefix_len());
                if net.addr().is_ipv6() {
                    req.message_mut()
                        .attributes
                        .push(AddressAttribute::Flags(AddressFlags::Nodad));
                }
                req.execute().await
            }
            Request::Route(h, to, via) => match (to, via) {
                (ipnet::IpNet::V4(to), IpAddr::V4(via)) => {
                    let msg = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                        .destination_prefix(to.network(), to.prefix_len())
                        .gateway(via)
                        .build();
                    h.route().add(msg).execute().await
                }
                (ipnet::IpNet::V6(to), IpAddr::V6(via)) => {
                    let msg = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                        .destination_prefix(to.network(), to.prefix_len())
                        .gateway(via)
                        .build();
                    h.route().add(msg).execute().await
                }
                _ => Err(rtnetlink::Error::RequestFailed),
            },
        }
    }
}

impl Backend for NetlinkBackend {
    fn apply(&mut self, steps: &[Step], facts: &mut Vec<Fact>) -> Result<(), StepError> {
        let Some(first) = steps.first() else {
            return Ok(());
        };
        match first {
            Step::AddNetns { .. } => return self.add_namespaces(steps, facts),
            Step::Exec { .. } => {
                for s in steps {
                    let Step::Exec { ns, cmd } = s else { continue };
                    let log = self.exec_log.clone();
                    let file = &self.space(ns).map_err(|e| StepError::new(s, e))?.file;
                    exec::run_logged(file, cmd, &log).map_err(|(e, detail)| StepError {
                        step: Box::new(s.clone()),
                        error: e,
                        detail,
                    })?;
                }
                return Ok(());
            }
            Step::Nft { .. } | Step::MachineNat { .. } => {
                for s in steps {
                    let applied = match s {
                        Step::Nft { ns, ruleset } => {
                            let file = &self.space(ns).map_err(|e| StepError::new(s, e))?.file;
                            exec::nft(file, ruleset)
                        }
                        Step::MachineNat { table, tag, chains } => {
                            super::machine_nat::add(table, tag, chains).map(|before| {
                                facts.push(Fact::MachineForwarding {
                                    table: table.clone(),
                                    before,
                                });
                            })
                        }
                        _ => Err((io::Error::other("not a firewall step"), None)),
                    };
                    applied.map_err(|(e, detail)| StepError {
                        step: Box::new(s.clone()),
                        error: e,
                        detail,
                    })?;
                }
                return Ok(());
            }
            _ => {}
        }
        let (settings, netlink): (Vec<Step>, Vec<Step>) = steps
            .iter()
            .cloned()
            .partition(|s| matches!(s, Step::Sysctl { .. } | Step::AddTap { .. }));
        if !settings.is_empty() {
            self.in_namespaces(&settings)?;
        }
        let (moves, netlink): (Vec<Step>, Vec<Step>) = netlink
            .into_iter()
            .partition(|s| matches!(s, Step::MoveLink { .. }));
        // Moves first: they change the namespaces' indexes, which `prepare` then reads afresh.
        self.move_links(&moves)?;
        self.prepare(&netlink)?;
        let mut requests = Vec::with_capacity(netlink.len());
        for s in &netlink {
            requests.push((s, self.request(s)?));
        }
        let sent = self.rt.block_on(async {
            stream::iter(requests.into_iter().map(|(s, r)| async move {
                r.send().await.map_err(|e| StepError::new(s, nl_err(e)))
            }))
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
        });
        // New links make a namespace's index stale; it is dumped again when next needed.
        for s in &netlink {
            let created: Vec<&str> = match s {
                Step::AddVeth { a, b, .. } => vec![&a.ns, &b.ns],
                Step::AddBridge { ns, .. } | Step::AddVlan { ns, .. } | Step::AddTap { ns, .. } => {
                    vec![ns]
                }
                Step::AddMacvlan { child, .. } => vec![&child.ns],
                Step::AddVxlan { end, .. } => vec![&end.ns],
                _ => Vec::new(),
            };
            for ns in created {
                if let Some(sp) = self.spaces.get_mut(ns) {
                    sp.index.clear();
                }
            }
        }
        sent?;
        Ok(())
    }

    fn undo(&mut self, steps: &[Step]) -> Vec<StepError> {
        // Sockets keep a namespace alive: let go of ours before deleting.
        self.spaces.clear();
        super::destroy::delete_namespaces(steps)
    }
}
