//! The picture as SVG, drawn by vnet: no Graphviz on the machine needed. Lines first, then
//! boxes, then the labels at each end of a line, so that nothing hides a label.

use std::fmt::Write as _;

use super::layout::{Placed, layout};
use super::{DOWN_COLOUR, Picture, Shape, vlan_colour};

const FONT: f64 = 12.0;
const SMALL: f64 = 9.5;
const MARGIN: f64 = 60.0;
const TOP: f64 = 56.0;

/// A rough width of text in a sans-serif face: enough to size boxes and label backgrounds.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn box_size(b: &super::Figure) -> (f64, f64) {
    let widest = b
        .lines
        .iter()
        .map(|l| text_width(l, SMALL))
        .fold(text_width(&b.name, FONT + 1.0), f64::max);
    (
        (widest + 24.0).max(72.0),
        26.0 + b.lines.len() as f64 * (SMALL + 3.0),
    )
}

/// Which side of its box each line's end leaves from, and where along that side: the ends
/// of a side share it in the order of the boxes they lead to, each as wide as its label.
struct Ports {
    /// Per line: the x of end a and of end b, and whether each leaves from the box's bottom.
    at: Vec<[(f64, bool); 2]>,
    /// Per box: how wide its busier side needs to be for its labels.
    need: Vec<f64>,
}

const SLOT_GAP: f64 = 8.0;

fn label_width(lines: &[String]) -> f64 {
    lines
        .iter()
        .map(|l| text_width(l, SMALL))
        .fold(0.0, f64::max)
        + 6.0
}

fn ports(p: &Picture, at: &[Placed]) -> Ports {
    // (line, which end, the other box's x) for each box's bottom and top side.
    let mut sides: Vec<[Vec<(usize, usize, f64)>; 2]> = vec![[Vec::new(), Vec::new()]; at.len()];
    for (li, l) in p.lines.iter().enumerate() {
        let ends = [(l.a.node, l.b.node), (l.b.node, l.a.node)];
        for (which, (me, other)) in ends.into_iter().enumerate() {
            let below = at[other].y >= at[me].y - 1.0;
            sides[me][usize::from(!below)].push((li, which, at[other].x));
        }
    }
    let mut out = Ports {
        at: vec![[(0.0, true); 2]; p.lines.len()],
        need: vec![0.0; at.len()],
    };
    for (b, two) in sides.iter_mut().enumerate() {
        for (side, ends) in two.iter_mut().enumerate() {
            ends.sort_by(|x, y| x.2.total_cmp(&y.2).then(x.0.cmp(&y.0)));
            let widths: Vec<f64> = ends
                .iter()
                .map(|(li, which, _)| {
                    let l = &p.lines[*li];
                    label_width(&if *which == 0 { &l.a } else { &l.b }.label_lines())
                })
                .collect();
            let total =
                widths.iter().sum::<f64>() + SLOT_GAP * widths.len().saturating_sub(1) as f64;
            out.need[b] = out.need[b].max(total + 12.0);
            let mut x = at[b].x - total / 2.0;
            for ((li, which, _), w) in ends.iter().zip(&widths) {
                out.at[*li][*which] = (x + w / 2.0, side == 0);
                x += w + SLOT_GAP;
            }
        }
    }
    out
}

