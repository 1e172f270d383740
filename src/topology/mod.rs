//! ① Topology: YAML text → checked [`Lab`](crate::model::Lab), or every problem at once.

use std::path::Path;
use std::sync::Arc;

use miette::NamedSource;

pub(crate) mod addresses;
pub(crate) mod checks;
pub(crate) mod diag;
pub mod format;
pub(crate) mod input;
pub(crate) mod links;
pub(crate) mod mtu;
pub mod needs;
pub(crate) mod neighbour;
pub(crate) mod resolve;
pub(crate) mod routes;
pub(crate) mod schema;
pub(crate) mod segments;
pub(crate) mod tree;
pub(crate) mod validate;
pub(crate) mod vlan;
pub mod yaml;

pub use diag::{InvalidTopology, Problem};
pub(crate) use input::MAX_FILE_BYTES;

use crate::model::Lab;
use crate::model::name::lab_name_problem;

/// Why a file could not become a lab.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read at all.
    Read { file: String, error: std::io::Error },
    /// The YAML itself is broken; serde-saphyr's report points at the place.
    Syntax(miette::Report),
    /// Well-formed YAML that does not describe a valid lab.
    Invalid(InvalidTopology),
}

/// A valid lab and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub lab: Lab,
    pub warnings: Vec<Problem>,
    /// What the lab would change on the machine's routing (routes on `host`): `up` refuses
    /// these unless allowed, `validate` notes them.
    pub machine_routes: Vec<Problem>,
    pub source: Arc<str>,
}

pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let bytes = input::read(path).map_err(|error| LoadError::Read {
        file: file.clone(),
        error,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&file, &stem, &bytes)
}

/// Parses and validates topology text; `stem` names the lab when the file does not.
pub fn parse(file: &str, stem: &str, bytes: &[u8]) -> Result<Loaded, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(invalid(file, vec![input::too_large(file, bytes)]));
    }
    let lossy: Arc<str> = String::from_utf8_lossy(bytes).into();
    // Before anything else shows a line of the file, which these would make too long to show.
    let long = input::long_lines(file, &lossy);
    if !long.is_empty() {
        return Err(invalid(file, long));
    }
    let src = NamedSource::new(file, lossy.clone());
    let mut problems = diag::Problems::new(src);
    if let Err(e) = std::str::from_utf8(bytes) {
        let offset = e.valid_up_to();
        // The lossy text has U+FFFD (3 bytes) where the bad byte was.
        problems.error(
            "encoding",
            "the file is not valid UTF-8",
            (offset, 3),
            "this byte is not UTF-8",
            Some("save the file as UTF-8".into()),
        );
        return Err(invalid(file, problems.list));
    }
    let root = match yaml::parse(&lossy) {
        Ok(root) => root,
        Err(e) => {
            return Err(LoadError::Syntax(serde_saphyr::miette::to_miette_report(
                &e, &lossy, file,
            )));
        }
    };
    // A value too long would be echoed by the diagnostics about it: it stops here.
    if tree::check(&mut problems, &root, &lossy) == tree::Values::TooLong {
        return Err(invalid(file, problems.list));
    }
    let raw = schema::read(&mut problems, &root);
    let name = match &raw.name {
        Some(n) => n.v.clone(),
        None => {
            let stem = stem.to_ascii_lowercase().replace('_', "-");
            if let Some(why) = lab_name_problem(&stem) {
                problems.error(
                    "name",
                    format!("the file name `{stem}` cannot name the lab"),
                    (0, 0),
                    why,
                    Some("add `name: my-lab` at the top of the file".into()),
                );
            }
            stem
        }
    };
    let machine_routes = routes::machine_routes(&problems, &raw);
    let lab = validate::build(&mut problems, raw, name);
    if problems.has_errors() {
        return Err(invalid(file, problems.list));
    }
    Ok(Loaded {
        lab,
        warnings: problems.list,
        machine_routes,
        source: lossy,
    })
}

