//! What a namespace is now, read from the kernel and never changed: its links (with their
//! state and bridge ports), addresses, main-table routes, forwarding and vnet's nftables
//! tables. `vnet explain` reasons on it; the same type describes what vnet means to build.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use futures_util::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    AfSpecBridge, BridgePortState, BridgeVlanInfoFlags, LinkAttribute, LinkExtentMask, State,
};
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};

use super::{netns, ready, sysctl};

/// How a bridge port treats frames (spanning tree's port state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortState {
    Forwarding,
    /// Listening or learning: forwards soon.
    Settling,
    Blocking,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dev {
    pub index: u32,
    pub name: String,
    pub admin_up: bool,
    /// Has carrier (operationally up, or a device that does not say).
    pub carrier: bool,
    /// Set up, but its carrier down (`NO-CARRIER`: the other end down or gone).
    pub lacks_carrier: bool,
    pub master: Option<u32>,
    pub port: Option<PortState>,
    /// Its entries in a VLAN-filtering bridge's table (`bridge vlan show`): none on a port of
    /// a plain bridge, or when it is no port.
    pub vlans: Vec<PortVlan>,
    /// Its MAC (`02:42:...`), as the kernel has it.
    pub mac: Option<String>,
    /// A bridge that filters by VLAN: its ports' VLANs are in [`Dev::vlans`].
    pub vlan_filtering: bool,
}

/// One VLAN of a port in a VLAN-filtering bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortVlan {
    pub vid: u16,
    /// Untagged frames arriving on the port join this VLAN.
    pub pvid: bool,
    /// Frames of this VLAN leave the port untagged.
    pub untagged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub to: IpNet,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub kind: RouteKind,
}

/// A neighbour (ARP/NDP) cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Neighbour {
    pub dev: u32,
    pub ip: IpAddr,
    /// As `ip neigh` prints it, in lowercase: `reachable`, `stale`, `failed`, ...
    pub state: String,
    pub mac: Option<String>,
}

/// An entry of a bridge's forwarding table (`bridge fdb get MAC br BRIDGE`): frames for `mac`
/// leave by the port `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forwarding {
    pub port: u32,
    pub mac: String,
    /// The VLAN of a VLAN-filtering bridge's entry.
    pub vlan: Option<u16>,
    /// Added by hand (`static`), not learned from a frame.
    pub fixed: bool,
    /// `sticky`: a frame from the MAC on another port does not move it (any other entry
    /// follows the MAC to where its frames come from).
    pub sticky: bool,
}

/// One namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Space {
    pub devs: Vec<Dev>,
    /// Addresses by device index.
    pub addrs: Vec<(u32, IpNet)>,
    pub routes: Vec<Route>,
    pub neighbours: Vec<Neighbour>,
    pub forward_v4: Option<bool>,
    pub forward_v6: Option<bool>,
    /// nftables tables (`inet vnet_nat`), when `nft` could list them.
    pub tables: Option<Vec<String>>,
}

impl Dev {
    /// As `status` says it: `up`, `down` (set down), `no-carrier`, or the kernel's own word.
    pub(crate) fn state_word(&self) -> &'static str {
        match (self.admin_up, self.lacks_carrier, self.carrier) {
            (false, _, _) => "down",
            (true, true, _) => "no-carrier",
            (true, false, true) => "up",
            (true, false, false) => "dormant",
        }
    }
}

impl Space {
    pub(crate) fn dev(&self, name: &str) -> Option<&Dev> {
        self.devs.iter().find(|d| d.name == name)
    }

    pub(crate) fn dev_at(&self, index: u32) -> Option<&Dev> {
        self.devs.iter().find(|d| d.index == index)
    }

    pub(crate) fn name_of(&self, index: u32) -> String {
        self.dev_at(index)
            .map_or_else(|| format!("if{index}"), |d| d.name.clone())
    }

    /// Whether the address is one of this namespace's own.
    pub(crate) fn has(&self, addr: IpAddr) -> bool {
        self.addrs.iter().any(|(_, a)| a.addr() == addr) || addr.is_loopback()
    }

    /// The device that holds the address.
    pub(crate) fn holder(&self, addr: IpAddr) -> Option<&Dev> {
        let (i, _) = self.addrs.iter().find(|(_, a)| a.addr() == addr)?;
        self.dev_at(*i)
    }

    pub(crate) fn forwards(&self, v4: bool) -> Option<bool> {
        if v4 { self.forward_v4 } else { self.forward_v6 }
    }
}

