use super::*;

fn lab(yaml: &str) -> Lab {
    crate::topology::parse("lab.yaml", "lab", yaml.as_bytes())
        .map_err(|e| format!("{e:?}"))
        .unwrap()
        .lab
}

fn bundled(file: &str) -> Lab {
    let path = format!("{}/topologies/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap();
    crate::topology::parse(&path, "x", &text).unwrap().lab
}

const SMALL: &str = "name: small
nodes:
  a: {interfaces: {eth0: 10.0.0.1/24}, gateway: 10.0.0.254}
  b: {interfaces: {eth0: 10.0.0.2/24}}
  sw: {kind: bridge}
  r:
    kind: router
    interfaces: {lan: 10.0.0.254/24, wan: 192.0.2.1/24}
    nat: {masquerade: [wan]}
  ext: {interfaces: {eth0: 192.0.2.9/24}}
links:
  - [a:eth0, sw:p1]
  - [b:eth0, sw:p2]
  - [r:lan, sw:p3]
  - [r:wan, ext:eth0]
";

/// A minimal XML well-formedness check (no XML crate in the tree): tags nest and close,
/// attributes are quoted, `&` only starts an entity, no `<` in text.
fn well_formed(xml: &str) -> Result<usize, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    let mut elements = 0;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let ent = &text[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| ent.starts_with(e))
            {
                return Err(format!("a bare & in {text:?}"));
            }
        }
        let close = rest[open..].find('>').ok_or("a tag never closes")? + open;
        let tag = &rest[open + 1..close];
        if tag.contains('<') {
            return Err(format!("< inside a tag: {tag}"));
        }
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
            elements += 1;
        } else {
            elements += 1;
        }
        rest = &rest[close + 1..];
    }
    if !stack.is_empty() {
        return Err(format!("never closed: {stack:?}"));
    }
    if !rest.trim().is_empty() {
        return Err("text after the root element".into());
    }
    Ok(elements)
}

#[test]
fn mermaid_of_a_small_lab() {
    let m = mermaid::render(&picture(&lab(SMALL), None));
    let lines: Vec<&str> = m.lines().collect();
    assert_eq!(&lines[..4], &["---", "title: small", "---", "flowchart TB"]);
    for want in [
        r#"    n_a["<b>a</b><br/>host"]:::host"#,
        r#"    n_sw[["<b>sw</b><br/>bridge"]]:::bridge"#,
        r#"    n_r{{"<b>r</b><br/>router<br/>NAT: masquerade out wan"}}:::router"#,
        r#"    n_a ---|"eth0 10.0.0.1/24 — p1"| n_sw"#,
        r#"    n_r ---|"wan 192.0.2.1/24 — eth0 192.0.2.9/24"| n_ext"#,
    ] {
        assert!(lines.contains(&want), "no line {want:?} in\n{m}");
    }
}

/// A bridge inside another node (docker0 in the Docker host) says where it is, and its address.
#[test]
fn a_bridge_in_a_host_says_so_with_its_address() {
    let m = mermaid::render(&picture(&bundled("docker-single-host.yaml"), None));
    let want = r#"    n_docker0[["<b>docker0</b><br/>bridge<br/>in dockerhost<br/>172.17.0.1/16"]]:::bridge"#;
    assert!(m.lines().any(|l| l == want), "no line {want:?} in\n{m}");
}

/// Every node is defined once, and every link joins defined nodes.
#[test]
fn mermaid_defines_every_node_once_and_links_only_those() {
    for file in [
        "office-lan.yaml",
        "vlan-office.yaml",
        "campus.yaml",
        "overlay-two-hosts.yaml",
    ] {
        let p = picture(&bundled(file), None);
        let m = mermaid::render(&p);
        let mut defined = std::collections::BTreeMap::new();
        for b in &p.boxes {
            let n = m
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    t.starts_with(&b.id) && t[b.id.len()..].starts_with(['[', '{', '('])
                })
                .count();
            defined.insert(b.id.clone(), n);
        }
        assert!(defined.values().all(|n| *n == 1), "{file}: {defined:?}");
        for l in m
            .lines()
            .filter(|l| l.contains("---|") || l.contains("===|") || l.contains("-.-|"))
        {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (from, to) = (words[0], words[words.len() - 1]);
            assert!(
                defined.contains_key(from) && defined.contains_key(to),
                "{file}: {l}"
            );
        }
        let links = m.lines().filter(|l| l.contains("|\"")).count();
        assert_eq!(links, p.lines.len(), "{file}");
    }
}