fn invalid(file: &str, mut list: Vec<Problem>) -> LoadError {
    // Errors first, each group in file order.
    list.sort_by_key(|p| {
        (
            p.warning,
            p.labels.first().map(|l| l.0.offset()).unwrap_or(0),
        )
    });
    LoadError::Invalid(InvalidTopology {
        file: file.to_owned(),
        problems: list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> String {
        match parse("lab.yaml", "lab", src.as_bytes()) {
            Err(LoadError::Invalid(i)) => i
                .problems
                .iter()
                .map(|p| diag::render_plain(p))
                .collect::<Vec<_>>()
                .join(""),
            Err(LoadError::Syntax(r)) => format!("{r:?}"),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn unknown_node_in_a_link() {
        insta::assert_snapshot!(problems(
            "nodes:\n  h1: {interfaces: {eth0: 10.0.0.1/24}}\nlinks:\n  - [h1:eth0, h2:eth0]\n"
        ));
    }

    #[test]
    fn every_problem_at_once() {
        insta::assert_snapshot!(problems(
            "name: lab\nnodes:\n  h1:\n    interfaces: {eth0: 10.0.0.1/24}\n    gateway: 10.1.0.1\n    colour: red\n  h2:\n    interfaces: {eth0: 10.0.0.1/24}\n  b1: {kind: bridge}\n  b2: {kind: bridge}\nlinks:\n  - [h1:eth0, b1:p1]\n  - [h2:eth0, b2:p1]\n  - [b1:p2, b2:p2]\n  - [b1:p3, b2:p3]\nexpect:\n  - {from: h1, to: h3}\n"
        ));
    }

    #[test]
    fn names_that_could_escape_or_overflow() {
        insta::assert_snapshot!(problems(
            "nodes:\n  ../x: {}\n  h1: {interfaces: {a-name-longer-than-15: 10.0.0.1/24}}\n"
        ));
    }

    #[test]
    fn non_utf8_is_reported_not_panicked() {
        let err = parse("lab.yaml", "lab", b"nodes:\n  h\xff1: {}\n").unwrap_err();
        let LoadError::Invalid(i) = err else {
            panic!("invalid")
        };
        assert_eq!(i.problems[0].message, "the file is not valid UTF-8");
        assert_eq!(i.problems[0].labels[0].0.offset(), 10);
    }

    #[test]
    fn lab_name_defaults_to_the_file_stem() {
        let l = parse("Office_LAN.yaml", "Office_LAN", b"nodes:\n  h1: {}\n").unwrap();
        assert_eq!(l.lab.name, "office-lan");
    }

    #[test]
    fn plan_of_the_office_lab() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topologies/office-lan.yaml"
        ))
        .unwrap();
        let loaded = parse("office-lan.yaml", "office-lan", &text).unwrap();
        insta::assert_snapshot!(
            crate::plan::plan(&loaded.lab, crate::plan::VlanMode::Native).to_string()
        );
    }

    fn stick() -> crate::model::Lab {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topologies/router-on-a-stick.yaml"
        ))
        .unwrap();
        parse("router-on-a-stick.yaml", "stick", &text).unwrap().lab
    }

    #[test]
    fn plan_of_a_switch_native() {
        insta::assert_snapshot!(
            crate::plan::plan(&stick(), crate::plan::VlanMode::Native).to_string()
        );
    }

    #[test]
    fn plan_of_a_switch_emulated() {
        insta::assert_snapshot!(
            crate::plan::plan(&stick(), crate::plan::VlanMode::Emulated).to_string()
        );
    }

    #[test]
    fn vlan_mistakes() {
        insta::assert_snapshot!(problems(
            "nodes:\n  h1: {interfaces: {eth0.10: 10.0.10.2/24}}\n  h2: {interfaces: {eth0: 10.0.30.2/24}}\n  sw:\n    kind: switch\n    ports:\n      p1: {vlan: 20}\n      p2: {vlan: 4095}\n      t1: {trunk: [30]}\n    svi: {40: 10.0.40.1/24}\n  sw2: {kind: switch, ports: {t2: {trunk: [50]}}}\n  br: {kind: bridge, ports: {x: {allow: []}}}\nlinks:\n  - [h1:eth0, sw:p1]\n  - [sw:t1, sw2:t2]\n  - [h2:eth0, sw:p2]\n"
        ));
    }

    /// `10 mbit` is `10mbit` wherever a rate, time or percentage is written: a link's and a
    /// stage's `impair:`, and the bounds of a check.
    #[test]
    fn a_unit_apart_from_its_number_reads_alike_everywhere() {
        let lab = parse(
            "lab.yaml",
            "lab",
            b"nodes:\n  a: {interfaces: {eth0: 10.0.0.1/24}}\n  b: {interfaces: {eth0: 10.0.0.2/24}}\nlinks:\n  - {endpoints: [a:eth0, b:eth0], impair: {delay: 10 ms, jitter: 5 ms 25 %, loss: 1 % 25 %, rate: 10 mbit}}\nexpect:\n  - {from: a, to: b, proto: tcp, rate: '>= 9 mbit'}\n  - {from: a, to: b, rtt: '< 60 ms', loss: '< 5 %'}\nstages:\n  - name: s\n    do: [{impair: {on: a:eth0, delay: 1 ms, jitter: 1 ms, rate: 10 mbit}}]\n",
        )
        .unwrap()
        .lab;
        let link = lab.links[0].impair.as_ref().unwrap().a.clone().unwrap();
        assert_eq!(link.rate_bps, Some(10_000_000));
        assert_eq!(link.delay_ns, Some(10_000_000));
        assert_eq!(
            link.jitter.map(|j| (j.ns, j.correlation_ppb)),
            Some((5_000_000, 250_000_000))
        );
        assert_eq!(
            link.loss.map(|c| (c.ppb, c.correlation_ppb)),
            Some((10_000_000, 250_000_000))
        );
        let bound = lab.checks[0].measure.as_ref().and_then(|m| m.rate_bps);
        assert_eq!(bound.map(|b| b.value), Some(9_000_000));
        let m = lab.checks[1].measure.as_ref().unwrap();
        assert_eq!(m.rtt_us.map(|b| b.value), Some(60_000));
        assert_eq!(m.loss_ppb.map(|b| b.value), Some(50_000_000));
        let crate::model::Action::Impair {
            impair: Some(i), ..
        } = &lab.stages[0].actions[0]
        else {
            panic!("an impair action");
        };
        assert_eq!(i.rate_bps, Some(10_000_000));
    }

    /// A direction's `distribution:` shapes the link's jitter, and the link's an end's own:
    /// what each direction ends up with is judged, not each part alone.
    #[test]
    fn a_distribution_shapes_the_jitter_its_direction_ends_up_with() {
        use crate::model::impair::Distribution::{Normal, Uniform};
        let lab = parse(
            "lab.yaml",
            "lab",
            b"nodes:\n  a: {interfaces: {eth0: 10.0.0.1/24}}\n  b: {interfaces: {eth0: 10.0.0.2/24}}\n  c: {interfaces: {eth0: 10.0.1.1/24}}\n  d: {interfaces: {eth0: 10.0.1.2/24}}\nlinks:\n  - {endpoints: [a:eth0, b:eth0], impair: {delay: 10ms, jitter: 5ms, a: {distribution: normal}}}\n  - {endpoints: [c:eth0, d:eth0], impair: {delay: 10ms, distribution: normal, c: {jitter: 5ms}}}\n",
        )
        .unwrap()
        .lab;
        let dist = |l: usize, end: usize| {
            let i = lab.links[l].impair.as_ref().unwrap();
            let i = if end == 0 { &i.a } else { &i.b };
            i.as_ref().and_then(|i| i.jitter).map(|j| j.distribution)
        };
        assert_eq!((dist(0, 0), dist(0, 1)), (Some(Normal), Some(Uniform)));
        assert_eq!((dist(1, 0), dist(1, 1)), (Some(Normal), None));
    }

    /// A neighbour check takes `within:` like any other: the cache is read again until it
    /// holds (a stage's ARP spoofing may take a moment to land).
    #[test]
    fn a_neighbour_check_waits_within() {
        let lab = parse(
            "lab.yaml",
            "lab",
            b"nodes:\n  a: {interfaces: {eth0: 10.0.0.1/24}}\n  b: {interfaces: {eth0: 10.0.0.2/24}}\nlinks: [[a:eth0, b:eth0]]\nexpect:\n  - {on: a, neighbour: 10.0.0.2, is: b, within: 5s}\n",
        )
        .unwrap()
        .lab;
        assert_eq!(lab.checks[0].neighbour_is, Some(1));
        assert_eq!(lab.checks[0].within_ms, Some(5000));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            doc.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        doc.push_str("nodes: *a11\n");
        let start = std::time::Instant::now();
        assert!(parse("lab.yaml", "lab", doc.as_bytes()).is_err());
        // Unguarded, the 10^12 expansion would run for hours; the bound only tells a refusal
        // from that, so it is generous (a debug build on a loaded 2-core machine took 7 s).
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
    }
}
