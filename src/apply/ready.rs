//! Whether a lab just built carries traffic yet. The kernel finishes some of what `up` asked
//! for on its own time: a link's operational state (and with it the activation of its queue,
//! before which it drops every frame) follows its carrier in a work queue, and a bridge port
//! under spanning tree listens and learns for two forward delays before it forwards. `up`
//! returns only once all of that is done, so the first probe meets a finished lab.

use std::collections::{HashMap, HashSet};
use std::io;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{
    BridgePortState, InfoPortData, LinkAttribute, LinkInfo, State,
};

use super::netns;
use crate::plan::{Plan, Step};

/// What is not ready yet, in words: `link eth0 in lab.h1 is down`.
pub(crate) type NotReady = Vec<String>;

/// What the plan expects to carry traffic: per namespace, the devices set up (other than
/// TAP devices, which wait for their virtual machine, and bridges, whose state is their
/// ports'), and whether a bridge there runs spanning tree.
fn expected(plan: &Plan) -> HashMap<String, (Vec<String>, bool)> {
    let mut quiet: HashSet<(&str, &str)> = HashSet::new();
    for s in plan.steps() {
        match s {
            Step::AddTap { ns, dev, .. } => {
                quiet.insert((ns, dev));
            }
            Step::AddBridge { ns, name, .. } => {
                quiet.insert((ns, name));
            }
            _ => {}
        }
    }
    let mut out: HashMap<String, (Vec<String>, bool)> = HashMap::new();
    for s in plan.steps() {
        match s {
            Step::LinkUp { ns, dev } if !quiet.contains(&(ns.as_str(), dev.as_str())) => {
                out.entry(ns.clone()).or_default().0.push(dev.clone());
            }
            Step::AddBridge { ns, stp: true, .. } => out.entry(ns.clone()).or_default().1 = true,
            _ => {}
        }
    }
    out
}

/// Waits until every link the plan brought up is operationally up and no bridge port is
/// still listening or learning, for at most `limit`. Returns how long it took, or what was
/// still not ready at the limit.
pub(crate) fn wait(plan: &Plan, limit: Duration) -> Result<Duration, NotReady> {
    let start = Instant::now();
    let mut left = expected(plan);
    loop {
        let names: Vec<String> = left.keys().cloned().collect();
        let targets: Vec<&str> = names.iter().map(String::as_str).collect();
        let seen = netns::in_each_with(
            &targets,
            || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            },
            |rt, _| rt.block_on(links_here()),
        );
        let mut not_ready = Vec::new();
        for (ns, links) in seen {
            let Some((devs, stp)) = left.get(&ns) else {
                continue;
            };
            let Ok(links) = links else {
                // Nothing to wait for in a namespace that cannot be read; `verify` says why.
                left.remove(&ns);
                continue;
            };
            let mut waiting = Vec::new();
            for dev in devs {
                match links.iter().find(|l| &l.name == dev) {
                    Some(l) if matches!(l.oper, State::Up | State::Unknown) => {}
                    Some(l) => waiting.push(format!("link {dev} in {ns} is {:?}", l.oper)),
                    None => {}
                }
            }
            if *stp {
                for l in &links {
                    if let Some(state @ (BridgePortState::Listening | BridgePortState::Learning)) =
                        l.port
                    {
                        waiting.push(format!("bridge port {} in {ns} is {state:?}", l.name));
                    }
                }
            }
            if waiting.is_empty() {
                left.remove(&ns);
            } else {
                not_ready.extend(waiting);
            }
        }
        if left.is_empty() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(not_ready);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One link of a namespace as the kernel has it.
pub(crate) struct Seen {
    pub index: u32,
    pub name: String,
    /// Set up by the administrator (`ip link set up`).
    pub admin_up: bool,
    pub oper: State,
    /// The bridge it is a port of, by index.
    pub master: Option<u32>,
    pub port: Option<BridgePortState>,
    /// Its hardware address.
    pub mac: Option<Vec<u8>>,
    /// A bridge that filters by VLAN (`vlan_filtering 1`).
    pub vlan_filtering: bool,
}

/// Every link of the calling thread's namespace: its name, operational state, and its state
/// as a bridge port if it is one.
pub(crate) async fn links_here() -> io::Result<Vec<Seen>> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(conn);
    // Counters are not read: leaving them out halves the kernel's work for a bridge's
    // thousand ports.
    let links: Vec<_> = handle
        .link()
        .get()
        .set_filter_mask(
            rtnetlink::packet_route::AddressFamily::Unspec,
            vec![rtnetlink::packet_route::link::LinkExtentMask::SkipStats],
        )
        .execute()
        .try_collect()
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(links
        .into_iter()
        .map(|l| {
            let mut seen = Seen {
                index: l.header.index,
                name: String::new(),
                admin_up: l
                    .header
                    .flags
                    .contains(rtnetlink::packet_route::link::LinkFlags::Up),
                oper: State::Unknown,
                master: None,
                port: None,
                mac: None,
                vlan_filtering: false,
            };
            for a in l.attributes {
                match a {
                    LinkAttribute::IfName(n) => seen.name = n,
                    LinkAttribute::OperState(s) => seen.oper = s,
                    LinkAttribute::Controller(m) => seen.master = Some(m),
                    LinkAttribute::Address(a) => seen.mac = Some(a),
                    LinkAttribute::LinkInfo(infos) => {
                        for i in infos {
                            match i {
                                LinkInfo::PortData(InfoPortData::BridgePort(attrs)) => {
                                    seen.port = attrs.iter().find_map(|a| match a {
                                        rtnetlink::packet_route::link::InfoBridgePort::State(
                                            s,
                                        ) => Some(*s),
                                        _ => None,
                                    });
                                }
                                LinkInfo::Data(rtnetlink::packet_route::link::InfoData::Bridge(
                                    attrs,
                                )) => {
                                    seen.vlan_filtering = attrs.iter().any(|a| {
                                        matches!(
                                            a,
                                            rtnetlink::packet_route::link::InfoBridge::VlanFiltering(
                                                true
                                            )
                                        )
                                    });
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            seen
        })
        .collect())
}

/// A namespace's links: (name, operational state in words).
pub(crate) type LinkStates = io::Result<Vec<(String, String)>>;

/// Each namespace's links and their state in words: `down` (set down), `no-carrier` (set up,
/// but its other end is down or gone: `NO-CARRIER` in `ip link`), else the operational state
/// as `ip -br link` shows it (`up`, `unknown`, ...).
pub(crate) fn link_states(names: &[&str]) -> Vec<(String, LinkStates)> {
    netns::in_each_with(
        names,
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        },
        |rt, _| {
            let links = rt.block_on(links_here())?;
            Ok(links
                .into_iter()
                .map(|l| {
                    let word = match (l.admin_up, l.oper) {
                        (false, _) => "down".to_string(),
                        (true, State::Down | State::LowerLayerDown) => "no-carrier".to_string(),
                        (true, other) => format!("{other:?}").to_lowercase(),
                    };
                    (l.name, word)
                })
                .collect())
        },
    )
}