#[test]
fn dot_of_a_small_lab() {
    let d = dot::render(&picture(&lab(SMALL), None));
    assert!(d.starts_with("graph \"small\" {\n"), "{d}");
    assert!(d.ends_with("}\n"));
    for want in [
        r##"    n_r [label="r\nrouter\nNAT: masquerade out wan", shape=hexagon, fillcolor="#fff1dc"];"##,
        r#"    n_a -- n_sw [taillabel="eth0\n10.0.0.1/24", headlabel="p1"];"#,
    ] {
        assert!(d.lines().any(|l| l == want), "no line {want:?} in\n{d}");
    }
    assert_eq!(d.matches('{').count(), d.matches('}').count());
}

#[test]
fn vlans_are_coloured_and_trunks_carry_their_list() {
    let p = picture(&bundled("vlan-office.yaml"), None);
    assert_eq!(p.vlans, vec![10, 20, 30, 99]);
    let access: Vec<&Line> = p.lines.iter().filter(|l| l.vlan == Some(10)).collect();
    assert_eq!(access.len(), 2, "pc1 and pc3 are in VLAN 10");
    let trunk = p.lines.iter().find(|l| !l.trunk.is_empty()).unwrap();
    assert_eq!(trunk.trunk, vec![10, 20]);
    let d = dot::render(&p);
    assert!(d.contains(&format!("color=\"{}\"", vlan_colour(&p.vlans, 10))));
    assert!(d.contains("trunk 10,20") && d.contains("penwidth=3"));
    let m = mermaid::render(&p);
    assert!(m.contains("==="), "a trunk is a thick line in Mermaid");
}

#[test]
fn a_thousand_hosts_on_one_bridge_are_one_box() {
    let mut yaml = String::from("name: big\nnodes:\n  sw: {kind: bridge}\n");
    let mut links = String::from("links:\n");
    for i in 1..=1000 {
        yaml.push_str(&format!(
            "  h{i}: {{interfaces: {{eth0: 10.1.{}.{}/16}}}}\n",
            i / 250,
            i % 250 + 1
        ));
        links.push_str(&format!("  - [h{i}:eth0, sw:p{i}]\n"));
    }
    let p = picture(&lab(&(yaml + &links)), None);
    assert_eq!(p.boxes.len(), 2, "{:?}", p.boxes);
    assert_eq!(p.lines.len(), 1);
    let group = p.boxes.iter().find(|b| b.shape == Shape::Group).unwrap();
    assert_eq!(group.name, "1000 hosts");
    assert_eq!(group.lines, vec!["h1 … h1000"]);
    assert_eq!(p.lines[0].b.iface, "p1 … p1000");
    let svg = svg::render(&p);
    assert!(svg.len() < 20_000, "{} bytes", svg.len());
    well_formed(&svg).unwrap();
}

#[test]
fn a_few_hosts_are_each_drawn() {
    let p = picture(&lab(SMALL), None);
    assert_eq!(p.boxes.len(), 5);
}

#[test]
fn links_down_in_a_running_lab_are_marked() {
    let l = lab(SMALL);
    let r = l.node_index("r").unwrap();
    let mut live = Live::default();
    live.not_up.insert((r, "wan".into()), "down".into());
    let p = picture(&l, Some(&live));
    let down: Vec<&Line> = p.lines.iter().filter(|l| l.down.is_some()).collect();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].down.as_deref(), Some("r:wan is down"));
    assert!(
        mermaid::render(&p).contains(
            r#"n_r -.-|"wan 192.0.2.1/24 — eth0 192.0.2.9/24 DOWN: r:wan is down"| n_ext"#
        )
    );
    assert!(dot::render(&p).contains("DOWN: r:wan is down"));
    let s = svg::render(&p);
    assert!(s.contains("DOWN: r:wan is down") && s.contains(DOWN_COLOUR));
}

