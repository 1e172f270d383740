//! `vnet graph` on the bundled topologies, checked by the tools that read its formats where
//! the machine has them (xmllint for SVG, Graphviz's `dot` for DOT).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{repo, stderr, vnet};

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Feeds `input` to `program args` and says whether it accepted it, and what it said.
fn accepts(program: &str, args: &[&str], input: &[u8]) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn graph_of_every_bundled_topology_is_accepted_by_its_readers() {
    let mut n = 0;
    for e in std::fs::read_dir(repo("topologies")).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let file = p.to_str().unwrap();
        for format in ["mermaid", "dot", "svg"] {
            let o = vnet(&["graph", file, "--format", format]);
            assert_eq!(o.status.code(), Some(0), "{file} {format}: {}", stderr(&o));
            assert!(!o.stdout.is_empty());
            let reader = match format {
                "svg" if on_path("xmllint") => Some(("xmllint", vec!["--noout", "-"])),
                "dot" if on_path("dot") => Some(("dot", vec!["-Tsvg"])),
                _ => None,
            };
            if let Some((program, args)) = reader {
                let (ok, said) = accepts(program, &args, &o.stdout);
                assert!(ok, "{program} refuses the {format} of {file}: {said}");
            }
        }
        n += 1;
    }
    assert!(n >= 10);
}

#[test]
fn graph_writes_the_format_its_output_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let topo = repo("topologies/office-lan.yaml");
    for (name, start) in [
        ("lab.svg", "<svg "),
        ("lab.dot", "graph \"office\" {"),
        ("lab.md", "---\ntitle: office"),
    ] {
        let out = dir.path().join(name);
        let o = vnet(&["graph", topo.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.starts_with(start),
            "{name}: {}",
            &text[..text.len().min(80)]
        );
    }
}

#[test]
fn graph_of_no_such_lab_is_an_error_not_a_picture() {
    let o = vnet(&["graph", "no-such-lab"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no running lab `no-such-lab`"));
    let o = vnet(&["graph", "missing/file.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = vnet(&["graph", "Bad..Name"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
