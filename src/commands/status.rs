use tabled::{Table, Tabled};

use crate::terminal::count;

use super::{Outcome, exit};
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

/// How many nodes `status` and `up` list before saying how many more there are.
pub(super) const SHOWN: usize = 20;

/// One line for the whole lab: how many nodes of each kind, links, checks.
pub(super) fn summary(lab: &Lab) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for n in &lab.nodes {
        let kind = if n.name == crate::model::MACHINE {
            "machine"
        } else {
            n.kind_name()
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, c)) => *c += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, c)| count(*c, k)).collect();
    let plural = count;
    format!(
        "{} ({}), {}, {}",
        plural(lab.nodes.len(), "node"),
        kinds.join(", "),
        plural(lab.links.len(), "link"),
        plural(lab.checks.len(), "check")
    )
}

/// The nodes table: every node, or the first [`SHOWN`] and how many more there are.
pub(super) fn nodes_listing(lab: &Lab, all: bool, more_hint: &str) -> String {
    let shown = if all { lab.nodes.len() } else { SHOWN };
    let mut text = nodes_table_of(lab, shown);
    if lab.nodes.len() > shown {
        text.push_str(&format!(
            "\n… and {} more nodes ({more_hint})",
            lab.nodes.len() - shown
        ));
    }
    text
}

fn nodes_table_of(lab: &Lab, shown: usize) -> String {
    nodes_table_to(lab, shown, crate::terminal::width())
}

fn nodes_table_to(lab: &Lab, shown: usize, width: Option<usize>) -> String {
    let rows: Vec<NodeRow> = lab
        .nodes
        .iter()
        .take(shown)
        .enumerate()
        .map(|(i, n)| NodeRow {
            node: n.name.clone(),
            kind: n.kind_name(),
            namespace: if n.name == crate::model::MACHINE {
                "(the machine)".into()
            } else {
                lab.netns(i)
            },
            interfaces: interfaces(n),
        })
        .collect();
    crate::terminal::fit_to(Table::new(rows), width)
}

/// Each bridge's and switch's ports and what is at their other end: the first [`SHOWN`]
/// unless `all`.
fn ports_listing(ports: &[crate::verify::drift::PortView], all: bool, lab: &str) -> String {
    let shown = if all { ports.len() } else { SHOWN };
    let mut lines = vec!["ports:".to_string()];
    for p in ports.iter().take(shown) {
        let state = match &p.vlans {
            Some(v) => format!("{}, {v}", p.state),
            None => p.state.clone(),
        };
        lines.push(format!("  {} → {} ({state})", p.port, p.peer));
    }
    if ports.len() > shown {
        lines.push(format!(
            "  … and {} more ports (`vnet status {lab} --all` lists every one)",
            ports.len() - shown
        ));
    }
    lines.join("\n")
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
        .filter(|i| !lab.on_machine(*i) && !netns::is_mounted(&lab.netns(*i)))
        .count();
    if missing == 0 {
        "up".into()
    } else {
        format!("{} missing", count(missing, "namespace"))
    }
}