pub(crate) fn render(p: &Picture) -> String {
    let mut sizes: Vec<(f64, f64)> = p.boxes.iter().map(box_size).collect();
    // Laid out twice: the first time tells which side each line leaves from, and so how wide
    // a box must be for the labels of its ports; layers do not depend on widths.
    let (first, _, _) = layout(p, &sizes);
    let need = ports(p, &first).need;
    for (s, n) in sizes.iter_mut().zip(need) {
        s.0 = s.0.max(n);
    }
    let (mut at, w, h) = layout(p, &sizes);
    for b in &mut at {
        b.x += MARGIN;
        b.y += TOP;
    }
    let slots = ports(p, &at);
    let legend = legend_rows(p);
    let width = (w + 2.0 * MARGIN)
        .max(text_width(&p.title, 16.0) + 2.0 * MARGIN)
        .max(320.0);
    let height = h + TOP + 40.0 + legend.len() as f64 * 18.0 + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{MARGIN}" y="30" font-size="16" font-weight="bold">{}</text>"##,
        esc(&p.title)
    );
    let mut labels = String::new();
    for (li, l) in p.lines.iter().enumerate() {
        let (a, b) = (&at[l.a.node], &at[l.b.node]);
        let edge = |pl: &Placed, (x, bottom): (f64, bool)| {
            (
                x,
                if bottom {
                    pl.y + pl.h / 2.0
                } else {
                    pl.y - pl.h / 2.0
                },
            )
        };
        let (ax, ay) = edge(a, slots.at[li][0]);
        let (bx, by) = edge(b, slots.at[li][1]);
        let colour = match (&l.down, l.vlan) {
            (Some(_), _) => DOWN_COLOUR,
            (None, Some(v)) => vlan_colour(&p.vlans, v),
            _ => "#555555",
        };
        let dash = if l.down.is_some() {
            r#" stroke-dasharray="7 5""#
        } else {
            ""
        };
        let same_row = (a.y - b.y).abs() < 1.0;
        let (mx, my) = if same_row {
            // Beside each other: an arc below, out of the way of lines from above.
            let dip = ay.max(by) + 40.0 + (bx - ax).abs() * 0.1;
            let _ = writeln!(
                out,
                r#"<path d="M {ax:.1} {ay:.1} Q {:.1} {dip:.1} {bx:.1} {by:.1}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
                (ax + bx) / 2.0
            );
            ((ax + bx) / 2.0, (ay + by) / 2.0 + (dip - ay.max(by)) / 2.0)
        } else if l.trunk.is_empty() {
            let _ = writeln!(
                out,
                r#"<line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="{colour}" stroke-width="2"{dash}/>"#
            );
            ((ax + bx) / 2.0, (ay + by) / 2.0)
        } else {
            // A trunk: one thin line in each VLAN's colour, side by side.
            let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt().max(1.0);
            let (nx, ny) = (-(by - ay) / len, (bx - ax) / len);
            let k = l.trunk.len() as f64;
            for (i, v) in l.trunk.iter().enumerate() {
                let off = (i as f64 - (k - 1.0) / 2.0) * 3.0;
                let c = if l.down.is_some() {
                    DOWN_COLOUR
                } else {
                    vlan_colour(&p.vlans, *v)
                };
                let _ = writeln!(
                    out,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="2"{dash}/>"#,
                    ax + nx * off,
                    ay + ny * off,
                    bx + nx * off,
                    by + ny * off
                );
            }
            ((ax + bx) / 2.0, (ay + by) / 2.0)
        };
        // Each end's label just off its box, above or below the port the line leaves from.
        for (end, (x, y), bottom) in [
            (&l.a, (ax, ay), slots.at[li][0].1),
            (&l.b, (bx, by), slots.at[li][1].1),
        ] {
            let lines = end.label_lines();
            let half = (lines.len() as f64 * (SMALL + 2.0) + 3.0) / 2.0;
            let y = if bottom {
                y + 4.0 + half
            } else {
                y - 4.0 - half
            };
            end_label(&mut labels, &lines, x, y);
        }
        let mut middle = Vec::new();
        if let Some(k) = &l.kind {
            middle.push(k.clone());
        }
        if let Some(d) = &l.down {
            middle.push(format!("DOWN: {d}"));
        }
        if !middle.is_empty() {
            let colour = if l.down.is_some() {
                DOWN_COLOUR
            } else {
                "#333333"
            };
            tag(&mut labels, &middle.join(", "), mx, my, colour);
        }
    }
    for (b, pl) in p.boxes.iter().zip(&at) {
        draw_box(&mut out, b, pl);
    }
    out.push_str(&labels);
    let mut y = TOP + h + 40.0;
    for (colour, text, dashed) in legend {
        let dash = if dashed {
            r#" stroke-dasharray="7 5""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r##"<line x1="{MARGIN}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}" font-size="{SMALL}" fill="#333333">{}</text>"##,
            MARGIN + 28.0,
            MARGIN + 36.0,
            y + 3.5,
            esc(&text)
        );
        y += 18.0;
    }
    out.push_str("</svg>\n");
    out
}

