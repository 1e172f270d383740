//! End-to-end tests: real labs, built by the real `vnet` binary, as root.
//!
//! The harness first moves itself into a throwaway network + mount namespace with a tmpfs on
//! `/run` (so `/run/netns` and vnet's state are private): whatever a test builds or leaks
//! vanishes with the process, and the machine is never touched.

use libtest_mimic::{Arguments, Trial};

mod against_ping;
mod attack;
mod ci_examples;
mod core;
mod crash;
mod doctor;
mod drift;
mod explain;
mod faults;
mod harness;
mod hostile;
mod impair;
mod limits;
mod machine;
mod mess;
mod package;
mod pcap_files;
mod private;
mod reports;
mod see;
mod verdicts;
mod vlan;
mod vm;

fn main() {
    let args = Arguments::from_args();
    let root = nix::unistd::geteuid().is_root();
    if root && let Err(e) = harness::isolate() {
        eprintln!("cannot isolate the e2e tests in a private namespace: {e}");
        std::process::exit(4);
    }
    let mut trials = Vec::new();
    trials.extend(core::trials());
    trials.extend(crash::trials());
    trials.extend(doctor::trials());
    trials.extend(vlan::trials());
    trials.extend(machine::trials());
    trials.extend(faults::trials());
    trials.extend(mess::trials());
    trials.extend(hostile::trials());
    trials.extend(verdicts::trials());
    trials.extend(impair::trials());
    trials.extend(attack::trials());
    trials.extend(drift::trials());
    trials.extend(limits::trials());
    trials.extend(reports::trials());
    trials.extend(ci_examples::trials());
    trials.extend(package::trials());
    trials.extend(see::trials());
    trials.extend(explain::trials());
    trials.extend(against_ping::trials());
    trials.extend(vm::trials());
    let kernel_lane = std::env::var_os("VNET_KERNEL_LANE").is_some();
    // Not skipped there (that lane must skip nothing): not that lane's tests at all.
    trials.retain(|t| match t.host_lane_only.filter(|_| kernel_lane) {
        Some(why) => {
            println!("NOT IN THIS LANE {}: runs in the host lane ({why})", t.name);
            false
        }
        None => true,
    });
    let mut skipped = Vec::new();
    let trials: Vec<Trial> = trials
        .into_iter()
        .map(|t| {
            let reason = if root {
                t.missing()
            } else {
                Some("needs root (run the README's test command)".into())
            };
            if let Some(r) = &reason {
                skipped.push(format!("SKIPPED {}: {r}", t.name));
            }
            t.into_trial(reason.is_some())
        })
        .collect();
    for s in &skipped {
        println!("{s}");
    }
    if !skipped.is_empty() && std::env::var_os("VNET_KERNEL_LANE").is_some() {
        println!("the stock-kernel lane must not skip tests");
        std::process::exit(1);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for s in &skipped {
        println!("{s}");
    }
    conclusion.exit();
}
