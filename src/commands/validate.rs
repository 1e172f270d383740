use std::path::Path;

use super::{Outcome, exit, load};

pub fn validate(file: &Path) -> Outcome {
    let loaded = load(file)?;
    let lab = &loaded.lab;
    let running_elsewhere = crate::state::read_record(&super::name_of(lab)?)
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
    for w in super::missing_features(&loaded, file, false, true) {
        crate::errln!("{:?}", miette::Report::new(w));
    }
    for w in &loaded.machine_routes {
        crate::errln!("{:?}", miette::Report::new(w.clone().warning()));
    }
    crate::outln!(
        "{}: valid lab `{}`: {} nodes, {} links, {} checks",
        file.display(),
        lab.name,
        lab.nodes.len(),
        lab.links.len(),
        lab.checks.len()
    );
    if crate::plan::machine_nat(lab).is_some() {
        crate::outln!(
            "note: `nat:` on `host` changes the machine's own ruleset and forwarding: `vnet up` and `vnet test` need `--allow-machine-nat`"
        );
    }
    if !loaded.machine_routes.is_empty() {
        crate::outln!(
            "note: `routes:` on `host` take over the machine's default route: `vnet up` and `vnet test` need `--allow-machine-routes`"
        );
    }
    Ok(exit::OK)
}

pub fn plan(file: &Path, mode: crate::cli::VlanModeArg) -> Outcome {
    let loaded = load(file)?;
    {
        use std::io::Write as _;
        let _ = write!(
            std::io::stdout(),
            "{}",
            crate::plan::plan(
                &loaded.lab,
                if mode == crate::cli::VlanModeArg::Emulated {
                    crate::plan::VlanMode::Emulated
                } else {
                    crate::plan::VlanMode::Native
                }
            )
        );
    }
    Ok(exit::OK)
}
