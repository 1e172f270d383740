//! The code is the pipeline (README "How it works"): a stage uses only stages before it, and
//! no modules import each other in a circle. Read from the source, outside `#[cfg(test)]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages, in order; a module may use those of a lower rank, and its own.
const RANKS: &[(&str, u32)] = &[
    ("terminal", 0),
    ("model", 0),
    ("topology", 1),
    ("plan", 2),
    ("generate", 2),
    ("journal", 3),
    ("state", 4),
    ("apply", 5),
    ("verify", 6),
    ("teardown", 6),
    ("export", 7),
    ("report", 7),
    ("cli", 8),
    ("commands", 9),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The file's code without its test module (everything from `#[cfg(test)]` on).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// `crate::NAME` paths in the code (in `use` lines or inline), and names inside
/// `use crate::{a, b}` groups.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

/// The top-level module a file belongs to.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// Files that hold only test code: `#[cfg(test)] mod NAME;` in their parent.
fn test_only(all: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for f in all {
        let text = std::fs::read_to_string(f).unwrap();
        let dir = if f
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs")
        {
            f.parent().unwrap().to_path_buf()
        } else {
            f.with_extension("")
        };
        for (i, _) in text.match_indices("#[cfg(test)]\n") {
            let next = text[i..].lines().nth(1).unwrap_or_default().trim();
            if let Some(name) = next
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|n| n.strip_suffix(';'))
            {
                out.insert(dir.join(format!("{name}.rs")));
            }
        }
    }
    out
}

#[test]
fn a_stage_uses_only_the_stages_before_it() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let tests = test_only(&all);
    all.retain(|f| !tests.contains(f));
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &all {
        let module = module_of(f);
        let Some(own) = rank(&module) else { continue };
        for used in crate_refs(&code(f)) {
            let Some(theirs) = rank(&used) else { continue };
            if used == module {
                continue;
            }
            edges
                .entry(module.clone())
                .or_default()
                .insert(used.clone());
            if theirs >= own {
                wrong.push(format!(
                    "{} uses {used} (rank {theirs} >= {own})",
                    f.strip_prefix(src()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "stages used out of order:\n{}",
        wrong.join("\n")
    );
    assert!(cycle(&edges).is_none(), "import cycle: {:?}", cycle(&edges));
}

/// The submodules of `topology` do not import each other in a circle either.
#[test]
fn topology_has_no_import_cycle() {
    let dir = src().join("topology");
    let mut all = Vec::new();
    files(&dir, &mut all);
    let sub = |p: &Path| -> String {
        let rel = p.strip_prefix(&dir).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_owned()
    };
    let names: BTreeSet<String> = all.iter().map(|p| sub(p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &all {
        let me = sub(f);
        if me == "mod" {
            continue;
        }
        let text = code(f);
        for name in &names {
            if *name == me || name == "mod" {
                continue;
            }
            let used = [
                format!("super::{name}::"),
                format!("super::{name}}}"),
                format!("crate::topology::{name}::"),
                format!("topology::{name}::"),
            ]
            .iter()
            .any(|p| text.contains(p.as_str()))
                || text.contains(&format!("super::{{{name}"))
                || text.contains(&format!(", {name}}}"));
            // `schema/*` files reach their own siblings through `super::` too: only count
            // references from files directly in topology/ to modules there.
            let nested = f.parent() != Some(dir.as_path());
            if used && !nested {
                edges.entry(me.clone()).or_default().insert(name.clone());
            }
        }
    }
    assert!(
        cycle(&edges).is_none(),
        "import cycle in topology: {:?}",
        cycle(&edges)
    );
}

/// A cycle in the graph, as the modules along it, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}
