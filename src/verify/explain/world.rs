//! The per-namespace snapshot the reasoning reads: the kernel's (read lazily, only the
//! namespaces a path touches, so one pair in a 1000-host lab stays quick) or the file's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::expected;
use crate::apply::live::{self, Dev, Forwarding, Space};
use crate::model::{Lab, MACHINE, PortMode, svi_name};
use crate::verify::membership;

/// A forwarding-table lookup: the namespace, the bridge, the MAC and the VLAN.
type EntryKey = (String, String, String, Option<u16>);

pub(crate) struct World<'a> {
    pub lab: &'a Lab,
    /// What vnet builds, by namespace: the whole answer offline, the reference when live.
    pub expected: HashMap<String, Rc<Space>>,
    pub live: bool,
    seen: RefCell<HashMap<String, Result<Rc<Space>, String>>>,
    /// Each namespace's devices by name, built when first asked (a bridge may have thousands
    /// of ports, each looked up).
    names: RefCell<HashMap<String, Rc<HashMap<String, usize>>>>,
    /// Forwarding-table entries asked for: by namespace, bridge, MAC and VLAN.
    entries: RefCell<HashMap<EntryKey, Option<Forwarding>>>,
}

impl<'a> World<'a> {
    /// The file's world: what `up` would build.
    pub(crate) fn planned(lab: &'a Lab) -> Self {
        World {
            lab,
            expected: expected::spaces(lab)
                .into_iter()
                .map(|(k, v)| (k, Rc::new(v)))
                .collect(),
            live: false,
            seen: RefCell::new(HashMap::new()),
            names: RefCell::new(HashMap::new()),
            entries: RefCell::new(HashMap::new()),
        }
    }

    /// A running lab's world, read from the kernel as the walk needs it.
    pub(crate) fn running(lab: &'a Lab) -> Self {
        World {
            live: true,
            ..World::planned(lab)
        }
    }

    /// A node's namespace, or why it cannot be read ("namespace office.pc1 is gone").
    pub(crate) fn space(&self, node: usize) -> Result<Rc<Space>, String> {
        let ns = self.lab.netns(node);
        if !self.live {
            return Ok(self.expected.get(&ns).cloned().unwrap_or_default());
        }
        if let Some(s) = self.seen.borrow().get(&ns) {
            return s.clone();
        }
        // `nft` is a process per namespace: asked only where vnet put tables.
        let wants = self
            .expected
            .get(&ns)
            .is_some_and(|s| s.tables.as_ref().is_some_and(|t| !t.is_empty()));
        let with: Vec<&str> = if wants { vec![ns.as_str()] } else { Vec::new() };
        let read = if self.lab.nodes[node].name == MACHINE {
            live::read_machine(wants)
        } else {
            live::read_all(&[ns.as_str()], &with)
                .remove(&ns)
                .unwrap_or_else(|| Err(std::io::Error::other("not read")))
        };
        let got = match read {
            Ok(s) => Ok(Rc::new(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("namespace {ns} is gone"))
            }
            Err(e) => Err(format!("namespace {ns} cannot be read: {e}")),
        };
        self.seen.borrow_mut().insert(ns, got.clone());
        got
    }

    /// The device `name` in a node's namespace (`None` if there is none), or why the
    /// namespace cannot be read.
    pub(crate) fn dev(&self, node: usize, name: &str) -> Result<Option<Dev>, String> {
        let space = self.space(node)?;
        let names = self
            .names
            .borrow_mut()
            .entry(self.lab.netns(node))
            .or_insert_with(|| {
                Rc::new(
                    space
                        .devs
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (d.name.clone(), i))
                        .collect(),
                )
            })
            .clone();
        Ok(names.get(name).map(|&i| space.devs[i].clone()))
    }

    /// The table vnet's `nat:` on a node is in: the machine's is the lab's own.
    pub(crate) fn nat_table(&self, node: usize) -> String {
        if self.lab.nodes[node].name == MACHINE {
            format!("inet vnet-{}", self.lab.name)
        } else {
            "inet vnet_nat".to_owned()
        }
    }

    /// What vnet built in a node's namespace.
    pub(crate) fn expected(&self, node: usize) -> Option<&Space> {
        self.expected.get(&self.lab.netns(node)).map(|s| &**s)
    }

    /// A switch port's VLANs as the file has them (an unknown port is in VLAN 1, as a
    /// switch's default).
    pub(crate) fn built_mode(&self, node: usize, port: &str) -> PortMode {
        self.lab.nodes[node]
            .ports
            .iter()
            .find(|p| p.name == port)
            .map_or(PortMode::Access(1), |p| p.mode.clone())
    }

    /// A switch port's VLANs: the kernel's when the lab runs and the port is there, else the
    /// file's.
    pub(crate) fn port_mode(&self, node: usize, port: &str) -> PortMode {
        let built = self.built_mode(node, port);
        if !self.live {
            return built;
        }
        self.space(node)
            .ok()
            .and_then(|s| membership::live(&s, port))
            .unwrap_or(built)
    }

    /// `; sw:p1 was built to carry VLAN 10 untagged`, when the kernel's VLANs of the port are
    /// not the file's; empty otherwise.
    pub(crate) fn vlans_drift(&self, node: usize, port: &str) -> String {
        let (now, built) = (self.port_mode(node, port), self.built_mode(node, port));
        if membership::same(&now, &built) {
            return String::new();
        }
        format!(
            "; {}:{port} was built to carry {}",
            self.lab.nodes[node].name,
            membership::describe(&built)
        )
    }

    /// The entry for `mac` in the forwarding table of bridge or switch `node` (in VLAN `vid`
    /// of a switch), asked of the kernel once; none offline, where the kernel has learned
    /// nothing.
    pub(crate) fn forwarding(
        &self,
        node: usize,
        vid: Option<u16>,
        mac: &str,
    ) -> Option<Forwarding> {
        if !self.live {
            return None;
        }
        let space = self.space(node).ok()?;
        let name = &self.lab.nodes[node].name;
        // A switch is one VLAN-filtering bridge named after it (native), or a bridge per VLAN.
        let (bridge, vlan) = match vid {
            Some(v) if !space.dev(name).is_some_and(|d| d.vlan_filtering) => (svi_name(v), None),
            v => (name.clone(), v),
        };
        let index = space.dev(&bridge)?.index;
        let key = (self.lab.netns(node), bridge, mac.to_owned(), vlan);
        if let Some(e) = self.entries.borrow().get(&key) {
            return e.clone();
        }
        let got = live::forwarding_entry(&key.0, index, mac, vlan)
            .ok()
            .flatten();
        self.entries.borrow_mut().insert(key, got.clone());
        got
    }
}