/// What the lab's record says changed at runtime: a link taken down with `vnet link`, an
/// impairment set or cleared with `vnet impair`.
#[test]
fn runtime_faults_of_a_running_lab_are_drawn() {
    let l = bundled("latency-and-loss.yaml");
    let sat = l
        .links
        .iter()
        .find(|k| k.b.iface == "sat")
        .expect("the satellite link");
    let (a, b) = (
        (sat.a.node, sat.a.iface.clone()),
        (sat.b.node, sat.b.iface.clone()),
    );
    let mut live = Live::default();
    live.impaired.insert(
        a.clone(),
        Some(crate::model::impair::Impair {
            rate_bps: Some(20_000),
            ..Default::default()
        }),
    );
    live.impaired.insert(b.clone(), None);
    // The end taken down is named, not the other one that lost its carrier for it.
    live.not_up.insert(a.clone(), "no-carrier".into());
    live.not_up
        .insert(b.clone(), "taken down with vnet link".into());
    let p = picture(&l, Some(&live));
    let line = p
        .lines
        .iter()
        .find(|k| k.b.iface == "sat")
        .expect("the satellite line");
    assert!(
        line.a
            .notes
            .contains(&"sends rate 20kbit (at runtime)".to_string()),
        "{:?}",
        line.a.notes
    );
    assert!(
        !line.a.notes.iter().any(|n| n.contains("250ms")),
        "{:?}",
        line.a.notes
    );
    assert!(
        !line.b.notes.iter().any(|n| n.starts_with("sends")),
        "{:?}",
        line.b.notes
    );
    let name = &l.nodes[b.0].name;
    assert_eq!(
        line.down.as_deref(),
        Some(format!("{name}:sat is taken down with vnet link").as_str())
    );
    assert!(mermaid::render(&p).contains("sends rate 20kbit (at runtime)"));
}

#[test]
fn every_bundled_topology_draws_well_formed_svg() {
    let dir = format!("{}/topologies", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let p = picture(&bundled(&name), None);
        let s = svg::render(&p);
        let elements = well_formed(&s).map_err(|e| format!("{name}: {e}")).unwrap();
        assert!(elements > p.boxes.len(), "{name}");
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        // Deterministic: the same lab is the same picture.
        assert_eq!(s, svg::render(&picture(&bundled(&name), None)), "{name}");
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn boxes_of_a_layer_never_overlap() {
    for file in ["vlan-office.yaml", "campus.yaml", "office-lan.yaml"] {
        let p = picture(&bundled(file), None);
        let sizes: Vec<(f64, f64)> = p.boxes.iter().map(|_| (100.0, 40.0)).collect();
        let (at, _, _) = layout::layout(&p, &sizes);
        for (i, a) in at.iter().enumerate() {
            for b in &at[i + 1..] {
                let apart = (a.x - b.x).abs() >= (a.w + b.w) / 2.0
                    || (a.y - b.y).abs() >= (a.h + b.h) / 2.0;
                assert!(apart, "{file}: {a:?} and {b:?} overlap");
            }
        }
    }
}

/// What each end of a link sends through its qdiscs is said at that end, in every format;
/// spanning-tree bridges say so with their priority.
#[test]
fn impairments_and_spanning_tree_are_labelled() {
    let p = picture(&bundled("latency-and-loss.yaml"), None);
    let sat = p
        .lines
        .iter()
        .find(|l| l.b.iface == "sat")
        .expect("the satellite link");
    assert!(
        sat.a
            .notes
            .iter()
            .any(|n| n.starts_with("sends delay 250ms"))
    );
    assert!(
        sat.b
            .notes
            .iter()
            .any(|n| n.starts_with("sends delay 250ms"))
    );
    let dot = dot::render(&p);
    assert!(dot.contains("\\nsends delay 5ms\""), "{dot}");
    let stp = picture(&bundled("failover-stp.yaml"), None);
    let core1 = stp.boxes.iter().find(|b| b.name == "core1").expect("core1");
    assert!(core1.lines.contains(&"STP, priority 0".to_string()));
}
