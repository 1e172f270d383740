use super::{Error, Outcome, require_root};
use crate::apply::{exec, netns};
use crate::state;

pub fn exec(target: &[String], command: &[String]) -> Outcome {
    require_root()?;
    let (lab, node) = match target {
        [lab, node] => (super::lab_name(lab)?, node.clone()),
        [node] => match state::running().as_slice() {
            [only] => (only.clone(), node.clone()),
            [] => return Err(Error::NoneRunning),
            many => {
                return Err(Error::WhichLab {
                    labs: many.iter().map(|l| l.to_string()).collect(),
                    node: super::shown(node),
                });
            }
        },
        _ => return Err(Error::Usage("usage: vnet exec [LAB] NODE -- CMD...".into())),
    };
    let record = state::read_record(&lab).map_err(|_| Error::NotRunning {
        lab: lab.to_string(),
    })?;
    let Some(i) = record.lab.node_index(&node) else {
        let known: Vec<&str> = record.lab.nodes.iter().map(|n| n.name.as_str()).collect();
        return Err(Error::NoSuchNode {
            lab: lab.to_string(),
            node: super::shown(&node),
            known: known.join(", "),
        });
    };
    let ns = record.lab.netns(i);
    let file = netns::open(&ns).map_err(|error| Error::OpenNamespace {
        lab: lab.to_string(),
        ns: ns.clone(),
        error,
    })?;
    let pen = crate::apply::procs::Pen::new(lab.as_str());
    let error = exec::exec_replace(&file, command, &pen);
    Err(Error::Exec {
        program: command.first().cloned().unwrap_or_default(),
        ns,
        error,
    })
}
