//! Crash safety: SIGKILL and Ctrl-C in the middle of `up`, then `down` leaves nothing.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::harness::{Test, assert_clean, check, expect_code, topologies, vnet};

/// The stages of `plan`, in order; each is a kill point.
const STAGES: &[&str] = &[
    "namespaces",
    "settings",
    "bridges",
    "links",
    "ports",
    "devices",
    "interfaces",
    "firewall",
    "routes",
    "exec",
];

pub(crate) fn trials() -> Vec<Test> {
    let mut t = Vec::new();
    for stage in STAGES {
        let test = Test::new(
            &format!("crash::sigkill_after_{stage}_then_down_leaves_nothing"),
            move || interrupted(stage, nix::sys::signal::SIGKILL),
        );
        t.push(test);
    }
    t.push(Test::new("crash::ctrl_c_during_up_rolls_back", || {
        interrupted("links", nix::sys::signal::SIGINT)
    }));
    t
}

/// Every kind of object `up` makes: namespaces, bridges, a switch with access, trunk and
/// port security, 802.1Q sub-interfaces, a macvlan, a VXLAN tunnel, a TAP device, routes,
/// nftables (NAT on a router and on the machine, port security) and a process started by
/// `exec:`. `up` needs `--allow-machine-nat` for it.
pub(crate) const LAB: &str = "
name: NAME
nodes:
  host: {interfaces: {IFACE: 10.0.0.9/24}, nat: {masquerade: [IFACE]}}
  h1: {interfaces: {eth0: 10.0.0.1/24}, gateway: 10.0.0.254, exec: ['sleep 300 &']}
  h2: {interfaces: {eth0: 10.0.0.2/24}}
  m1: {interfaces: {eth0: 10.0.0.3/24}}
  r1:
    kind: router
    interfaces: {lan: 10.0.0.254/24, wan.10: 10.0.1.1/24, wan.20: 10.0.2.1/24}
    nat: {masquerade: [lan]}
  h3: {interfaces: {eth0: 10.0.1.2/24}, gateway: 10.0.1.1}
  h4: {interfaces: {eth0: 10.0.2.2/24}, gateway: 10.0.2.1}
  br: {kind: bridge}
  sw:
    kind: switch
    ports:
      t1: {trunk: [10, 20]}
      a1: {vlan: 10, allow: [{mac: '02:00:00:00:00:03', ip: 10.0.1.2}]}
      a2: {vlan: 20}
  br2: {kind: bridge}
links:
  - [host:IFACE, br:p9]
  - {macvlan: m1:eth0, parent: h2:eth0}
  - {tap: br:vm1}
  - {type: vxlan, vni: 7, endpoints: [br:vx, br2:vx], underlay: [h1, h2]}
  - [h1:eth0, br:p1]
  - [h2:eth0, br:p2]
  - [r1:lan, br:p3]
  - [r1:wan, sw:t1]
  - [h3:eth0, sw:a1]
  - [h4:eth0, sw:a2]
";

fn interrupted(stage: &str, signal: nix::sys::signal::Signal) -> Result<(), String> {
    let name = format!("e2e-kill-{}", &stage[..4.min(stage.len())]);
    let name = if signal == nix::sys::signal::SIGINT {
        "e2e-ctrlc".to_owned()
    } else {
        name
    };
    // The machine's end of a link needs a name no test running beside this one uses.
    let iface = format!("vk{}", &stage[..4.min(stage.len())]);
    let iface = if signal == nix::sys::signal::SIGINT {
        "vkctrlc".to_owned()
    } else {
        iface
    };
    let (_d, file) = crate::harness::topology(&LAB.replace("NAME", &name).replace("IFACE", &iface));
    let _ = topologies();
    let mut child = vnet(&[
        "up",
        file.to_str().unwrap_or_default(),
        "--allow-machine-nat",
        // Other crash and fault labs, running beside this one, put 10.0.0.9/24 on the machine.
        "--allow-machine-routes",
        "--progress",
        "never",
    ])
    .env("VNET_PAUSE_AFTER", stage)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut paused = false;
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        seen.push(line.clone());
        if line.contains(&format!("paused after {stage}")) {
            paused = true;
            break;
        }
    }
    // Keep reading, so vnet's last words (the rollback report) have somewhere to go.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    check(paused, || {
        format!("up never reached {stage}:\n{}", seen.join("\n"))
    })?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, signal).map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if signal == nix::sys::signal::SIGINT {
        // Ctrl-C: up rolls back by itself and says so.
        let said = rest.join().unwrap_or_default().join("\n");
        check(
            status.code() == Some(4) && said.contains("removed again"),
            || format!("up after Ctrl-C exited {status:?}:\n{said}"),
        )?;
        check(
            !crate::machine::machine_interfaces().contains(&iface),
            || format!("{iface} left on the machine"),
        )?;
        return assert_clean(&name);
    }
    // Something must be there to clean (otherwise the test proves nothing).
    check(!crate::harness::leftovers(&name).is_empty(), || {
        "nothing was built before the kill".into()
    })?;
    expect_code(&["down", &name], 0)?;
    check(
        !crate::machine::machine_interfaces().contains(&iface),
        || format!("{iface} left on the machine"),
    )?;
    assert_clean(&name)
}
