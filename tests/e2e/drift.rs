//! `vnet status LAB` compares the live kernel with what vnet built: each kind of difference
//! is found and said, `vnet link`'s own changes are not drift, and the exit code says which.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, text, topology};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "drift::status_names_each_difference_from_what_was_built",
            status_drift,
        ),
        Test::new(
            "drift::a_switch_port_out_of_its_vlan_is_named_by_status_explain_and_verify",
            switch_vlans,
        ),
    ]
}

const LAB: &str = "name: vdrift
nodes:
  h1: {interfaces: {eth0: 10.80.0.2/24}, gateway: 10.80.0.1}
  h2: {interfaces: {eth0: [10.80.0.3/24, fd80::3/64]}, gateway: [10.80.0.1, fd80::1]}
  sw: {kind: bridge}
  r1: {kind: router, interfaces: {lan: [10.80.0.1/24, fd80::1/64], wan: 192.0.2.1/24}, nat: {masquerade: [wan]}}
  ext: {interfaces: {eth0: 192.0.2.2/24}, exec: ['sleep 1000 &']}
links:
  - [h1:eth0, sw:p1]
  - [h2:eth0, sw:p2]
  - [r1:lan, sw:p3]
  - [r1:wan, ext:eth0]
";

/// Runs a command line directly, not through `sh`: the stock-kernel lane's busybox shell
/// would take its own `ip` applet, which has no `-n`.
fn sh(cmd: &str) -> Result<(), String> {
    let argv: Vec<&str> = cmd.split_whitespace().collect();
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| e.to_string())?;
    check(o.status.success(), || format!("`{cmd}`: {}", text(&o)))
}

/// Writes `value` to `path` from inside the namespace `ns` (a sysctl of its own).
fn write_in(ns: &str, path: &str, value: &str) -> Result<(), String> {
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            &format!("echo {value} > {path}"),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    check(o.status.success(), || {
        format!("writing {path} in {ns}: {}", text(&o))
    })
}

/// `vnet status vdrift` exits `code` and says each of `says`.
fn status_says(code: i32, says: &[&str]) -> Result<(), String> {
    status_of_says("vdrift", code, says)
}

/// `vnet status LAB` exits `code` and says each of `says`.
fn status_of_says(lab: &str, code: i32, says: &[&str]) -> Result<(), String> {
    let o = expect_code(&["status", lab], code).map_err(|e| format!("expecting {says:?}: {e}"))?;
    for s in says {
        check(text(&o).contains(s), || {
            format!("no `{s}` in:\n{}", text(&o))
        })?;
    }
    Ok(())
}

