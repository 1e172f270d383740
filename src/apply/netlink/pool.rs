//! The namespaces a stage works in, a bounded number open at a time.
//!
//! A handle to a namespace and a netlink socket inside it are two descriptors. Kept for every
//! namespace for the whole of `up`, they made a lab of 500 namespaces run out of the usual
//! limit of 1024 open files. So the backend keeps a pool of at most [`Pool::cap`] namespaces
//! (the least recently used let go first), and works through a stage in runs of steps that
//! together need no more than that ([`runs`]). A socket is made only where a step sends
//! something: a veth pair needs just the handles of its ends' namespaces.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;

use rtnetlink::Handle;
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};

use crate::apply::netns;
use crate::plan::Step;

/// The most namespaces open at once. Reopening costs a path lookup, and for a socket a
/// thread's visit (~10 µs each); past a hundred, runs are long enough that their ends,
/// where the pipeline drains, do not show.
const MOST: usize = 128;

pub(super) struct Space {
    pub file: File,
    /// A netlink socket inside, when a step has needed one since the namespace was opened.
    pub handle: Option<Handle>,
    /// Interface name → index, of the devices looked up so far; emptied when devices are
    /// made or moved there.
    pub index: HashMap<String, u32>,
    used: u64,
}

pub(super) struct Pool {
    spaces: HashMap<String, Space>,
    cap: usize,
    clock: u64,
}

impl Pool {
    /// A pool sized to what the open-file limit leaves: each namespace may take two
    /// descriptors, and the rest of the process needs some too.
    pub(super) fn new() -> Self {
        Pool {
            spaces: HashMap::new(),
            cap: (netns::spare_descriptors() / 4).clamp(4, MOST),
            clock: 0,
        }
    }

    pub(super) fn cap(&self) -> usize {
        self.cap
    }

    pub(super) fn get(&self, ns: &str) -> Option<&Space> {
        self.spaces.get(ns)
    }

    pub(super) fn get_mut(&mut self, ns: &str) -> Option<&mut Space> {
        self.spaces.get_mut(ns)
    }

    /// Lets go of every namespace: sockets keep a namespace alive, and teardown is next.
    pub(super) fn clear(&mut self) {
        self.spaces.clear();
    }

    /// How many of the open namespaces have a socket inside.
    pub(super) fn sockets(&self) -> usize {
        self.spaces
            .values()
            .filter(|sp| sp.handle.is_some())
            .count()
    }

    /// Makes room for the namespaces of `wanted` that are not open, closing the least
    /// recently used others; says whether it closed any. [`Self::open`] then opens them.
    pub(super) fn make_room(&mut self, wanted: &[(&str, bool)]) -> bool {
        self.clock += 1;
        let now = self.clock;
        let mut missing: Vec<&str> = Vec::new();
        for (ns, _) in wanted {
            match self.spaces.get_mut(*ns) {
                Some(sp) => sp.used = now,
                None if !missing.contains(ns) => missing.push(ns),
                None => {}
            }
        }
        let excess = (self.spaces.len() + missing.len()).saturating_sub(self.cap);
        if excess == 0 {
            return false;
        }
        let mut idle: Vec<(u64, String)> = self
            .spaces
            .iter()
            .filter(|(_, sp)| sp.used < now)
            .map(|(ns, sp)| (sp.used, ns.clone()))
            .collect();
        idle.sort_unstable();
        for (_, ns) in idle.iter().take(excess) {
            self.spaces.remove(ns);
        }
        !idle.is_empty()
    }

