//! Names written in the file, looked up in the lab being built, and limits that every part of
//! validation shares. Used by `validate`, `links` and `checks` alike, it imports none of them.

use miette::SourceSpan;

use super::diag::Problems;
use crate::model::Lab;
use crate::model::name::closest;

/// The Linux bridge refuses a 1025th port (BR_MAX_PORTS).
pub(crate) const BRIDGE_MAX_PORTS: usize = 1024;

/// The node a name written in the file stands for; an unknown name is a problem there, with
/// the nearest name (or the known ones) as help.
pub(super) fn resolve_node(
    p: &mut Problems,
    lab: &Lab,
    name: &str,
    at: SourceSpan,
) -> Option<usize> {
    if let Some(i) = lab.node_index(name) {
        return Some(i);
    }
    let help = match closest(name, lab.nodes.iter().map(|n| n.name.as_str())) {
        Some(near) => format!("did you mean `{near}`?"),
        None if lab.nodes.is_empty() => "there are no nodes under `nodes:`".into(),
        None => format!(
            "known nodes: {}",
            lab.nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    p.error(
        "unknown_node",
        format!("unknown node `{name}`"),
        at,
        "not declared under `nodes:`",
        Some(help),
    );
    None
}
