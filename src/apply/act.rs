//! Things done to a running lab on purpose, by a stage of its scenario or by `vnet attack`:
//! forged ARP, a link taken down or brought back, a command run inside a node.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use super::packet::{self, ETH_P_ARP, PacketSocket};
use super::{exec, netns, procs};
use crate::model::attack::Spoof;
use crate::model::{Action, Lab};

/// Does the action; says in words what was done.
pub(crate) fn perform(lab: &Lab, action: &Action, log: &Path) -> io::Result<String> {
    match action {
        Action::ArpSpoof {
            from, claim, to, ..
        } => {
            let spoof = crate::model::attack::arp_spoof(lab, *from, *claim, *to)
                .map_err(|r| io::Error::other(r.message))?;
            let IpAddr::V4(claim) = claim else {
                return Err(io::Error::other("ARP spoofing claims an IPv4 address"));
            };
            arp_spoof(lab, *from, *claim, *to, &spoof, ROUNDS)
        }
        Action::Link {
            node, iface, up, ..
        } => {
            set_link(lab, *node, iface, *up)?;
            Ok(format!(
                "link {}:{iface} {}",
                lab.nodes[*node].name,
                if *up { "up" } else { "down" }
            ))
        }
        Action::Impair {
            node,
            iface,
            impair,
            ..
        } => {
            let mtu = lab
                .links
                .iter()
                .find(|l| {
                    [&l.a, &l.b]
                        .iter()
                        .any(|e| e.node == *node && &e.iface == iface)
                })
                .and_then(|l| l.mtu)
                .unwrap_or(1500);
            let shape = impair
                .as_ref()
                .map(|i| crate::plan::shape::Shape::of(i, mtu));
            set_impair(&lab.netns(*node), iface, shape.as_ref())
                .map_err(|e| io::Error::other(e.to_string()))?;
            let end = format!("{}:{iface}", lab.nodes[*node].name);
            Ok(match impair {
                Some(i) => format!("{end} sends with {i}"),
                None => format!("{end} sends with no impairment"),
            })
        }
        Action::Exec { node, cmd, .. } => {
            let ns = lab.netns(*node);
            let file = netns::open(&ns)?;
            let pen = procs::Pen::new(&lab.name);
            let limits = exec::Limits {
                timeout: Duration::from_millis(
                    lab.nodes[*node]
                        .exec_timeout_ms
                        .unwrap_or(crate::model::EXEC_TIMEOUT_MS),
                ),
                pen: &pen,
            };
            exec::run_logged(&file, cmd, log, &limits).map_err(|(e, detail)| {
                io::Error::other(match detail {
                    Some(d) => format!("{e}\n{d}"),
                    None => e.to_string(),
                })
            })?;
            Ok(format!("ran `{cmd}` in {}", lab.nodes[*node].name))
        }
    }
}

/// Forged packets are sent in rounds this far apart, for longer than the kernel's `locktime`
/// (1 s), within which a neighbour entry just confirmed ignores a new MAC.
const ROUNDS: usize = 4;
const ROUND_GAP: Duration = Duration::from_millis(400);

/// The article's ARP spoofing: `from` tells `to`, unasked, that `claim` is at `from`'s MAC,
/// through the interfaces [`crate::model::attack::arp_spoof`] found. Forged replies update an
/// entry the victim has; forged requests for the victim's own address make it create one (a
/// host learns the sender of a request addressed to it).
pub(crate) fn arp_spoof(
    lab: &Lab,
    from: usize,
    claim: Ipv4Addr,
    to: usize,
    spoof: &Spoof,
    rounds: usize,
) -> io::Result<String> {
    let Spoof {
        victim_if,
        victim_ip,
        attacker_if,
    } = spoof;
    let victim_ip = *victim_ip;
    let victim_mac = in_node(lab, to, || packet::mac_of(victim_if))?;
    let sent = in_node(lab, from, || -> io::Result<[u8; 6]> {
        let mine = packet::mac_of(attacker_if)?;
        let s = PacketSocket::open(Some(attacker_if), ETH_P_ARP, false)?;
        for round in 0..rounds {
            if round > 0 {
                std::thread::sleep(ROUND_GAP);
            }
            s.send_to(
                &packet::arp(2, mine, claim, victim_mac, victim_ip),
                victim_mac,
            )?;
            s.send_to(&packet::arp(1, mine, claim, [0; 6], victim_ip), victim_mac)?;
        }
        Ok(mine)
    })?;
    Ok(format!(
        "{} told {} ({victim_ip}) {} times that {claim} is at {} ({}:{attacker_if})",
        lab.nodes[from].name,
        lab.nodes[to].name,
        rounds * 2,
        packet::mac_text(&sent),
        lab.nodes[from].name,
    ))
}

fn in_node<T: Send>(
    lab: &Lab,
    node: usize,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    let file = netns::open(&lab.netns(node))?;
    netns::in_netns(&file, f)?
}