    /// Opens each namespace of `wanted` that is not open, with a socket inside where its flag
    /// asks for one; `connect` makes a handle of a socket. On failure, the namespace and why.
    pub(super) fn open(
        &mut self,
        wanted: &[(&str, bool)],
        connect: impl Fn(Socket) -> io::Result<Handle>,
    ) -> Result<(), (String, io::Error)> {
        let now = self.clock;
        for (ns, _) in wanted {
            if self.spaces.contains_key(*ns) {
                continue;
            }
            let file = netns::open(ns).map_err(|e| (ns.to_string(), e))?;
            self.spaces.insert(
                ns.to_string(),
                Space {
                    file,
                    handle: None,
                    index: HashMap::new(),
                    used: now,
                },
            );
        }
        let mut unconnected: Vec<(&str, &File)> = Vec::new();
        for (ns, socket) in wanted {
            let sp = &self.spaces[*ns];
            if *socket && sp.handle.is_none() && !unconnected.iter().any(|(n, _)| n == ns) {
                unconnected.push((ns, &sp.file));
            }
        }
        if unconnected.is_empty() {
            return Ok(());
        }
        // Made inside, on threads that enter the namespaces; used from here.
        let sockets = netns::in_each(&unconnected, |_| Socket::new(NETLINK_ROUTE));
        for (ns, made) in sockets {
            let handle = made.and_then(&connect).map_err(|e| (ns.clone(), e))?;
            if let Some(sp) = self.spaces.get_mut(&ns) {
                sp.handle = Some(handle);
            }
        }
        Ok(())
    }
}

/// The namespaces a step works in, each with whether it sends there (needs a socket) or only
/// names the namespace (a device born there).
pub(super) fn spaces_of(step: &Step) -> Vec<(&str, bool)> {
    match step {
        Step::AddVeth { a, b, .. } => vec![(&a.ns, false), (&b.ns, false)],
        Step::AddMacvlan { parent, child, .. } => vec![(&parent.ns, true), (&child.ns, true)],
        Step::AddVxlan {
            underlay_ns, end, ..
        } => vec![(underlay_ns, true), (&end.ns, true)],
        Step::MoveLink { ns, .. } => {
            vec![(ns, true), (crate::model::Netns::Machine.as_str(), false)]
        }
        s => vec![(s.ns(), true)],
    }
}

/// The steps cut, in order, into runs that each need at most `cap` namespaces.
pub(super) fn runs(steps: &[Step], cap: usize) -> Vec<&[Step]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, s) in steps.iter().enumerate() {
        let spaces = spaces_of(s);
        let new = spaces.iter().filter(|(ns, _)| !seen.contains(ns)).count();
        if i > start && seen.len() + new > cap {
            out.push(&steps[start..i]);
            start = i;
            seen.clear();
        }
        seen.extend(spaces.into_iter().map(|(ns, _)| ns));
    }
    if start < steps.len() {
        out.push(&steps[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::End;

    fn veth(host: usize) -> Step {
        let end = |ns: &str, dev: &str| End {
            ns: ns.into(),
            dev: dev.into(),
            mac: None,
        };
        Step::AddVeth {
            a: end(&format!("l.h{host}"), "eth0"),
            b: end("l.s1", &format!("eth{host}")),
            mtu: None,
        }
    }

    #[test]
    fn runs_never_need_more_namespaces_than_the_pool_holds() {
        let steps: Vec<Step> = (1..=1000).map(veth).collect();
        let cut = runs(&steps, 64);
        assert_eq!(cut.iter().map(|r| r.len()).sum::<usize>(), 1000);
        for run in &cut {
            let mut spaces: Vec<&str> = run.iter().flat_map(spaces_of).map(|(ns, _)| ns).collect();
            spaces.sort_unstable();
            spaces.dedup();
            assert!(spaces.len() <= 64, "{} namespaces in one run", spaces.len());
        }
        // The bridge's namespace is in every run, so each takes 63 hosts.
        assert_eq!(cut[0].len(), 63);
    }

    #[test]
    fn a_step_needing_more_than_the_pool_still_runs_alone() {
        let steps: Vec<Step> = (1..=3).map(veth).collect();
        let cut = runs(&steps, 1);
        assert_eq!(cut.len(), 3);
    }
}
