//! Fault injection at every step: `up` killed with SIGKILL after each single step of a
//! 20-node lab that uses every kind of object vnet makes, then `down`; and `down` killed after
//! each undo step, then `down` again. Each time, nothing may be left.

use std::os::unix::process::ExitStatusExt;

use crate::harness::{Test, assert_clean, check, expect_code, text, topology, vnet};
use crate::machine::machine_interfaces;

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "faults::sigkill_after_every_step_of_up_then_down_leaves_nothing",
            every_step_of_up,
        ),
        Test::new(
            "faults::sigkill_during_down_then_down_again_leaves_nothing",
            every_step_of_down,
        ),
    ]
}

/// The crash lab (12 nodes, every object kind) grown to 20 nodes, with a process of its own.
fn lab(name: &str, iface: &str, sleep: &str) -> String {
    let mut yaml = crate::crash::LAB
        .replace("NAME", name)
        .replace("IFACE", iface)
        .replace("sleep 300 &", &format!("sleep {sleep} &"));
    let mut extra_nodes = String::new();
    let mut extra_links = String::new();
    for i in 0..8 {
        extra_nodes.push_str(&format!(
            "  x{i}: {{interfaces: {{eth0: 10.0.9.{}/24}}}}\n",
            i + 1
        ));
        extra_links.push_str(&format!("  - [x{i}:eth0, br2:q{i}]\n"));
    }
    yaml = yaml.replace("links:\n", &format!("{extra_nodes}links:\n"));
    yaml.push_str(&extra_links);
    yaml
}

/// Processes started by the lab: found by their unique command line.
fn lab_processes(sleep: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .map(|c| c == format!("sleep\0{sleep}\0").as_bytes())
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

/// Nothing of the lab anywhere: namespaces, state, mounts, the machine's link, its process.
fn nothing_left(name: &str, iface: &str, sleep: &str) -> Result<(), String> {
    assert_clean(name)?;
    check(!machine_interfaces().contains(&iface.to_owned()), || {
        format!("{iface} left on the machine")
    })?;
    // A killed process may take a moment to be reaped.
    for _ in 0..100 {
        if lab_processes(sleep) == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(format!("the lab's `sleep {sleep}` survived down"))
}

fn every_step_of_up() -> Result<(), String> {
    let (name, iface, sleep) = ("e2e-steps", "vksteps", "301");
    let (_d, file) = topology(&lab(name, iface, sleep));
    let f = file.to_str().unwrap_or_default();
    for n in 0.. {
        let out = vnet(&[
            "up",
            f,
            "--allow-machine-nat",
            "--allow-machine-routes",
            "--progress",
            "never",
        ])
        .env("VNET_KILL_AFTER_STEPS", n.to_string())
        .output()
        .map_err(|e| e.to_string())?;
        if out.status.success() {
            // Past the last step: the lab came up whole.
            check(n > 100, || {
                format!("only {n} kill points: the lab is too small to prove much")
            })?;
            expect_code(&["down", name], 0)?;
            return nothing_left(name, iface, sleep);
        }
        check(out.status.signal() == Some(libc::SIGKILL), || {
            format!("kill point {n}: {}", text(&out))
        })?;
        expect_code(&["down", name], 0).map_err(|e| format!("kill point {n}: {e}"))?;
        nothing_left(name, iface, sleep).map_err(|e| format!("kill point {n}: {e}"))?;
    }
    Ok(())
}

fn every_step_of_down() -> Result<(), String> {
    let (name, iface, sleep) = ("e2e-undo", "vkundo", "302");
    let (_d, file) = topology(&lab(name, iface, sleep));
    let f = file.to_str().unwrap_or_default();
    for n in 0.. {
        expect_code(
            &[
                "up",
                f,
                "--allow-machine-nat",
                "--allow-machine-routes",
                "--progress",
                "never",
            ],
            0,
        )?;
        let out = vnet(&["down", name])
            .env("VNET_KILL_AFTER_UNDO", n.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            check(n > 10, || format!("only {n} undo steps"))?;
            return nothing_left(name, iface, sleep);
        }
        check(out.status.signal() == Some(libc::SIGKILL), || {
            format!("undo kill point {n}: {}", text(&out))
        })?;
        expect_code(&["down", name], 0).map_err(|e| format!("undo kill point {n}: {e}"))?;
        nothing_left(name, iface, sleep).map_err(|e| format!("undo kill point {n}: {e}"))?;
    }
    Ok(())
}
