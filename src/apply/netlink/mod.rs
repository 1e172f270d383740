//! The real backend: rtnetlink over one socket per namespace, opened once and reused, with the
//! requests of a stage pipelined (the kernel sees them back to back, not one round trip each).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::PathBuf;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::link::LinkExtentMask;
use rtnetlink::{Handle, LinkUnspec};

mod request;

use super::{Backend, Fact, StepError, exec, netns};
use crate::plan::Step;

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
                    let Step::Exec {
                        ns,
                        cmd,
                        timeout_ms,
                    } = s
                    else {
                        continue;
                    };
                    let log = self.exec_log.clone();
                    let pen = super::procs::Pen::new(
                        crate::model::name::lab_of_netns(ns).unwrap_or_default(),
                    );
                    let limits = exec::Limits {
                        timeout: std::time::Duration::from_millis(*timeout_ms),
                        pen: &pen,
                    };
                    let file = &self.space(ns).map_err(|e| StepError::new(s, e))?.file;
                    exec::run_logged(file, cmd, &log, &limits).map_err(|(e, detail)| {
                        StepError {
                            step: Box::new(s.clone()),
                            error: e,
                            detail,
                        }
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
