use miette::miette;
use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::{Failure, Outcome, exit};
use crate::apply::netns;
use crate::model::{Lab, NodeKind, PortMode};
use crate::state;

#[derive(Tabled)]
struct NodeRow {
    node: String,
    kind: &'static str,
    namespace: String,
    interfaces: String,
}

/// One line per interface: its name, its role (bridge port, switch port mode and VLANs,
/// port security) and its addresses.
fn interfaces(n: &crate::model::Node) -> String {
    let mut lines = Vec::new();
    for f in &n.interfaces {
        let mut line = f.name.clone();
        if let Some(port) = n.ports.iter().find(|p| p.name == f.name) {
            line.push_str(&match &port.mode {
                PortMode::Access(v) => format!(" access {v}"),
                PortMode::Trunk { vlans, native } => {
                    let list: Vec<String> = vlans.iter().map(u16::to_string).collect();
                    let native = native.map(|v| format!(" native {v}")).unwrap_or_default();
                    format!(" trunk {}{native}", list.join(","))
                }
            });
            if !port.allow.is_empty() {
                line.push_str(&format!(" (port security: {} allowed)", port.allow.len()));
            }
        } else if n.kind == NodeKind::Bridge && f.name != n.name {
            line.push_str(" (port)");
        }
        for a in &f.addresses {
            line.push_str(&format!(" {a}"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

pub fn nodes_table(lab: &Lab) -> String {
    let rows: Vec<NodeRow> = lab
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeRow {
            node: n.name.clone(),
            kind: n.kind.as_str(),
            namespace: if n.name == crate::model::MACHINE {
                "(the machine)".into()
            } else {
                lab.netns(i)
            },
            interfaces: interfaces(n),
        })
        .collect();
    Table::new(rows).with(Style::rounded()).to_string()
}

#[derive(Tabled, serde::Serialize)]
struct LabRow {
    lab: String,
    nodes: usize,
    links: usize,
    file: String,
    health: String,
}

fn health(lab: &Lab) -> String {
    let missing = (0..lab.nodes.len())
        .filter(|i| !lab.netns(*i).is_empty() && !netns::is_mounted(&lab.netns(*i)))
        .count();
    if missing == 0 {
        "up".into()
    } else {
        format!("{missing} namespaces missing")
    }
}

pub fn status(lab: Option<&str>, json: bool) -> Outcome {
    match lab {
        None => {
            let rows: Vec<LabRow> = state::running()
                .into_iter()
                .map(|name| match state::read_record(&name) {
                    Ok(r) => LabRow {
                        nodes: r.lab.nodes.len(),
                        links: r.lab.links.len(),
                        file: r.file,
                        health: health(&r.lab),
                        lab: name,
                    },
                    Err(_) => LabRow {
                        lab: name,
                        nodes: 0,
                        links: 0,
                        file: "?".into(),
                        health: "record unreadable; `vnet down` still works".into(),
                    },
                })
                .collect();
            if json {
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else if rows.is_empty() {
                crate::outln!("no lab is running");
            } else {
                crate::outln!("{}", Table::new(rows).with(Style::rounded()));
            }
        }
        Some(name) => {
            let r = state::read_record(name).map_err(|_| {
                Failure::system(miette!(
                    code = "vnet::not_running",
                    help = "`vnet status` lists running labs",
                    "no running lab `{name}`"
                ))
            })?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                let mode = r
                    .vlan_mode
                    .map(|m| format!(", VLAN mode {}", m.as_str()))
                    .unwrap_or_default();
                crate::outln!("lab `{}` from {} ({}{mode})", name, r.file, health(&r.lab));
                crate::outln!("{}", nodes_table(&r.lab));
            }
        }
    }
    Ok(exit::OK)
}
