//! Mermaid's flowchart: what GitHub and GitLab draw from a ```mermaid block.

use std::fmt::Write as _;

use super::{DOWN_COLOUR, Picture, Shape, vlan_colour};

/// Mermaid takes `"` inside a quoted label as its end, and `<`/`>` as HTML.
fn escaped(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", escaped(text))
}

pub(crate) fn render(p: &Picture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---\ntitle: {}\n---", p.title);
    out.push_str("flowchart TB\n");
    for b in &p.boxes {
        // The label's own markup (<b>, <br/>) is Mermaid's; only the words are escaped.
        let mut words = vec![format!("<b>{}</b>", escaped(&b.name))];
        words.extend(b.lines.iter().map(|t| escaped(t)));
        let label = format!("\"{}\"", words.join("<br/>"));
        let (open, close) = match b.shape {
            Shape::Host => ("[", "]"),
            Shape::Router => ("{{", "}}"),
            Shape::Bridge | Shape::Switch => ("[[", "]]"),
            Shape::Hub => ("[/", "\\]"),
            Shape::Machine => ("[/", "/]"),
            Shape::Group => ("([", "])"),
        };
        let class = match b.shape {
            Shape::Host => "host",
            Shape::Router => "router",
            Shape::Bridge | Shape::Hub => "bridge",
            Shape::Switch => "switch",
            Shape::Machine => "machine",
            Shape::Group => "group",
        };
        let _ = writeln!(out, "    {}{open}{label}{close}:::{class}", b.id);
    }
    let mut styles = Vec::new();
    for (i, l) in p.lines.iter().enumerate() {
        let arrow = if l.down.is_some() {
            "-.-"
        } else if !l.trunk.is_empty() {
            "==="
        } else {
            "---"
        };
        let _ = writeln!(
            out,
            "    {} {arrow}|{}| {}",
            p.boxes[l.a.node].id,
            quoted(&l.label()),
            p.boxes[l.b.node].id
        );
        if l.down.is_some() {
            styles.push(format!(
                "    linkStyle {i} stroke:{DOWN_COLOUR},stroke-width:2px,color:{DOWN_COLOUR}"
            ));
        } else if let Some(v) = l.vlan {
            styles.push(format!(
                "    linkStyle {i} stroke:{},stroke-width:2px",
                vlan_colour(&p.vlans, v)
            ));
        }
    }
    for s in styles {
        out.push_str(&s);
        out.push('\n');
    }
    out.push_str(
        "    classDef host fill:#eef5ff,stroke:#4a6fa5\n\
         \x20   classDef router fill:#fff1dc,stroke:#c77c02\n\
         \x20   classDef bridge fill:#f2f2f2,stroke:#666\n\
         \x20   classDef switch fill:#e6f4ea,stroke:#2e7d32\n\
         \x20   classDef machine fill:#fbe9f2,stroke:#a0306a\n\
         \x20   classDef group fill:#eef5ff,stroke:#4a6fa5,stroke-dasharray:3\n",
    );
    out
}