fn status_drift() -> Result<(), String> {
    let (_d, file) = topology(LAB);
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vdrift".into());
    expect_code(&["up", &file], 0)?;
    status_says(
        0,
        &[
            "health: as built",
            "sw:p1 → h1:eth0 (forwarding)",
            "sw:p3 → r1:lan (forwarding)",
        ],
    )?;
    let doc: Value =
        serde_json::from_slice(&expect_code(&["status", "vdrift", "--json"], 0)?.stdout)
            .map_err(|e| e.to_string())?;
    check(doc["health"] == "as built", || format!("{doc:#}"))?;
    let live = doc["live"]["interfaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check(
        live.iter()
            .any(|i| i["node"] == "r1" && i["name"] == "wan" && i["state"] == "up"),
        || format!("the live interfaces: {live:?}"),
    )?;

    // vnet's own change is not drift.
    expect_code(&["link", "vdrift", "h2:eth0", "down"], 0)?;
    status_says(
        0,
        &["health: as built", "h2:eth0: down (taken down at runtime)"],
    )?;
    expect_code(&["link", "vdrift", "h2:eth0", "up"], 0)?;
    // Up again, with what the kernel dropped on the way down: its IPv6 address, both gateways.
    status_says(0, &["health: as built"])?;

    // Someone else's changes are, each in its words.
    sh("ip -n vdrift.h1 link set eth0 down")?;
    status_says(
        1,
        &[
            "health: 2 differences",
            "link h1:eth0 is down",
            "link sw:p1 has no carrier",
        ],
    )?;
    sh("ip -n vdrift.h1 link set eth0 up")?;
    // The kernel dropped h1's gateway route with the link; `ip link set up` does not bring
    // it back (`vnet link ... up` does).
    status_says(
        1,
        &[
            "health: 1 difference",
            "route default via 10.80.0.1 is missing in h1",
        ],
    )?;
    sh("ip -n vdrift.h1 route add default via 10.80.0.1")?;
    status_says(0, &["health: as built"])?;
    // Addresses, routes, forwarding and bridge ports, each changed and put back.
    sh("ip -n vdrift.h2 route del default")?;
    status_says(
        1,
        &[
            "health: 1 difference",
            "route default via 10.80.0.1 is missing in h2",
        ],
    )?;
    sh("ip -n vdrift.h2 route add default via 10.80.0.1")?;
    sh("ip -n vdrift.h2 address add 10.80.0.99/24 dev eth0")?;
    sh("ip -n vdrift.h1 route add 198.51.100.0/24 via 10.80.0.3")?;
    status_says(
        1,
        &[
            "health: 2 differences",
            "address 10.80.0.99/24 on h2:eth0 is not the file's",
            "route 198.51.100.0/24 via 10.80.0.3 in h1 is not the file's",
        ],
    )?;
    sh("ip -n vdrift.h2 address del 10.80.0.99/24 dev eth0")?;
    sh("ip -n vdrift.h1 route del 198.51.100.0/24")?;
    sh("ip -n vdrift.h1 address del 10.80.0.2/24 dev eth0")?;
    status_says(1, &["address 10.80.0.2/24 is missing on h1:eth0"])?;
    sh("ip -n vdrift.h1 address add 10.80.0.2/24 dev eth0")?;
    sh("ip -n vdrift.h1 route replace default via 10.80.0.1")?;
    write_in("vdrift.r1", "/proc/sys/net/ipv4/ip_forward", "0")?;
    status_says(1, &["health: 1 difference", "r1 no longer forwards IPv4"])?;
    write_in("vdrift.r1", "/proc/sys/net/ipv4/ip_forward", "1")?;
    sh("ip -n vdrift.sw link set p2 nomaster")?;
    status_says(
        1,
        &[
            "health: 1 difference",
            "sw:p2 is no longer a port of bridge sw",
        ],
    )?;
    sh("ip -n vdrift.sw link set p2 master sw")?;
    status_says(0, &["health: as built"])?;
    // The process `exec:` left running, ended by someone else.
    let doc: Value =
        serde_json::from_slice(&expect_code(&["status", "vdrift", "--json"], 0)?.stdout)
            .map_err(|e| e.to_string())?;
    let procs = doc["processes"].as_array().cloned().unwrap_or_default();
    let sleep = procs
        .iter()
        .find(|p| {
            p["command"]
                .as_str()
                .is_some_and(|c| c.contains("sleep 1000"))
        })
        .ok_or_else(|| format!("no `sleep 1000` among the recorded processes: {procs:?}"))?;
    check(sleep["node"] == "ext", || format!("{sleep}"))?;
    let pid = sleep["pid"].as_i64().unwrap_or_default() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .map_err(|e| e.to_string())?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    status_says(
        1,
        &[&format!(
            "process `sleep 1000` (pid {pid}) of ext's exec: has exited"
        )],
    )?;
    sh("ip netns exec vdrift.r1 nft delete table inet vnet_nat")?;
    status_says(1, &["table inet vnet_nat is missing in r1"])?;
    sh("ip -n vdrift.ext link del eth0")?;
    status_says(
        1,
        &[
            "interface ext:eth0 is missing",
            "interface r1:wan is missing",
        ],
    )?;
    sh("ip netns del vdrift.h2")?;
    let o = expect_code(&["status", "vdrift", "--json"], 1)?;
    let doc: Value = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
    let kinds: Vec<String> = doc["live"]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for k in ["namespace_missing", "link_missing", "table_missing"] {
        check(kinds.iter().any(|x| x == k), || {
            format!("no {k} among {kinds:?}:\n{doc:#}")
        })?;
    }
    check(doc["health"] == "drifted", || format!("{doc:#}"))?;
    expect_code(&["down", "vdrift"], 0)?;
    assert_clean("vdrift")
}

const VLANS: &str = "name: vdvlan
nodes:
  h1: {interfaces: {eth0: 10.81.10.1/24}}
  h2: {interfaces: {eth0: 10.81.10.2/24}}
  h3: {interfaces: {eth0: 10.81.20.3/24}}
  h4: {interfaces: {eth0: 10.81.20.4/24}}
  sw: {kind: switch, ports: {p1: {vlan: 10}, p2: {vlan: 10}, p3: {vlan: 20}, t: {trunk: [10, 20]}}}
  sw2: {kind: switch, ports: {t: {trunk: [10, 20]}, p4: {vlan: 20}}}
links:
  - [h1:eth0, sw:p1]
  - [h2:eth0, sw:p2]
  - [h3:eth0, sw:p3]
  - [sw:t, sw2:t]
  - [h4:eth0, sw2:p4]
expect:
  - {from: h1, to: h2}
  - {from: h3, to: h4}
";

/// `vnet status vdvlan` exits `code` and says each of `says`.
fn vlan_status_says(code: i32, says: &[&str]) -> Result<(), String> {
    status_of_says("vdvlan", code, says)
}

