use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Error, Outcome, exit};
use crate::cli::GraphFormat;
use crate::model::{Lab, MACHINE};
use crate::report::graph::{self, Live};
use crate::state;

/// `vnet graph FILE|LAB [--format mermaid|dot|svg] [-o FILE]`.
pub(super) fn graph(lab: &str, format: Option<GraphFormat>, output: Option<&Path>) -> Outcome {
    let format = format.unwrap_or_else(|| match output.and_then(|p| p.extension()) {
        Some(e) if e == "svg" => GraphFormat::Svg,
        Some(e) if e == "dot" || e == "gv" => GraphFormat::Dot,
        _ => GraphFormat::Mermaid,
    });
    let (model, live) = resolve(lab)?;
    let picture = graph::picture(&model, live.as_ref());
    let text = match format {
        GraphFormat::Mermaid => graph::mermaid::render(&picture),
        GraphFormat::Dot => graph::dot::render(&picture),
        GraphFormat::Svg => graph::svg::render(&picture),
    };
    match output {
        Some(p) => std::fs::write(p, text).map_err(|error| Error::Report {
            file: p.display().to_string(),
            error,
        })?,
        None => {
            let _ = write!(std::io::stdout(), "{text}");
        }
    }
    Ok(exit::OK)
}

/// The lab to draw: a file's model, or a running lab's record with the state of its links
/// as the kernel has it now.
fn resolve(arg: &str) -> Result<(Lab, Option<Live>), Error> {
    let path = PathBuf::from(arg);
    let file_like = arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/');
    if path.is_file() && file_like {
        return Ok((super::load(&path)?.lab, None));
    }
    let name = super::lab_name(arg)?;
    if !state::is_running(&name) {
        if path.is_file() {
            return Ok((super::load(&path)?.lab, None));
        }
        return Err(Error::NotRunning {
            lab: name.to_string(),
        });
    }
    let record = state::read_record(&name).map_err(|_| Error::NotRunning {
        lab: name.to_string(),
    })?;
    // Reading another namespace's links takes root; without it what the record says
    // changed at runtime is still drawn.
    let root = nix::unistd::geteuid().is_root();
    let mut live = if root {
        live(&record.lab)
    } else {
        Live::default()
    };
    recorded(&record, &mut live, root);
    Ok((record.lab, Some(live)))
}

/// What `vnet link` and `vnet impair` (and stages) recorded: links taken down, said so over
/// the kernel's plain `down` (when the kernel was `read`, only where it agrees: a link put
/// back up by hand is up), and impairments that replace the file's.
fn recorded(record: &state::Record, live: &mut Live, read: bool) {
    let end = |text: &str| {
        let (node, iface) = text.split_once(':')?;
        Some((record.lab.node_index(node)?, iface.to_owned()))
    };
    for down in &record.runtime.down {
        if let Some(e) = end(down)
            && (!read || live.not_up.contains_key(&e))
        {
            live.not_up.insert(e, "taken down with vnet link".into());
        }
    }
    for (text, now) in &record.runtime.impair {
        if let Some(e) = end(text) {
            live.impaired.insert(e, now.clone());
        }
    }
}

/// The interfaces of the lab's links that are not up (or are gone), by node.
fn live(lab: &Lab) -> Live {
    let nodes: Vec<usize> = (0..lab.nodes.len())
        .filter(|&i| lab.nodes[i].name != MACHINE)
        .collect();
    let names: Vec<String> = nodes.iter().map(|&i| lab.netns(i)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let states = crate::apply::ready::link_states(&refs);
    let mut out = Live::default();
    for (ns, seen) in states {
        let Some(node) = nodes.iter().copied().find(|&i| lab.netns(i) == ns) else {
            continue;
        };
        // A namespace that cannot be read shows all its links missing: that is what it is.
        let seen = seen.unwrap_or_default();
        for l in lab.links.iter() {
            for e in [&l.a, &l.b] {
                if e.node != node {
                    continue;
                }
                match seen.iter().find(|(name, _)| *name == e.iface) {
                    Some((_, state)) if state == "up" || state == "unknown" => {}
                    Some((_, state)) => {
                        out.not_up.insert((node, e.iface.clone()), state.clone());
                    }
                    None => {
                        out.not_up.insert((node, e.iface.clone()), "missing".into());
                    }
                }
            }
        }
    }
    out
}