/// Each namespace named, read in a few threads: its state, or why it could not be read.
/// Only those in `with_tables` run `nft` (a process each, the slow part).
pub(crate) fn read_all(names: &[&str], with_tables: &[&str]) -> HashMap<String, io::Result<Space>> {
    netns::in_each_with(
        names,
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        },
        |rt, ns| rt.block_on(here(with_tables.contains(&ns))),
    )
    .into_iter()
    .collect()
}

/// The machine's own namespace (the one vnet runs in), on a thread of its own.
pub(crate) fn read_machine(with_tables: bool) -> io::Result<Space> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(here(with_tables))
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("a namespace worker thread panicked")))
    })
}

/// The calling thread's namespace.
async fn here(with_tables: bool) -> io::Result<Space> {
    let mut devs: Vec<Dev> = ready::links_here()
        .await?
        .into_iter()
        .map(|s| Dev {
            index: s.index,
            carrier: matches!(s.oper, State::Up | State::Unknown),
            lacks_carrier: s.admin_up && matches!(s.oper, State::Down | State::LowerLayerDown),
            admin_up: s.admin_up,
            master: s.master,
            port: s.port.map(|p| match p {
                BridgePortState::Forwarding => PortState::Forwarding,
                BridgePortState::Listening | BridgePortState::Learning => PortState::Settling,
                BridgePortState::Blocking => PortState::Blocking,
                _ => PortState::Disabled,
            }),
            mac: s.mac.as_deref().map(super::packet::mac_text),
            vlan_filtering: s.vlan_filtering,
            name: s.name,
            vlans: Vec::new(),
        })
        .collect();
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    let other = |e: rtnetlink::Error| io::Error::other(e.to_string());
    // The kernel's VLAN table dump costs a bridge of 1000 ports ~30 ms: read only where a
    // bridge filters by VLAN.
    if devs.iter().any(|d| d.vlan_filtering) {
        for (index, vlans) in port_vlans(&handle).await.map_err(other)? {
            if let Some(d) = devs.iter_mut().find(|d| d.index == index) {
                d.vlans = vlans;
            }
        }
    }
    let mut addrs = Vec::new();
    let msgs: Vec<_> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(other)?;
    for m in msgs {
        // IPv4's own address is `Local` (`Address` is the peer's on point-to-point links).
        let local = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let addr = local.or_else(|| {
            m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
        });
        if let Some(net) = addr.and_then(|a| IpNet::new(a, m.header.prefix_len).ok()) {
            addrs.push((m.header.index, net));
        }
    }
    let mut routes = Vec::new();
    for msg in [
        RouteMessageBuilder::<Ipv4Addr>::new().build(),
        RouteMessageBuilder::<Ipv6Addr>::new().build(),
    ] {
        let got: Vec<RouteMessage> = handle
            .route()
            .get(msg)
            .execute()
            .try_collect()
            .await
            .map_err(other)?;
        routes.extend(got.iter().filter_map(route));
    }
    let neighbours = handle
        .neighbours()
        .get()
        .execute()
        .try_collect::<Vec<_>>()
        .await
        .map_err(other)?
        .iter()
        .filter_map(neighbour)
        .collect();
    let forwarding =
        sysctl::read(&["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]).unwrap_or_default();
    let on = |i: usize| forwarding.get(i).cloned().flatten().map(|v| v == "1");
    Ok(Space {
        devs,
        addrs,
        routes,
        neighbours,
        forward_v4: on(0),
        forward_v6: on(1),
        tables: if with_tables { tables() } else { None },
    })
}

/// Each bridge port's VLAN table, by interface index (`bridge vlan show`): the kernel answers
/// a bridge-family link dump asked for it with each port's entries.
async fn port_vlans(
    handle: &rtnetlink::Handle,
) -> Result<Vec<(u32, Vec<PortVlan>)>, rtnetlink::Error> {
    let links: Vec<_> = handle
        .link()
        .get()
        .set_filter_mask(AddressFamily::Bridge, vec![LinkExtentMask::Brvlan])
        .execute()
        .try_collect()
        .await?;
    Ok(links
        .into_iter()
        .map(|l| {
            let vlans = l
                .attributes
                .iter()
                .filter_map(|a| match a {
                    LinkAttribute::AfSpecBridge(spec) => Some(spec),
                    _ => None,
                })
                .flatten()
                .filter_map(|a| match a {
                    AfSpecBridge::VlanInfo(v) => Some(PortVlan {
                        vid: v.vid,
                        pvid: v.flags.contains(BridgeVlanInfoFlags::Pvid),
                        untagged: v.flags.contains(BridgeVlanInfoFlags::Untagged),
                    }),
                    _ => None,
                })
                .collect();
            (l.header.index, vlans)
        })
        .collect())
}

/// The entry for `mac` of the bridge whose index is `bridge` (in VLAN `vlan` of a VLAN-filtering bridge) in the
/// namespace `ns`, asked of the kernel for that MAC alone, as `bridge fdb get` does (a dump of
/// a 1000-port bridge's table costs ~50 ms): `None` when the bridge has no entry, or only
/// its own (local) one.
pub(crate) fn forwarding_entry(
    ns: &str,
    bridge: u32,
    mac: &str,
    vlan: Option<u16>,
) -> io::Result<Option<Forwarding>> {
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| io::Error::other(format!("{mac} is no MAC")))?;
    netns::in_each_with(
        &[ns],
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        },
        |rt, _| rt.block_on(forwarding_here(bridge, &bytes, vlan)),
    )
    .pop()
    .map_or_else(|| Err(io::Error::other("not read")), |(_, r)| r)
}