/// The legend: a line per VLAN colour, trunks, and links down, as far as the lab has them.
fn legend_rows(p: &Picture) -> Vec<(&'static str, String, bool)> {
    let mut rows: Vec<(&'static str, String, bool)> = p
        .vlans
        .iter()
        .map(|v| (vlan_colour(&p.vlans, *v), format!("VLAN {v}"), false))
        .collect();
    if p.lines.iter().any(|l| !l.trunk.is_empty()) {
        rows.push((
            "#555555",
            "trunk: a thin line per VLAN carried".into(),
            false,
        ));
    }
    if p.lines.iter().any(|l| l.down.is_some()) {
        rows.push((DOWN_COLOUR, "down in the running lab".into(), true));
    }
    rows
}

impl super::End {
    /// The end's label as lines: the interface, then each address or port mode.
    fn label_lines(&self) -> Vec<String> {
        let mut v = vec![self.iface.clone()];
        v.extend(self.notes.iter().cloned());
        v
    }
}

/// Small text on a white ground, centred at (x, y): first line in bold.
fn end_label(out: &mut String, lines: &[String], x: f64, y: f64) {
    let w = lines
        .iter()
        .map(|l| text_width(l, SMALL))
        .fold(0.0, f64::max)
        + 6.0;
    let line_h = SMALL + 2.0;
    let h = lines.len() as f64 * line_h + 3.0;
    let top = y - h / 2.0;
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" rx="3" fill="#ffffff" fill-opacity="0.85"/>"##,
        x - w / 2.0
    );
    for (i, l) in lines.iter().enumerate() {
        let weight = if i == 0 { r#" font-weight="bold""# } else { "" };
        let _ = writeln!(
            out,
            r##"<text x="{x:.1}" y="{:.1}" font-size="{SMALL}" text-anchor="middle" fill="#333333"{weight}>{}</text>"##,
            top + 1.5 + line_h * (i as f64 + 1.0) - 2.5,
            esc(l)
        );
    }
}

/// A one-line note in the middle of a line (a fault, the kind of link).
fn tag(out: &mut String, text: &str, x: f64, y: f64, colour: &str) {
    let w = text_width(text, SMALL) + 8.0;
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="15" rx="3" fill="#ffffff" stroke="{colour}"/><text x="{x:.1}" y="{:.1}" font-size="{SMALL}" text-anchor="middle" fill="{colour}">{}</text>"##,
        x - w / 2.0,
        y - 7.5,
        y + 3.5,
        esc(text)
    );
}

fn draw_box(out: &mut String, b: &super::Figure, p: &Placed) {
    let (x, y) = (p.x - p.w / 2.0, p.y - p.h / 2.0);
    let (fill, stroke, rx, extra) = match b.shape {
        Shape::Host => ("#eef5ff", "#4a6fa5", 6.0, ""),
        Shape::Group => ("#eef5ff", "#4a6fa5", 6.0, ""),
        Shape::Router => ("#fff1dc", "#c77c02", p.h / 2.0, ""),
        Shape::Bridge => ("#f2f2f2", "#666666", 2.0, ""),
        Shape::Hub => ("#f2f2f2", "#666666", 2.0, r#" stroke-dasharray="4 3""#),
        Shape::Switch => ("#e6f4ea", "#2e7d32", 2.0, ""),
        Shape::Machine => ("#fbe9f2", "#a0306a", 0.0, ""),
    };
    if b.shape == Shape::Group {
        // A stack of cards: many hosts alike.
        for off in [8.0, 4.0] {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#,
                x + off,
                y - off,
                p.w,
                p.h
            );
        }
    }
    let width = if b.shape == Shape::Machine { 3.0 } else { 1.5 };
    let _ = writeln!(
        out,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" rx="{rx:.1}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{extra}/>"#,
        p.w, p.h
    );
    if b.shape == Shape::Switch {
        // A second frame inside: a switch understands VLANs, a bridge does not.
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="{stroke}" stroke-width="0.8"/>"#,
            x + 3.0,
            y + 3.0,
            p.w - 6.0,
            p.h - 6.0
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="{}" font-weight="bold" text-anchor="middle" fill="#111111">{}</text>"##,
        p.x,
        y + 17.0,
        FONT + 1.0,
        esc(&b.name)
    );
    for (i, l) in b.lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="{SMALL}" text-anchor="middle" fill="#444444">{}</text>"##,
            p.x,
            y + 17.0 + (SMALL + 3.0) * (i as f64 + 1.0),
            esc(l)
        );
    }
}
