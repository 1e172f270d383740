//! A lab of far more namespaces than vnet may open files: vnet must not need a descriptor per
//! namespace, in any command.
//!
//! Each vnet runs with its soft and hard RLIMIT_NOFILE both set low, so that vnet's own
//! raising of the soft limit to the hard one cannot hide a descriptor kept per namespace.

use std::os::unix::process::CommandExt;
use std::process::Output;
use std::time::Instant;

use crate::harness::{Lab, Test, assert_clean, check, text, topology, vnet};

/// Open files allowed, soft and hard: far fewer than the lab has namespaces.
const LIMIT: libc::rlim_t = 256;
const HOSTS: usize = 1200;

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "limits::a_lab_of_1200_hosts_under_256_open_files_up_verify_status_down",
            lab_under_the_limit,
        )
        // vnet's own descriptors, not the kernel's features; 3.5 minutes under qemu.
        .host_lane_only_because("vnet's open-file limit, not the kernel"),
    ]
}

/// Runs vnet with at most [`LIMIT`] open files, and demands an exit code.
fn limited(args: &[&str], code: i32) -> Result<Output, String> {
    let mut cmd = vnet(args);
    // SAFETY: setrlimit is async-signal-safe; it runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    check(out.status.code() == Some(code), || {
        format!(
            "`vnet {}` with {LIMIT} open files should exit {code}:\n{}",
            args.join(" "),
            text(&out)
        )
    })?;
    Ok(out)
}

fn lab_under_the_limit() -> Result<(), String> {
    let name = "e2e-limits";
    let generated = crate::harness::run(&["gen", "single", &HOSTS.to_string(), "--name", name]);
    check(generated.status.success(), || text(&generated))?;
    let (_d, file) = topology(&String::from_utf8_lossy(&generated.stdout));
    let f = file.to_str().unwrap_or_default();
    let _lab = Lab(name.into());
    let started = Instant::now();

    let up = limited(&["up", f, "--progress", "never"], 0)?;
    check(
        String::from_utf8_lossy(&up.stdout).contains(&format!("lab `{name}` is up")),
        || text(&up),
    )?;
    let prefix = format!("{name}.");
    let namespaces = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .count()
        })
        .unwrap_or(0);
    // The hosts and their bridges: leaf bridges under a root bridge past 1000 ports.
    check(namespaces > HOSTS, || {
        format!("{namespaces} namespaces of {name} after up, more than {HOSTS} wanted")
    })?;

    let verify = limited(&["verify", name, "--progress", "never"], 0)?;
    check(
        String::from_utf8_lossy(&verify.stdout).contains("all passed"),
        || text(&verify),
    )?;
    let status = limited(&["status", name, "--json", "--all"], 0)?;
    check(
        String::from_utf8_lossy(&status.stdout).contains(&format!("h{HOSTS}")),
        || text(&status),
    )?;
    let labs = limited(&["status"], 0)?;
    check(String::from_utf8_lossy(&labs.stdout).contains(name), || {
        text(&labs)
    })?;
    limited(&["down", name, "--progress", "never"], 0)?;
    assert_clean(name)?;
    eprintln!(
        "limits: {HOSTS} hosts up, verified, listed and down under {LIMIT} open files in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
