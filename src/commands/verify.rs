use std::path::Path;

use miette::miette;

use super::{Failure, Outcome, exit, load, require_root};
use crate::model::Lab;
use crate::state;
use crate::verify::{self, icmp::Timing, report};

pub fn verify(arg: &str, all_pairs: bool, json: bool) -> Outcome {
    let path = Path::new(arg);
    let lab = if path.is_file() {
        load(path)?.lab
    } else {
        match state::read_record(arg) {
            Ok(r) => r.lab,
            Err(_) => {
                return Err(Failure::system(miette!(
                    code = "vnet::not_running",
                    help = "start it with `vnet up FILE`; `vnet status` lists running labs",
                    "no running lab `{arg}` (and no such file)"
                )));
            }
        }
    };
    require_root()?;
    if !state::is_running(&lab.name) {
        return Err(Failure::system(miette!(
            code = "vnet::not_running",
            help = format!("start it with `vnet up {arg}`"),
            "lab `{}` is not running",
            lab.name
        )));
    }
    Ok(if run_and_print(&lab, all_pairs, json) {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// Probes and prints; `true` when every probe gave the expected answer.
pub fn run_and_print(lab: &Lab, all_pairs: bool, json: bool) -> bool {
    let timing = Timing::default();
    let mut ok = true;
    let mut out = serde_json::Map::new();
    if !lab.checks.is_empty() || !all_pairs {
        let v = verify::checks(lab, &timing);
        ok &= v.ok();
        if json {
            out.insert(
                "checks".into(),
                serde_json::to_value(&v).unwrap_or_default(),
            );
        } else if v.rows.is_empty() {
            crate::outln!("lab `{}` has no `expect:` checks", lab.name);
        } else {
            if v.rows.len() > 200 && v.ok() {
                crate::outln!("{}", report::summary(&v));
            } else if v.rows.len() > 200 {
                crate::outln!("{}", report::failures(&v));
            } else {
                crate::outln!("{}", report::table(&v));
            }
            crate::outln!("checks: {}", report::summary(&v));
        }
    }
    if all_pairs {
        let v = verify::all_pairs(lab, &timing);
        ok &= v.ok();
        if let Some(w) = verify::neighbour_pressure(&v, lab).filter(|_| !v.ok()) {
            crate::errln!("warning: {w}");
        }
        if json {
            out.insert(
                "all_pairs".into(),
                serde_json::to_value(&v).unwrap_or_default(),
            );
        } else {
            crate::outln!("{}", report::matrix(&v));
            if !v.ok() {
                crate::outln!("{}", report::failures(&v));
            }
            crate::outln!("all pairs: {}", report::summary(&v));
        }
    }
    if json {
        out.insert("ok".into(), ok.into());
        crate::outln!("{}", serde_json::Value::Object(out));
    }
    ok
}