async fn forwarding_here(
    bridge: u32,
    mac: &[u8],
    vlan: Option<u16>,
) -> io::Result<Option<Forwarding>> {
    use futures_util::StreamExt;
    use rtnetlink::packet_core::{NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
    use rtnetlink::packet_route::RouteNetlinkMessage;
    let (conn, mut handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    m.attributes.push(NeighbourAttribute::Controller(bridge));
    if let Some(v) = vlan {
        m.attributes.push(NeighbourAttribute::Vlan(v));
    }
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNeighbour(m));
    req.header.flags = NLM_F_REQUEST;
    let mut answers = handle
        .request(req)
        .map_err(|e| io::Error::other(e.to_string()))?;
    while let Some(answer) = answers.next().await {
        match answer.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(n)) => {
                return Ok(forwarding(&n));
            }
            NetlinkPayload::Error(e) if e.code.is_some() => {
                let e = e.to_io();
                return match e.raw_os_error() {
                    Some(libc::ENOENT) => Ok(None),
                    _ => Err(e),
                };
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A learned or static entry of a bridge's table; `None` for the bridge's own (permanent)
/// addresses and a device's own list (`self`).
fn forwarding(n: &NeighbourMessage) -> Option<Forwarding> {
    use rtnetlink::packet_route::neighbour::{NeighbourFlags, NeighbourState};
    if n.header.flags.contains(NeighbourFlags::Own) || n.header.state == NeighbourState::Permanent {
        return None;
    }
    let mut mac = None;
    let mut vlan = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::LinkLayerAddress(m) => mac = Some(super::packet::mac_text(m)),
            NeighbourAttribute::Vlan(v) => vlan = Some(*v),
            _ => {}
        }
    }
    Some(Forwarding {
        port: n.header.ifindex,
        mac: mac?,
        vlan,
        fixed: n.header.state == NeighbourState::Noarp,
        sticky: n.header.flags.contains(NeighbourFlags::Sticky),
    })
}

fn neighbour(n: &NeighbourMessage) -> Option<Neighbour> {
    let mut ip = None;
    let mut mac = None;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                ip = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                ip = Some(IpAddr::V6(*v6))
            }
            NeighbourAttribute::LinkLayerAddress(m) => mac = Some(super::packet::mac_text(m)),
            _ => {}
        }
    }
    Some(Neighbour {
        dev: n.header.ifindex,
        ip: ip?,
        state: format!("{:?}", n.header.state).to_lowercase(),
        mac,
    })
}

/// A route of the main table, as the lookup needs it.
fn route(m: &RouteMessage) -> Option<Route> {
    let table = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table));
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return None;
    }
    let kind = match m.header.kind {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::BlackHole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        _ => return None,
    };
    let ip = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let v4 = m.header.address_family == rtnetlink::packet_route::AddressFamily::Inet;
    let mut dst: IpAddr = if v4 {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let (mut via, mut dev) = (None, None);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = ip(d)?,
            RouteAttribute::Gateway(g) => via = ip(g),
            RouteAttribute::Oif(i) => dev = Some(*i),
            _ => {}
        }
    }
    // The kernel's own IPv6 multicast and link-local routes say nothing about a lab's paths.
    if let IpAddr::V6(v6) = dst
        && (v6.segments()[0] & 0xff00 == 0xff00 || v6.segments()[0] & 0xffc0 == 0xfe80)
    {
        return None;
    }
    Some(Route {
        to: IpNet::new(dst, m.header.destination_prefix_length).ok()?,
        via,
        dev,
        kind,
    })
}

/// `nft list tables` in the calling thread's namespace (a child forked from this thread
/// starts in its namespace): `None` when `nft` cannot run.
fn tables() -> Option<Vec<String>> {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("table "))
            .map(str::to_owned)
            .collect(),
    )
}
