//! The per-namespace snapshot the reasoning reads: the kernel's (read lazily, only the
//! namespaces a path touches, so one pair in a 1000-host lab stays quick) or the file's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::expected;
use crate::apply::live::{self, Space};
use crate::model::{Lab, MACHINE};

pub(crate) struct World<'a> {
    pub lab: &'a Lab,
    /// What vnet builds, by namespace: the whole answer offline, the reference when live.
    pub expected: HashMap<String, Rc<Space>>,
    pub live: bool,
    seen: RefCell<HashMap<String, Result<Rc<Space>, String>>>,
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
}