/// `ip -n NS link set IFACE up|down` on a node's interface. Brought up, it gets back what
/// the kernel dropped when it went down and does not restore: its IPv6 addresses, and the
/// file's routes through it (gateways included), those still there left as they are.
pub(crate) fn set_link(lab: &Lab, node: usize, iface: &str, up: bool) -> io::Result<()> {
    let ns = lab.netns(node);
    let (addrs, routes) = if up {
        kept_by_file(lab, node, iface)
    } else {
        Default::default()
    };
    let file = netns::open(&ns)?;
    netns::in_netns(&file, || -> io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let (conn, handle, _) = rtnetlink::new_connection()?;
            tokio::spawn(conn);
            let failed = |e: rtnetlink::Error| io::Error::other(e.to_string());
            let msg = rtnetlink::LinkUnspec::new_with_name(iface);
            let msg = if up { msg.up() } else { msg.down() }.build();
            handle.link().set(msg).execute().await.map_err(failed)?;
            if !up {
                return Ok(());
            }
            use futures_util::TryStreamExt;
            let Some(index) = handle
                .link()
                .get()
                .match_name(iface.to_owned())
                .execute()
                .try_next()
                .await
                .map_err(failed)?
                .map(|l| l.header.index)
            else {
                return Ok(());
            };
            for a in addrs {
                tolerate(super::netlink::add_address(&handle, index, a).await)?;
            }
            for (to, via) in routes {
                tolerate(super::netlink::add_route(&handle, to, via).await)?;
            }
            Ok(())
        })
    })?
}

/// A request whose work is already done (`EEXIST`), or that waits on another interface still
/// down (`ENETUNREACH`: that one's own `up` brings the route back), is no failure.
fn tolerate(r: Result<(), rtnetlink::Error>) -> io::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(rtnetlink::Error::NetlinkError(m))
            if [libc::EEXIST, libc::ENETUNREACH].contains(&m.raw_code().abs()) =>
        {
            Ok(())
        }
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// The file's addresses on `iface` of `node`, and the routes of every node in its namespace.
fn kept_by_file(
    lab: &Lab,
    node: usize,
    iface: &str,
) -> (Vec<ipnet::IpNet>, Vec<(ipnet::IpNet, IpAddr)>) {
    let ns = lab.netns(node);
    let here: Vec<&crate::model::Node> = (0..lab.nodes.len())
        .filter(|&i| lab.netns(i) == ns)
        .map(|i| &lab.nodes[i])
        .collect();
    let addrs = here
        .iter()
        .flat_map(|n| &n.interfaces)
        .filter(|f| f.name == iface)
        .flat_map(|f| f.addresses.iter().copied())
        .collect();
    let mut routes = Vec::new();
    for n in &here {
        routes.extend(n.routes.iter().map(|r| (r.to, r.via)));
        for g in &n.gateways {
            let any = if g.is_ipv4() {
                ipnet::IpNet::V4(ipnet::Ipv4Net::default())
            } else {
                ipnet::IpNet::V6(ipnet::Ipv6Net::default())
            };
            routes.push((any, *g));
        }
    }
    (addrs, routes)
}

/// `tc -n NS qdisc del dev DEV root`, then the shape's qdiscs (none: the device is left with
/// its default queue): what `vnet impair` and a stage's `impair:`/`clear:` do.
pub(crate) fn set_impair(
    ns: &str,
    dev: &str,
    shape: Option<&crate::plan::shape::Shape>,
) -> Result<(), super::StepError> {
    use crate::plan::Step;
    let clear = Step::Unimpair {
        ns: ns.to_owned(),
        dev: dev.to_owned(),
    };
    let file = netns::open(ns).map_err(|e| super::StepError::new(&clear, e))?;
    let shape = shape.cloned();
    let (ns, dev) = (ns.to_owned(), dev.to_owned());
    netns::in_netns(&file, move || -> Result<(), super::StepError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| super::StepError::new(&clear, e))?;
        rt.block_on(async {
            let (conn, handle, _) =
                rtnetlink::new_connection().map_err(|e| super::StepError::new(&clear, e))?;
            tokio::spawn(conn);
            use futures_util::TryStreamExt;
            let index = handle
                .link()
                .get()
                .match_name(dev.clone())
                .execute()
                .try_next()
                .await
                .ok()
                .flatten()
                .map(|l| l.header.index as i32)
                .ok_or_else(|| {
                    super::StepError::new(&clear, io::Error::from_raw_os_error(libc::ENODEV))
                })?;
            match super::tc::send(handle.clone(), super::tc::delete_root(index)).await {
                Err(e) if !matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => {
                    return Err(super::StepError::new(&clear, e));
                }
                _ => {}
            }
            if let Some(shape) = shape {
                let step = Step::Impair {
                    ns: ns.clone(),
                    dev: dev.clone(),
                    shape: shape.clone(),
                };
                for r in super::tc::shape_requests(index, &shape) {
                    super::tc::send(handle.clone(), r)
                        .await
                        .map_err(|e| super::StepError::new(&step, e))?;
                }
            }
            Ok(())
        })
    })
    .map_err(|e| {
        super::StepError::new(
            &Step::Unimpair {
                ns: String::new(),
                dev: String::new(),
            },
            e,
        )
    })?
}
