//! The real backend: rtnetlink over a socket inside each namespace a stage works in (a
//! bounded pool of them, see [`pool`]), with the requests of a stage pipelined (the kernel
//! sees them back to back, not one round trip each).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::link::LinkExtentMask;
use rtnetlink::{Handle, LinkUnspec};

mod inside;
mod pool;
mod request;

pub(crate) use request::{add_address, add_route};

use super::{Backend, Fact, StepError, exec, netns};
use crate::model::Netns;
use crate::plan::{StageKind, Step};

/// How many requests of one stage may be in flight at once.
const IN_FLIGHT: usize = 32;

pub(crate) struct NetlinkBackend {
    rt: tokio::runtime::Runtime,
    spaces: pool::Pool,
    /// Netlink connections whose socket is still open (see [`handle_from`]).
    live: Arc<AtomicUsize>,
    root: Option<Handle>,
    exec_log: PathBuf,
    temporaries: u32,
    /// Namespaces this backend created, fresh: what they inherited is the same for all.
    made: HashSet<String>,
}

/// A handle from a netlink socket that was opened inside some namespace. Its connection runs
/// on `rt`, and ends (closing the socket) once the last clone of the handle is gone and `rt`
/// runs again; `live` counts the connections not ended yet.
fn handle_from(
    rt: &tokio::runtime::Runtime,
    live: &Arc<AtomicUsize>,
    sock: rtnetlink::sys::Socket,
) -> io::Result<Handle> {
    let _guard = rt.enter();
    let fd = sock.into_raw_fd();
    // SAFETY: `fd` was just released from an owned netlink socket and is given to exactly
    // one new owner here.
    let tokio_sock = unsafe { rtnetlink::sys::TokioSocket::from_raw_fd(fd) };
    let (conn, handle, _) = rtnetlink::from_socket(tokio_sock);
    live.fetch_add(1, Ordering::SeqCst);
    let live = Arc::clone(live);
    rt.spawn(async move {
        conn.await;
        live.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(handle)
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
    pub(crate) fn new(exec_log: PathBuf) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(NetlinkBackend {
            rt,
            spaces: pool::Pool::new(),
            live: Arc::new(AtomicUsize::new(0)),
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

    fn root(&mut self) -> io::Result<Handle> {
        if let Some(h) = &self.root {
            return Ok(h.clone());
        }
        let sock = rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE)?;
        let h = handle_from(&self.rt, &self.live, sock)?;
        self.root = Some(h.clone());
        Ok(h)
    }

    /// Opens the namespaces `steps` work in (see [`pool`]). On failure, the step that named
    /// the namespace and why.
    fn open(&mut self, steps: &[Step]) -> Result<(), StepError> {
        let wanted: Vec<(&str, bool)> = steps.iter().flat_map(pool::spaces_of).collect();
        if self.spaces.make_room(&wanted) {
            self.close_let_go();
        }
        let (rt, live) = (&self.rt, &self.live);
        let opened = self
            .spaces
            .open(&wanted, |sock| handle_from(rt, live, sock));
        opened.map_err(|(ns, e)| {
            let step = steps
                .iter()
                .find(|s| pool::spaces_of(s).iter().any(|(n, _)| *n == ns))
                .unwrap_or(&steps[0]);
            StepError::new(step, e)
        })
    }

    /// Runs the connections of the namespaces just let go to their end, so that their
    /// sockets are closed before others are opened: the pool's bound is one of descriptors.
    fn close_let_go(&self) {
        let kept = self.spaces.sockets() + usize::from(self.root.is_some());
        self.rt.block_on(async {
            // Each yield lets the runtime run a few dozen tasks; bounded, so a connection
            // that will not end costs a descriptor, never a hang.
            for _ in 0..10_000 {
                if self.live.load(Ordering::SeqCst) <= kept {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
    }

    /// An open namespace: [`Self::open`] made sure of it.
    fn space(&self, step: &Step, ns: &str) -> Result<&pool::Space, StepError> {
        self.spaces.get(ns).ok_or_else(|| {
            StepError::new(
                step,
                io::Error::other(format!("namespace {ns} is not open")),
            )
        })
    }

    fn file(&self, step: &Step, ns: &str) -> Result<&File, StepError> {
        Ok(&self.space(step, ns)?.file)
    }

    /// The handle of the socket inside an open namespace.
    fn handle(&self, step: &Step, ns: &str) -> Result<Handle, StepError> {
        self.space(step, ns)?.handle.clone().ok_or_else(|| {
            StepError::new(step, io::Error::other(format!("no netlink socket in {ns}")))
        })
    }

    /// Devices were made or moved in `ns`: the indexes known there may be stale.
    fn forget_indexes(&mut self, ns: &str) {
        if let Some(sp) = self.spaces.get_mut(ns) {
            sp.index.clear();
        }
    }

    fn add_namespaces(&mut self, steps: &[Step], facts: &mut Vec<Fact>) -> Result<(), StepError> {
        netns::prepare_dir().map_err(|e| StepError::new(&steps[0], e))?;
        let names: Vec<String> = steps.iter().map(|s| s.ns().to_owned()).collect();
        let mut first_error = None;
        for (ns, made) in netns::create_all(&names) {
            match made {
                Ok(m) => {
                    // Recorded before anything else can fail: this namespace is provably ours.
                    facts.push(Fact::Netns {
                        ns: ns.clone(),
                        inode: m.inode,
                    });
                    self.made.insert(ns);
                }
                Err(e) => {
                    first_error.get_or_insert(StepError::new(&Step::AddNetns { ns }, e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Steps that are done from inside the namespace (sysctls, TAP ioctls, `lo` up and
    /// marked), a few threads each entering namespaces in turn, each opening the namespace
    /// it enters.
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
        let names: Vec<&str> = by_ns.keys().copied().collect();
        let results = netns::in_each_with(&names, super::sysctl::Writer::new, |writer, ns| {
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
                let done = match s {
                    Step::AddTap {
                        dev, owner, group, ..
                    } => super::tap::create(dev, *owner, *group),
                    Step::LoopbackUp { tag, .. } => inside::loopback_up(tag),
                    _ => Ok(()),
                };
                if let Err(e) = done {
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
    fn already_set<'a>(&self, steps: &'a [Step]) -> Result<HashMap<&'a str, String>, StepError> {
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
        let values = netns::open(first.ns())
            .and_then(|file| netns::in_netns(&file, || super::sysctl::read(&keys)))
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
            self.open(std::slice::from_ref(s))?;
            let machine = self.file(s, Netns::Machine.as_str())?.as_raw_fd();
            let h = self.handle(s, ns)?;
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
                                .setns_by_fd(machine)
                                .name(name.clone())
                                .build(),
                        )
                        .execute()
                        .await
                })
                .map_err(|err| StepError::new(s, nl_err(err)))?;
            self.forget_indexes(ns);
            self.forget_indexes(Netns::Machine.as_str());
        }
        Ok(())
    }

    /// Opens every namespace the steps work in, and learns the index of every device a step
    /// names by index.
    ///
    /// Devices are looked up by name, one request each, rather than by dumping a namespace's
    /// links: a bridge's namespace has a link per port, and a dump of a thousand parsed
    /// links was most of `up`'s memory. Steps that can name a device by name (bringing it up,
    /// joining it to a bridge) need no index at all.
    fn prepare(&mut self, steps: &[Step]) -> Result<(), StepError> {
        self.open(steps)?;
        let mut lookups: Vec<(&str, &str, &Step, Handle)> = Vec::new();
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for s in steps {
            let named: Option<(&str, &str)> = match s {
                Step::SetMaster { ns, master, .. } => Some((ns, master)),
                Step::AddAddress { ns, dev, .. } | Step::BridgeVlan { ns, dev, .. } => {
                    Some((ns, dev))
                }
                Step::AddVlan { ns, parent, .. } => Some((ns, parent)),
                Step::Impair { ns, dev, .. } | Step::Unimpair { ns, dev } => Some((ns, dev)),
                Step::AddMacvlan { parent, .. } => Some((&parent.ns, &parent.dev)),
                _ => None,
            };
            if let Some((ns, dev)) = named
                && !self.space(s, ns)?.index.contains_key(dev)
                && seen.insert((ns, dev))
            {
                lookups.push((ns, dev, s, self.handle(s, ns)?));
            }
        }
        let found = self.rt.block_on(async {
            stream::iter(lookups.into_iter().map(|(ns, dev, step, h)| async move {
                let link = h
                    .link()
                    .get()
                    .match_name(dev.to_owned())
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
            if let Some(sp) = self.spaces.get_mut(ns) {
                sp.index.insert(dev.to_owned(), index);
            }
        }
        Ok(())
    }

    /// Netlink steps of one stage, in runs that fit the pool: each run's namespaces opened,
    /// its requests built, then sent together.
    fn send_all(&mut self, steps: &[Step]) -> Result<(), StepError> {
        let cap = self.spaces.cap();
        for run in pool::runs(steps, cap) {
            self.prepare(run)?;
            let mut requests = Vec::with_capacity(run.len());
            for s in run {
                requests.push((s, self.request(s)?));
            }
            let sent =
                self.rt.block_on(async {
                    stream::iter(requests.into_iter().map(|(s, r)| async move {
                        r.send().await.map_err(|e| StepError::new(s, e))
                    }))
                    .buffer_unordered(IN_FLIGHT)
                    .try_collect::<Vec<()>>()
                    .await
                });
            // New links make a namespace's indexes stale; they are looked up again when needed.
            for s in run {
                let created: Vec<&str> = match s {
                    Step::AddVeth { a, b, .. } => vec![&a.ns, &b.ns],
                    Step::AddBridge { ns, .. }
                    | Step::AddVlan { ns, .. }
                    | Step::AddTap { ns, .. } => vec![ns],
                    Step::AddMacvlan { child, .. } => vec![&child.ns],
                    Step::AddVxlan { end, .. } => vec![&end.ns],
                    _ => Vec::new(),
                };
                for ns in created {
                    self.forget_indexes(ns);
                }
            }
            sent?;
        }
        Ok(())
    }
}

impl Backend for NetlinkBackend {
    fn apply(
        &mut self,
        kind: StageKind,
        steps: &[Step],
        facts: &mut Vec<Fact>,
    ) -> Result<(), StepError> {
        match kind {
            StageKind::Namespaces => return self.add_namespaces(steps, facts),
            StageKind::Exec => {
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
                    let file = netns::open(ns).map_err(|e| StepError::new(s, e))?;
                    exec::run_logged(&file, cmd, &log, &limits).map_err(|(e, detail)| {
                        StepError {
                            step: Box::new(s.clone()),
                            error: e,
                            detail,
                        }
                    })?;
                }
                return Ok(());
            }
            StageKind::Firewall => {
                for s in steps {
                    let applied = match s {
                        Step::Nft { ns, ruleset } => {
                            let file = netns::open(ns).map_err(|e| StepError::new(s, e))?;
                            exec::nft(&file, ruleset)
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
            StageKind::Netlink => {}
        }
        let (settings, netlink): (Vec<Step>, Vec<Step>) = steps.iter().cloned().partition(|s| {
            matches!(
                s,
                Step::Sysctl { .. } | Step::AddTap { .. } | Step::LoopbackUp { .. }
            )
        });
        if !settings.is_empty() {
            self.in_namespaces(&settings)?;
        }
        let (moves, netlink): (Vec<Step>, Vec<Step>) = netlink
            .into_iter()
            .partition(|s| matches!(s, Step::MoveLink { .. }));
        // Moves first: they change the namespaces' indexes, which `prepare` then reads afresh.
        self.move_links(&moves)?;
        self.send_all(&netlink)
    }

    fn undo(&mut self, steps: &[Step]) -> Vec<StepError> {
        // Sockets keep a namespace alive: let go of ours before deleting.
        self.spaces.clear();
        super::destroy::delete_namespaces(steps)
    }
}
