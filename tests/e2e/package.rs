//! The Debian package (README "Packaging"): `cargo deb` packs the binary, its man pages and
//! completions; unpacked into a directory of its own (never installed on the machine), its
//! binary runs a bundled lab.

use std::process::Command;

use crate::harness::{Feature, Test, assert_clean, check, topologies, vnet_bin};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new("package::the_debian_package_unpacks_and_tests_a_lab", deb)
            .needs(Feature::Program(
                "cargo-deb",
                "`cargo install cargo-deb --locked`",
            ))
            .needs(Feature::Program("dpkg-deb", "Debian package dpkg"))
            .needs(Feature::Program("strip", "Debian package binutils"))
            .host_lane_only(),
    ]
}

fn run(c: &mut Command) -> Result<String, String> {
    let o = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    check(o.status.success(), || {
        format!(
            "{c:?} exited {:?}\n{}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn deb() -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Packed from the binary this suite tests, put where `cargo deb` expects a release build
    // (a target directory of the test's own: no build, and the project's is left alone).
    let target = work.path().join("target");
    std::fs::create_dir_all(target.join("release")).map_err(|e| e.to_string())?;
    // Stripped first, as a release build's would be: compressing the debug build's 100+ MB
    // took cargo-deb minutes.
    run(Command::new("strip")
        .arg("-o")
        .arg(target.join("release/vnet"))
        .arg(vnet_bin()))?;
    let deb = work.path().join("vnet.deb");
    run(Command::new("cargo")
        .args(["deb", "--no-build", "--no-strip", "--fast", "--output"])
        .arg(&deb)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_NET_OFFLINE", "true"))?;
    let recommends = run(Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Recommends"))?;
    check(recommends.trim() == "nftables, iproute2", || {
        recommends.clone()
    })?;
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb))?;
    for want in [
        "./usr/bin/vnet",
        "./usr/share/man/man1/vnet.1",
        "./usr/share/man/man1/vnet-test.1",
        "./usr/share/bash-completion/completions/vnet",
        "./usr/share/zsh/vendor-completions/_vnet",
        "./usr/share/fish/vendor_completions.d/vnet.fish",
    ] {
        check(contents.contains(want), || {
            format!("{want} is not in the package:\n{contents}")
        })?;
    }
    let root = work.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    let packaged = root.join("usr/bin/vnet");
    let lab = topologies().join("bridge-joins-nics.yaml");
    let out = run(Command::new(&packaged)
        .arg("test")
        .arg(&lab)
        .args(["--progress", "never"]))?;
    check(out.contains("all passed"), || out.clone())?;
    let version = run(Command::new(&packaged).arg("--version"))?;
    check(version.starts_with("vnet "), || version.clone())?;
    // cargo-deb compresses man pages, as Debian's policy wants.
    let man = root.join("usr/share/man/man1");
    check(
        man.join("vnet-up.1.gz").is_file() || man.join("vnet-up.1").is_file(),
        || format!("no vnet-up.1 in {}:\n{contents}", man.display()),
    )?;
    assert_clean("bridge-nics")
}
