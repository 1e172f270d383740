//! Graphviz's DOT: `vnet graph lab.yaml --format dot | dot -Tpng > lab.png`.

use std::fmt::Write as _;

use super::{DOWN_COLOUR, Picture, Shape, vlan_colour};

/// A DOT string: backslashes and quotes escaped, lines as `\n`.
fn quoted(text: &str) -> String {
    let t = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{t}\"")
}

pub(crate) fn render(p: &Picture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "graph {} {{", quoted(&p.title));
    let _ = writeln!(
        out,
        "    graph [label={}, labelloc=t, fontname=\"sans-serif\", nodesep=0.4, ranksep=0.8];",
        quoted(&p.title)
    );
    out.push_str("    node [fontname=\"sans-serif\", fontsize=10, style=filled];\n");
    out.push_str("    edge [fontname=\"sans-serif\", fontsize=8];\n");
    for b in &p.boxes {
        let (shape, fill) = match b.shape {
            Shape::Host => ("box", "#eef5ff"),
            Shape::Router => ("hexagon", "#fff1dc"),
            Shape::Bridge => ("box3d", "#f2f2f2"),
            Shape::Hub => ("trapezium", "#f2f2f2"),
            Shape::Switch => ("box3d", "#e6f4ea"),
            Shape::Machine => ("parallelogram", "#fbe9f2"),
            Shape::Group => ("folder", "#eef5ff"),
        };
        let mut label = vec![b.name.clone()];
        label.extend(b.lines.iter().cloned());
        let _ = writeln!(
            out,
            "    {} [label={}, shape={shape}, fillcolor=\"{fill}\"];",
            b.id,
            quoted(&label.join("\n"))
        );
    }
    for l in &p.lines {
        let mut attrs = vec![
            format!("taillabel={}", quoted(&l.a.lines().join("\n"))),
            format!("headlabel={}", quoted(&l.b.lines().join("\n"))),
        ];
        let mut middle = Vec::new();
        if let Some(k) = &l.kind {
            middle.push(k.clone());
        }
        if !l.trunk.is_empty() {
            let list: Vec<String> = l.trunk.iter().map(u16::to_string).collect();
            middle.push(format!("trunk {}", list.join(",")));
            attrs.push("penwidth=3".into());
        }
        if let Some(d) = &l.down {
            middle.push(format!("DOWN: {d}"));
            attrs.push(format!(
                "color=\"{DOWN_COLOUR}\", fontcolor=\"{DOWN_COLOUR}\", style=dashed"
            ));
        } else if let Some(v) = l.vlan {
            middle.push(format!("VLAN {v}"));
            attrs.push(format!(
                "color=\"{}\", penwidth=2",
                vlan_colour(&p.vlans, v)
            ));
        }
        if !middle.is_empty() {
            attrs.push(format!("label={}", quoted(&middle.join("\n"))));
        }
        let _ = writeln!(
            out,
            "    {} -- {} [{}];",
            p.boxes[l.a.node].id,
            p.boxes[l.b.node].id,
            attrs.join(", ")
        );
    }
    out.push_str("}\n");
    out
}
