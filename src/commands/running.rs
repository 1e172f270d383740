//! A running lab and its nodes as the command line names them: `[LAB] NODE`, shared by the
//! commands that work inside a lab (`exec`, `capture`).

use super::{Error, shown};
use crate::state::{self, LabName, Record};

/// The lab named, or the only one running when none is; its record as `up` wrote it.
/// `example` is the command as typed with `LAB` put in, the hint when several labs run.
pub(super) fn lab(named: Option<&str>, example: &str) -> Result<(LabName, Record), Error> {
    let lab = match named {
        Some(lab) => super::lab_name(lab)?,
        None => match state::running().as_slice() {
            [only] => only.clone(),
            [] => return Err(Error::NoneRunning),
            many => {
                return Err(Error::WhichLab {
                    labs: many.iter().map(|l| l.to_string()).collect(),
                    example: example.to_owned(),
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

/// The command line as the user typed it, with `LAB` put in after the subcommand `sub`:
/// the hint to name the lab, in the very command that needed it.
pub(super) fn typed_with_lab(sub: &str) -> String {
    with_lab(std::env::args().skip(1), sub)
}

fn with_lab(args: impl Iterator<Item = String>, sub: &str) -> String {
    let mut words = vec!["vnet".to_owned()];
    let mut put = false;
    for a in args {
        let quoted = if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
            format!("'{}'", a.replace('\'', r"'\''"))
        } else {
            a
        };
        let here = !put && quoted == sub;
        words.push(quoted);
        if here {
            words.push("LAB".into());
            put = true;
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hint_is_the_command_typed_with_lab_put_in() {
        let args = [
            "--no-annotations",
            "capture",
            "a:eth0",
            "b:eth0",
            "-w",
            "x y.pcap",
        ];
        assert_eq!(
            super::with_lab(args.iter().map(|a| a.to_string()), "capture"),
            "vnet --no-annotations capture LAB a:eth0 b:eth0 -w 'x y.pcap'"
        );
        let args = ["exec", "pc1", "--", "ip", "addr"];
        assert_eq!(
            super::with_lab(args.iter().map(|a| a.to_string()), "exec"),
            "vnet exec LAB pc1 -- ip addr"
        );
    }
}