/// `vnet explain vdvlan FROM TO` fails, saying `says`; `verify` says it under the failed check.
fn vlan_explained(from: &str, to: &str, says: &str) -> Result<(), String> {
    let o = expect_code(&["explain", "vdvlan", from, to], 1)?;
    check(text(&o).contains(says), || {
        format!("explain {from} {to}: no `{says}` in:\n{}", text(&o))
    })?;
    let o = expect_code(&["verify", "vdvlan"], 1)?;
    check(
        String::from_utf8_lossy(&o.stdout).contains(&format!("why {from} → {to}")),
        || format!("verify does not explain {from} → {to}:\n{}", text(&o)),
    )
}

/// A switch port moved to another VLAN, a VLAN taken off a trunk and (emulated) a trunk's
/// VLAN veth set down, by hand: `status` says each (`vlans_changed`, `link_down`), `explain` and `verify` name the port, and putting it back is as
/// built. The kernel decides the build: natively the VLAN-filtering bridge's table is changed
/// with `bridge vlan`, emulated the port changes bridges.
fn switch_vlans() -> Result<(), String> {
    let (_d, file) = topology(VLANS);
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vdvlan".into());
    expect_code(&["up", &file], 0)?;
    let native = Command::new("ip")
        .args(["-n", "vdvlan.sw", "link", "show", "sw"])
        .output()
        .map_err(|e| e.to_string())?
        .status
        .success();
    vlan_status_says(
        0,
        &[
            "health: as built",
            "sw:p1 → h1:eth0 (forwarding, VLAN 10)",
            "sw:t → sw2:t (forwarding, VLANs 10, 20 tagged)",
        ],
    )?;
    let (move_p1, back_p1, cut_20, back_20) = if native {
        (
            &[
                "bridge -n vdvlan.sw vlan del dev p1 vid 10",
                "bridge -n vdvlan.sw vlan add dev p1 vid 20 pvid untagged",
            ][..],
            &[
                "bridge -n vdvlan.sw vlan del dev p1 vid 20",
                "bridge -n vdvlan.sw vlan add dev p1 vid 10 pvid untagged",
            ][..],
            &["bridge -n vdvlan.sw vlan del dev t vid 20"][..],
            &["bridge -n vdvlan.sw vlan add dev t vid 20"][..],
        )
    } else {
        (
            &["ip -n vdvlan.sw link set p1 master vlan20"][..],
            &["ip -n vdvlan.sw link set p1 master vlan10"][..],
            &["ip -n vdvlan.sw link set t.20 nomaster"][..],
            &["ip -n vdvlan.sw link set t.20 master vlan20"][..],
        )
    };
    for c in move_p1 {
        sh(c)?;
    }
    vlan_status_says(
        1,
        &[
            "health: 1 difference",
            "switch port sw:p1 carries VLAN 20 untagged, not VLAN 10 untagged as built",
            "sw:p1 → h1:eth0 (forwarding, VLAN 20)",
        ],
    )?;
    vlan_explained(
        "h1",
        "h2",
        "sw:p1 carries VLAN 20 untagged, not VLAN 10 untagged as built: the frame is in VLAN 20",
    )?;
    for c in back_p1 {
        sh(c)?;
    }
    vlan_status_says(0, &["health: as built"])?;
    for c in cut_20 {
        sh(c)?;
    }
    let o = expect_code(&["status", "vdvlan", "--json"], 1)?;
    let doc: Value = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
    let differences = doc["live"]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check(
        differences.len() == 1
            && differences[0]["kind"] == "vlans_changed"
            && differences[0]["text"]
                == "switch port sw:t carries VLAN 10 tagged, not VLANs 10, 20 tagged as built",
        || format!("{doc:#}"),
    )?;
    vlan_explained("h3", "h4", "sw:t no longer carries VLAN 20")?;
    for c in back_20 {
        sh(c)?;
    }
    vlan_status_says(0, &["health: as built"])?;
    if !native {
        // Emulated, each VLAN of a trunk rides a veth pair of its own: one of them set down.
        sh("ip -n vdvlan.sw link set t.20 down")?;
        vlan_status_says(
            1,
            &[
                "health: 2 differences",
                "link sw:t.20 is down",
                "link sw2:t.20 has no carrier",
            ],
        )?;
        vlan_explained("h3", "h4", "link sw:t.20 is down")?;
        sh("ip -n vdvlan.sw link set t.20 up")?;
        vlan_status_says(0, &["health: as built"])?;
        // A trunk's VLAN veth in another VLAN's bridge joins the two VLANs.
        sh("ip -n vdvlan.sw link set t.10 master vlan20")?;
        vlan_status_says(
            1,
            &["sw:t.10, trunk t's VLAN 10, is a port of bridge vlan20, not vlan10"],
        )?;
        sh("ip -n vdvlan.sw link set t.10 master vlan10")?;
        vlan_status_says(0, &["health: as built"])?;
    }
    expect_code(&["verify", "vdvlan"], 0)?;
    expect_code(&["down", "vdvlan"], 0)?;
    assert_clean("vdvlan")
}
