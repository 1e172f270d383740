use std::path::Path;

use super::{Error, Outcome, exit, load};
use crate::report::located::{Located, located};

pub(super) fn validate(file: &Path, json: bool) -> Outcome {
    let checked = checked(file);
    if json {
        crate::jsonln!(document(file, &checked));
    }
    let (lab, _, warnings, notes) = checked?;
    for w in warnings {
        crate::errln!("{:?}", miette::Report::new(w));
    }
    crate::outln!(
        "{}: valid lab `{}`: {} nodes, {} links, {} checks",
        file.display(),
        lab.name,
        lab.nodes.len(),
        lab.links.len(),
        lab.checks.len()
    );
    for n in notes {
        crate::outln!("note: {n}");
    }
    Ok(exit::OK)
}

/// A valid lab, the warnings `load` printed, those about what this machine would make of it
/// (the kernel's gaps, routes that take over the machine's), and notes on what `up` needs.
type Checked = (
    crate::model::Lab,
    Vec<crate::topology::Problem>,
    Vec<crate::topology::Problem>,
    Vec<&'static str>,
);

fn checked(file: &Path) -> Result<Checked, Error> {
    let loaded = load(file)?;
    let lab = loaded.lab.clone();
    let running_elsewhere = crate::state::read_record(&super::name_of(&lab)?)
        .ok()
        .filter(|r| {
            Path::new(&r.file) != file
                && std::fs::canonicalize(&r.file).ok() != std::fs::canonicalize(file).ok()
        });
    if let Some(r) = running_elsewhere {
        return Err(super::Error::NameTaken {
            lab: lab.name.clone(),
            file: r.file,
        });
    }
    let mut warnings = super::missing_features(&loaded, file, false, true);
    warnings.extend(loaded.machine_routes.iter().map(|w| w.clone().warning()));
    // The machine's addresses need no root to read; a machine that cannot say has nothing
    // to warn about here (`up` reads them again, and refuses if it cannot).
    let subnets = super::machine_subnets::clashes(&loaded, file).unwrap_or_default();
    let clashes = !subnets.is_empty();
    warnings.extend(subnets.into_iter().map(|w| w.warning()));
    let mut notes = Vec::new();
    if crate::plan::machine_nat(&lab).is_some() {
        notes.push(
            "`nat:` on `host` changes the machine's own ruleset and forwarding: `vnet up` and `vnet test` need `--allow-machine-nat`",
        );
    }
    if !loaded.machine_routes.is_empty() {
        notes.push(
            "`routes:` on `host` take over the machine's default route: `vnet up` and `vnet test` need `--allow-machine-routes`",
        );
    }
    if clashes {
        notes.push(
            "`host:` takes a subnet this machine is already on: `vnet up` and `vnet test` need `--allow-machine-routes`",
        );
    }
    Ok((lab, loaded.warnings, warnings, notes))
}

/// `validate --json`: the verdict, and every problem at its file, line and column.
fn document(file: &Path, checked: &Result<Checked, Error>) -> serde_json::Value {
    let (valid, lab, problems, notes): (bool, Option<&crate::model::Lab>, Vec<Located>, &[&str]) =
        match checked {
            Ok((lab, read, warnings, notes)) => (
                true,
                Some(lab),
                read.iter()
                    .chain(warnings)
                    .flat_map(|w| located(w))
                    .collect(),
                notes,
            ),
            Err(e) => (false, None, super::ci::problems_of(e), &[]),
        };
    let code = match checked {
        Ok(_) => exit::OK,
        Err(e) => e.exit_code(),
    };
    serde_json::json!({
        "version": super::verify::JSON_VERSION,
        "file": file.display().to_string(),
        "valid": valid,
        "lab": lab.map(|l| l.name.clone()),
        "nodes": lab.map(|l| l.nodes.len()),
        "links": lab.map(|l| l.links.len()),
        "checks": lab.map(|l| l.checks.len()),
        "problems": problems,
        "notes": notes,
        "ok": valid,
        "exit": code,
    })
}

pub(super) fn plan(file: &Path, mode: crate::cli::VlanModeArg, json: bool) -> Outcome {
    let loaded = load(file)?;
    let vlan_mode = if mode == crate::cli::VlanModeArg::Emulated {
        crate::plan::VlanMode::Emulated
    } else {
        crate::plan::VlanMode::Native
    };
    let plan = crate::plan::plan(&loaded.lab, vlan_mode);
    if json {
        let stages: Vec<serde_json::Value> = plan
            .stages
            .iter()
            .map(|stage| {
                let steps: Vec<serde_json::Value> = stage
                    .steps
                    .iter()
                    .map(|step| {
                        // The step as the journal records it, and as `ip` would say it.
                        let mut v = serde_json::to_value(step).unwrap_or_default();
                        if let serde_json::Value::Object(m) = &mut v {
                            m.insert("command".into(), step.to_string().into());
                        }
                        v
                    })
                    .collect();
                serde_json::json!({"name": stage.name, "steps": steps})
            })
            .collect();
        crate::jsonln!(serde_json::json!({
            "version": super::verify::JSON_VERSION,
            "lab": loaded.lab.name,
            "file": file.display().to_string(),
            "vlan_mode": crate::plan::uses_vlans(&loaded.lab).then(|| vlan_mode.as_str()),
            "steps": plan.len(),
            "stages": stages,
            "ok": true,
            "exit": exit::OK,
        }));
    } else {
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), "{plan}");
    }
    Ok(exit::OK)
}
