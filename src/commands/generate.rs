//! `vnet gen` and `vnet export`: topologies and scripts printed to stdout.

use std::path::Path;

use super::{Error, Outcome, exit, load};
use crate::cli::{ExpectArg, GenOpts, GenShape, VlanModeArg};
use crate::export::{self, Form};
use crate::generate::{self as gen_lab, Expect, Options, Shape};

pub(super) fn generate(shape: &GenShape, json: bool) -> Outcome {
    let name = match shape {
        GenShape::Single { .. } => "single",
        GenShape::Linear { .. } => "linear",
        GenShape::Tree { .. } => "tree",
    };
    let (shape, opts) = match shape {
        GenShape::Single { hosts, opts } => (Shape::Single { hosts: *hosts }, opts),
        GenShape::Linear { switches, opts } => (
            Shape::Linear {
                switches: *switches,
            },
            opts,
        ),
        GenShape::Tree {
            depth,
            fanout,
            opts,
        } => (
            Shape::Tree {
                depth: *depth,
                fanout: *fanout,
            },
            opts,
        ),
    };
    let text = gen_lab::generate(shape, &options(opts)?).map_err(|e| usage(e.to_string()))?;
    if json {
        crate::jsonln!(document(name, &text));
    } else {
        print(&text);
    }
    Ok(exit::OK)
}

/// `gen --json`: the topology as data (what vnet reads from the YAML; it validates against
/// `vnet schema`, and vnet reads it back as a topology, JSON being YAML), with the YAML text.
fn document(shape: &str, yaml: &str) -> serde_json::Value {
    let topology = crate::topology::yaml::parse(yaml)
        .map(|root| root.to_json())
        .unwrap_or_default();
    let count = |key: &str| match &topology[key] {
        serde_json::Value::Object(m) => m.len(),
        serde_json::Value::Array(a) => a.len(),
        _ => 0,
    };
    serde_json::json!({
        "version": super::verify::JSON_VERSION,
        "lab": topology["name"],
        "shape": shape,
        "nodes": count("nodes"),
        "links": count("links"),
        "checks": count("expect"),
        "topology": topology,
        "yaml": yaml,
        "ok": true,
        "exit": exit::OK,
    })
}

fn options(o: &GenOpts) -> Result<Options, Error> {
    if let Some(why) = o
        .name
        .as_deref()
        .and_then(crate::model::name::lab_name_problem)
    {
        return Err(usage(format!("--name: {why}")));
    }
    Ok(Options {
        name: o.name.clone(),
        max_ports: o.max_ports,
        expect: match o.expect {
            ExpectArg::Auto => Expect::Auto,
            ExpectArg::All => Expect::All,
            ExpectArg::Sample => Expect::Sample,
            ExpectArg::None => Expect::None,
        },
    })
}

fn usage(message: String) -> Error {
    Error::Usage(message)
}

pub(super) fn export(file: &Path, batch: bool, down: bool, vlan: VlanModeArg) -> Outcome {
    let lab = load(file)?.lab;
    let mode = if vlan == VlanModeArg::Emulated {
        crate::plan::VlanMode::Emulated
    } else {
        crate::plan::VlanMode::Native
    };
    let plan = crate::plan::plan(&lab, mode);
    let form = if batch { Form::Batch } else { Form::Plain };
    let text = if down {
        export::down(&plan, &lab.name, form)
    } else {
        export::up(&plan, &lab.name, form)
    };
    print(&text);
    Ok(exit::OK)
}

/// Writes all of it, ignoring a closed stdout (`vnet gen single 5000 | head`).
fn print(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