pub(super) fn status(lab: Option<&str>, json: bool, all: bool) -> Outcome {
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
                        lab: name.to_string(),
                    },
                    Err(_) => LabRow {
                        lab: name.to_string(),
                        nodes: 0,
                        links: 0,
                        file: "?".into(),
                        health: "record unreadable; `vnet down` still works".into(),
                    },
                })
                .collect();
            if json {
                crate::jsonln!(serde_json::json!({
                    "version": super::verify::JSON_VERSION,
                    "labs": rows,
                }));
            } else if rows.is_empty() {
                crate::outln!("no lab is running");
            } else {
                crate::outln!("{}", crate::terminal::fit(Table::new(rows)));
            }
        }
        Some(name) => {
            let name = &super::lab_name(name)?;
            if let Some(changed) = super::verify::changed_file(name) {
                crate::errln!("vnet: warning: {changed}");
            }
            let r = state::read_record(name).map_err(|_| super::Error::NotRunning {
                lab: name.to_string(),
            })?;
            // Reading other namespaces' links takes root; without it only the record is told.
            let drift = nix::unistd::geteuid().is_root().then(|| {
                let plan = crate::plan::plan(&r.lab, r.vlan_mode.unwrap_or_default());
                crate::verify::drift::drift(&r.lab, &plan, &r.runtime.down, &r.processes)
            });
            let drifted = drift.as_ref().is_some_and(|d| !d.differences.is_empty());
            if json {
                // The record as `up` wrote it (lab.json), the live state and what differs.
                let mut doc = serde_json::to_value(&r).unwrap_or_default();
                if let serde_json::Value::Object(m) = &mut doc {
                    m.insert("version".into(), super::verify::JSON_VERSION.into());
                    m.insert(
                        "health".into(),
                        match &drift {
                            None => "unknown",
                            Some(_) if drifted => "drifted",
                            Some(_) => "as built",
                        }
                        .into(),
                    );
                    if let Some(d) = &drift {
                        m.insert("live".into(), serde_json::to_value(d).unwrap_or_default());
                    }
                }
                crate::jsonln!(doc);
            } else {
                let mode = r
                    .vlan_mode
                    .map(|m| format!(", VLAN mode {}", m.as_str()))
                    .unwrap_or_default();
                crate::outln!("lab `{}` from {} ({}{mode})", name, r.file, health(&r.lab));
                crate::outln!("{}", summary(&r.lab));
                crate::outln!(
                    "{}",
                    nodes_listing(
                        &r.lab,
                        all,
                        &format!("`vnet status {name} --all` lists every one")
                    )
                );
                for l in &r.lab.links {
                    let Some(imp) = &l.impair else { continue };
                    for (e, i) in [(&l.a, &imp.a), (&l.b, &imp.b)] {
                        if let Some(i) = i {
                            let end = format!("{}:{}", r.lab.nodes[e.node].name, e.iface);
                            let now = r.runtime.impair.get(&end);
                            if now.is_none_or(|now| {
                                !super::fault::differs_from_file(&r.lab, &end, now.as_ref())
                            }) {
                                crate::outln!("{end}: impaired (as the file says): {i}");
                            }
                        }
                    }
                }
                for d in super::fault::differences(&r.lab, &r.runtime) {
                    crate::outln!("{d} (differs from the file)");
                }
                if let Some(d) = drift.as_ref().filter(|d| !d.ports.is_empty()) {
                    crate::outln!("{}", ports_listing(&d.ports, all, name.as_str()));
                }
                match &drift {
                    None => {
                        crate::outln!("health: unknown (reading the lab's namespaces takes root)")
                    }
                    Some(d) if d.differences.is_empty() => crate::outln!("health: as built"),
                    Some(d) => {
                        crate::outln!(
                            "health: {} from what vnet built:",
                            count(d.differences.len(), "difference")
                        );
                        for x in &d.differences {
                            crate::outln!("  {}", x.text);
                        }
                    }
                }
            }
            // Drift is a lab that no longer behaves as built: the exit code of a failed check.
            if drifted {
                return Ok(exit::FAILED);
            }
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Lab {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topologies/office-lan.yaml"
        ))
        .unwrap();
        crate::topology::parse("office-lan.yaml", "office-lan", &text)
            .unwrap()
            .lab
    }

    #[test]
    fn a_lab_reads_as_a_summary_and_its_nodes() {
        let lab = office();
        insta::assert_snapshot!(format!(
            "{}\n{}",
            summary(&lab),
            nodes_table_to(&lab, SHOWN, None)
        ));
    }

    #[test]
    fn the_nodes_fit_60_columns() {
        let table = nodes_table_to(&office(), SHOWN, Some(60));
        assert!(table.lines().all(|l| l.chars().count() <= 60), "{table}");
    }
}
