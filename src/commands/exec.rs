use miette::miette;

use super::{Failure, Outcome, require_root};
use crate::apply::{exec, netns};
use crate::state;

pub fn exec(target: &[String], command: &[String]) -> Outcome {
    require_root()?;
    let (lab, node) = match target {
        [lab, node] => (super::lab_name(lab)?, node.clone()),
        [node] => {
            let running = state::running();
            match running.as_slice() {
                [only] => (only.clone(), node.clone()),
                [] => {
                    return Err(Failure::system(miette!(
                        code = "vnet::not_running",
                        "no lab is running"
                    )));
                }
                many => {
                    return Err(Failure {
                        code: super::exit::USAGE,
                        report: miette!(
                            help = format!("name the lab: `vnet exec LAB {node} -- ...`"),
                            "{} labs are running ({}); which one?",
                            many.len(),
                            many.iter()
                                .map(|l| l.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }
        _ => {
            return Err(Failure {
                code: super::exit::USAGE,
                report: miette!("usage: vnet exec [LAB] NODE -- CMD..."),
            });
        }
    };
    let record = state::read_record(&lab).map_err(|_| {
        Failure::system(miette!(
            code = "vnet::not_running",
            "no running lab `{lab}`"
        ))
    })?;
    let Some(i) = record.lab.node_index(&node) else {
        let known: Vec<&str> = record.lab.nodes.iter().map(|n| n.name.as_str()).collect();
        return Err(Failure {
            code: super::exit::USAGE,
            report: miette!(
                help = format!("nodes of `{lab}`: {}", known.join(", ")),
                "lab `{lab}` has no node {}",
                super::shown(&node)
            ),
        });
    };
    let ns = record.lab.netns(i);
    let file = netns::open(&ns)
        .map_err(|e| Failure::system(miette!("cannot open namespace {ns}: {e}")))?;
    let pen = crate::apply::procs::Pen::new(lab.as_str());
    let err = exec::exec_replace(&file, command, &pen);
    Err(Failure::system(miette!(
        "cannot run `{}` in {ns}: {err}",
        command[0]
    )))
}
