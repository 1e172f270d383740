//! A running lab and its nodes as the command line names them: `[LAB] NODE`, shared by the
//! commands that work inside a lab (`exec`, `capture`).

use super::{Error, shown};
use crate::state::{self, LabName, Record};

/// The lab named, or the only one running when none is; its record as `up` wrote it.
/// `node` is only for the hint when several labs run.
pub(super) fn lab(named: Option<&str>, node: &str) -> Result<(LabName, Record), Error> {
    let lab = match named {
        Some(lab) => super::lab_name(lab)?,
        None => match state::running().as_slice() {
            [only] => only.clone(),
            [] => return Err(Error::NoneRunning),
            many => {
                return Err(Error::WhichLab {
                    labs: many.iter().map(|l| l.to_string()).collect(),
                    node: shown(node),
                });
            }
        },
    };
    let record = state::read_record(&lab).map_err(|_| Error::NotRunning {
        lab: lab.to_string(),
    })?;
    Ok((lab, record))
}

/// The index of `node` in the lab, or the error that lists its nodes.
pub(super) fn node(lab: &LabName, record: &Record, node: &str) -> Result<usize, Error> {
    record.lab.node_index(node).ok_or_else(|| {
        let known: Vec<&str> = record.lab.nodes.iter().map(|n| n.name.as_str()).collect();
        Error::NoSuchNode {
            lab: lab.to_string(),
            node: shown(node),
            known: known.join(", "),
        }
    })
}
