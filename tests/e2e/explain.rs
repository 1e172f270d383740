//! `vnet explain`: a running lab broken in many ways, each break named by the explanation
//! (and by `verify` under the failed check); on healthy labs, explain and the probes agree.

use std::process::Command;

use serde_json::Value;

use crate::harness::{
    Lab, Test, assert_clean, check, expect_code, run, text, topologies, topology,
};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "explain::every_break_of_a_running_lab_is_named",
            every_break_is_named,
        ),
        Test::new(
            "explain::isolation_and_port_security_are_named",
            isolation_and_port_security,
        ),
        Test::new(
            "explain::without_a_running_lab_the_file_is_explained",
            the_file_is_explained,
        ),
        Test::new(
            "explain::agrees_with_all_pairs_on_every_bundled_topology",
            agrees_with_all_pairs,
        ),
    ]
}

/// pc1 and pc2 on a bridge, behind r1 (whose MAC on the bridge is the file's); r2 masquerades toward srv, which has no gateway (so
/// only the translation brings replies back).
fn lab(name: &str) -> String {
    format!(
        "name: {name}
nodes:
  pc1: {{interfaces: {{eth0: 10.0.1.11/24}}, gateway: 10.0.1.1}}
  pc2: {{interfaces: {{eth0: 10.0.1.12/24}}, gateway: 10.0.1.1}}
  sw: {{kind: bridge}}
  r1:
    kind: router
    interfaces: {{lan: {{addresses: [10.0.1.1/24], mac: \"02:00:00:00:01:01\"}}, core: 10.0.9.1/30}}
    gateway: 10.0.9.2
  r2:
    kind: router
    interfaces: {{core: 10.0.9.2/30, wan: 203.0.113.1/24}}
    routes: [{{to: 10.0.1.0/24, via: 10.0.9.1}}]
    nat: {{masquerade: [wan]}}
  srv: {{interfaces: {{eth0: 203.0.113.80/24}}}}
links:
  - [pc1:eth0, sw:p1]
  - [pc2:eth0, sw:p2]
  - [r1:lan, sw:p3]
  - [r1:core, r2:core]
  - [r2:wan, srv:eth0]
expect:
  - {{from: pc1, to: srv}}
"
    )
}

fn sh(argv: &[&str]) -> Result<(), String> {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    check(o.status.success(), || {
        format!(
            "`{}` failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Waits (10 s at most) until the interface is gone from the namespace.
fn gone(ns: &str, dev: &str) -> Result<(), String> {
    for _ in 0..200 {
        let o = Command::new("ip")
            .args(["-n", ns, "link", "show", dev])
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("{dev} in {ns} still there after 10 s"))
}

fn json(o: &std::process::Output) -> Result<Value, String> {
    serde_json::from_slice(&o.stdout)
        .map_err(|e| format!("not one JSON document ({e}):\n{}", text(o)))
}

/// `vnet explain ... --json`, demanding the exit code and a document of the schema.
fn explain(args: &[&str], code: i32) -> Result<Value, String> {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = expect_code(&all, code)?;
    let doc = json(&o)?;
    let schema: Value =
        serde_json::from_str(include_str!("../../schema/output/explain.schema.json"))
            .map_err(|e| e.to_string())?;
    let v = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
    let wrong: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    check(wrong.is_empty(), || {
        format!("against explain.schema.json: {}\n{doc}", wrong.join("; "))
    })?;
    Ok(doc)
}

/// One way to break the lab: commands (`LAB` stands for the lab's name), the pair explained,
/// and what the explanation must say.
struct Break {
    what: &'static str,
    commands: &'static [&'static [&'static str]],
    from: &'static str,
    to: &'static str,
    says: &'static [&'static str],
}

const BREAKS: &[Break] = &[
    Break {
        what: "a link taken down with vnet link",
        commands: &[&["vnet", "link", "LAB", "r2:wan", "down"]],
        from: "pc1",
        to: "srv",
        says: &["link r2:wan is down"],
    },
    Break {
        what: "a bridge port down",
        commands: &[&["ip", "-n", "LAB.sw", "link", "set", "p3", "down"]],
        from: "pc1",
        to: "srv",
        says: &["link sw:p3 is down"],
    },
    Break {
        what: "the default route deleted",
        commands: &[&["ip", "-n", "LAB.pc1", "route", "del", "default"]],
        from: "pc1",
        to: "srv",
        says: &[
            "pc1 has no route to 203.0.113.80",
            "vnet set up default via 10.0.1.1",
        ],
    },
    Break {
        what: "a router's route deleted",
        commands: &[&["ip", "-n", "LAB.r2", "route", "del", "10.0.1.0/24"]],
        from: "pc1",
        to: "srv",
        says: &["r2 has no route back to 10.0.1.11"],
    },
    Break {
        what: "the gateway's address removed",
        commands: &[&[
            "ip",
            "-n",
            "LAB.r1",
            "addr",
            "del",
            "10.0.1.1/24",
            "dev",
            "lan",
        ]],
        from: "pc1",
        to: "srv",
        says: &["r1:lan does not have 10.0.1.1"],
    },
    Break {
        what: "forwarding off",
        commands: &[&[
            "ip",
            "netns",
            "exec",
            "LAB.r1",
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=0",
        ]],
        from: "pc1",
        to: "srv",
        says: &["r1 does not forward (net.ipv4.ip_forward = 0)"],
    },
    Break {
        what: "the NAT table deleted",
        commands: &[&[
            "ip", "netns", "exec", "LAB.r2", "nft", "delete", "table", "inet", "vnet_nat",
        ]],
        from: "pc1",
        to: "srv",
        says: &[
            "srv has no route back to 10.0.1.11",
            "table inet vnet_nat is gone",
        ],
    },
    Break {
        what: "a wrong gateway",
        commands: &[&[
            "ip",
            "-n",
            "LAB.pc1",
            "route",
            "replace",
            "default",
            "via",
            "10.0.1.254",
        ]],
        from: "pc1",
        to: "srv",
        says: &["no node on pc1:eth0's segment has 10.0.1.254 (pc1's gateway)"],
    },
    Break {
        what: "a namespace deleted",
        // The kernel destroys a namespace (and forwards through it) until its cleanup runs:
        // the test waits for that, as the probe would see it.
        commands: &[
            &["ip", "netns", "del", "LAB.r1"],
            &["wait-gone", "LAB.sw", "p3"],
        ],
        from: "pc1",
        to: "srv",
        says: &["namespace LAB.r1 is gone"],
    },
    Break {
        what: "a veth deleted",
        commands: &[&["ip", "-n", "LAB.r2", "link", "del", "core"]],
        from: "pc1",
        to: "srv",
        says: &["interface r1:core is gone"],
    },
    Break {
        what: "a blackhole route",
        commands: &[&[
            "ip",
            "-n",
            "LAB.r1",
            "route",
            "add",
            "blackhole",
            "203.0.113.0/24",
        ]],
        from: "pc1",
        to: "srv",
        says: &["r1 drops packets to 203.0.113.80: route blackhole 203.0.113.0/24"],
    },
    Break {
        what: "the far end's interface down",
        commands: &[&["ip", "-n", "LAB.srv", "link", "set", "eth0", "down"]],
        from: "pc1",
        to: "srv",
        says: &["link srv:eth0 is down"],
    },
    Break {
        what: "the bridge's forwarding table sending the gateway's MAC the wrong way",
        commands: &[&[
            "bridge",
            "-n",
            "LAB.sw",
            "fdb",
            "replace",
            "02:00:00:00:01:01",
            "dev",
            "p2",
            "master",
            "static",
            "sticky",
        ]],
        from: "pc1",
        to: "srv",
        says: &[
            "sw sends frames for 02:00:00:00:01:01 (r1:lan) out of sw:p2 only (a sticky entry of its forwarding table)",
        ],
    },
    Break {
        what: "a host's interface down, seen from its neighbour",
        commands: &[&["ip", "-n", "LAB.pc2", "link", "set", "eth0", "down"]],
        from: "pc1",
        to: "pc2",
        says: &["link pc2:eth0 is down"],
    },
];

fn every_break_is_named() -> Result<(), String> {
    let mut wrong = Vec::new();
    for (i, b) in BREAKS.iter().enumerate() {
        let name = format!("xbrk{i}");
        let (_d, file) = topology(&lab(&name));
        let file = file.to_string_lossy().into_owned();
        let _lab = Lab(name.clone());
        expect_code(&["up", &file], 0)?;
        // Healthy first: the pair arrives, both ways.
        let doc = explain(&[&name, b.from, b.to], 0)?;
        check(doc["arrives"] == true && doc["source"] == "kernel", || {
            format!("{}: healthy lab: {doc}", b.what)
        })?;
        for c in b.commands {
            let argv: Vec<String> = c.iter().map(|a| a.replace("LAB", &name)).collect();
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            if argv[0] == "vnet" {
                expect_code(&argv[1..], 0)?;
            } else if argv[0] == "wait-gone" {
                gone(argv[1], argv[2])?;
            } else {
                sh(&argv)?;
            }
        }
        let doc = explain(&[&name, b.from, b.to], 1)?;
        let summary = doc["summary"].as_str().unwrap_or_default().to_owned();
        let missing: Vec<String> = b
            .says
            .iter()
            .map(|s| s.replace("LAB", &name))
            .filter(|s| !summary.contains(s.as_str()))
            .collect();
        if !missing.is_empty() {
            wrong.push(format!("{}: `{summary}` does not say {missing:?}", b.what));
            continue;
        }
        // The probe agrees, and `verify` prints the explanation under the failed check (with
        // what its probe left in the neighbour cache, perhaps).
        if b.from == "pc1" && b.to == "srv" {
            let o = expect_code(&["verify", &name, "--json"], 1)?;
            let v = json(&o)?;
            let row = &v["checks"]["rows"][0];
            let got = row["explanation"].as_str().unwrap_or_default();
            if row["pass"] != false || !got.starts_with(&summary) {
                wrong.push(format!(
                    "{}: verify's row {row} does not carry the explanation `{summary}`",
                    b.what
                ));
            }
            let o = expect_code(&["verify", &name], 1)?;
            let out = String::from_utf8_lossy(&o.stdout);
            let start: String = summary.chars().take(60).collect();
            if !out.contains(&format!("why pc1 → srv (203.0.113.80): {start}")) {
                wrong.push(format!(
                    "{}: verify's table lacks the explanation:\n{out}",
                    b.what
                ));
            }
        }
        expect_code(&["down", &name], 0)?;
        assert_clean(&name)?;
    }
    check(BREAKS.len() >= 10, || "fewer than ten breaks".into())?;
    check(wrong.is_empty(), || wrong.join("\n"))
}

/// A bundled topology under a name of the test's own, so that other tests using it may run
/// beside this one.
fn renamed(file: &str, prefix: &str) -> Result<(tempfile::TempDir, String, String), String> {
    let yaml = std::fs::read_to_string(topologies().join(file)).map_err(|e| e.to_string())?;
    let old = yaml
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .ok_or_else(|| format!("{file} has no name"))?
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let name: String = format!("{prefix}{old}").chars().take(24).collect();
    let name = name.trim_end_matches('-').to_owned();
    let (d, path) = topology(&yaml.replacen(&format!("name: {old}"), &format!("name: {name}"), 1));
    Ok((d, path.to_string_lossy().into_owned(), name))
}

fn isolation_and_port_security() -> Result<(), String> {
    for (file, from, to, says) in [
        (
            "docker-single-host.yaml",
            "app1",
            "c1",
            "dockerhost isolates br-app from docker0 (`isolate:`, table inet vnet_filter)",
        ),
        (
            "port-security-macvlan.yaml",
            "c1",
            "peer",
            "port security on sw:p1 drops source MAC 02:42:c0:a8:3c:15",
        ),
    ] {
        let (_d, path, name) = renamed(file, "xi-")?;
        let _lab = Lab(name.clone());
        expect_code(&["up", &path], 0)?;
        let doc = explain(&[&name, from, to], 1)?;
        let summary = doc["summary"].as_str().unwrap_or_default();
        check(summary.contains(says), || {
            format!("{file}: {from} → {to}: `{summary}` does not say `{says}`")
        })?;
        expect_code(&["down", &name], 0)?;
        assert_clean(&name)?;
    }
    Ok(())
}

fn the_file_is_explained() -> Result<(), String> {
    let (_d, file) = topology(&lab("xfile"));
    let file = file.to_string_lossy().into_owned();
    let doc = explain(&[&file, "pc1", "srv"], 0)?;
    check(
        doc["source"] == "file" && doc["seen_as"] == "203.0.113.1",
        || doc.to_string(),
    )?;
    let o = expect_code(&["explain", &file, "pc1", "srv"], 0)?;
    let out = String::from_utf8_lossy(&o.stdout);
    check(
        out.contains("arrives: pc1 → r1 → r2 → srv (3 hops)")
            && out.contains("r2 masquerades: 10.0.1.11 leaves as 203.0.113.1"),
        || out.to_string(),
    )?;
    // Usage, file and lab errors: 2, 3, 4.
    let o = expect_code(&["explain", &file, "pc1", "nosuch"], 2)?;
    check(text(&o).contains("pc2"), || text(&o))?;
    expect_code(&["explain", &file, "nosuch", "srv"], 2)?;
    expect_code(&["explain", &file, "pc1", "srv:99999"], 2)?;
    let (_b, bad) = topology("name: bad\nnodes: {a: {kind: nope}}\n");
    expect_code(&["explain", &bad.to_string_lossy(), "a", "a"], 3)?;
    expect_code(&["explain", "xnotrunning", "pc1", "srv"], 4)?;
    // A published port is followed to where it leads.
    let (_p, path, _) = renamed("docker-single-host.yaml", "xp-")?;
    let doc = explain(&[&path, "outside", "192.0.2.2:49153"], 0)?;
    check(
        doc["there"]
            .as_array()
            .and_then(|h| h.last())
            .map(|h| &h["node"])
            == Some(&"c1".into()),
        || doc.to_string(),
    )?;
    Ok(())
}

/// Every bundled topology this kernel can build: for every pair `--all-pairs` probes, explain's
/// verdict is the probe's.
fn agrees_with_all_pairs() -> Result<(), String> {
    let mut files: Vec<String> = std::fs::read_dir(topologies())
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml"))
        .collect();
    files.sort();
    let (mut wrong, mut agreed, mut skipped) = (Vec::new(), 0, Vec::new());
    for file in &files {
        let _machine = crate::harness::links_the_machine(&topologies().join(file))
            .then(crate::harness::machine_links_lock);
        let (_d, path, name) = renamed(file, "xa-")?;
        let _lab = Lab(name.clone());
        let up = run(&["up", &path, "--allow-machine-nat", "--allow-machine-routes"]);
        if up.status.code() != Some(0) {
            // A kernel without netem cannot build latency-and-loss: said, not failed.
            let why = text(&up);
            check(why.contains("this kernel lacks"), || {
                format!("{file}: {why}")
            })?;
            skipped.push(file.clone());
            continue;
        }
        let o = run(&["verify", &name, "--all-pairs", "--json"]);
        let doc = json(&o)?;
        let rows = doc["all_pairs"]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for r in rows.iter().filter(|r| r["verdict"] != "error") {
            let reached = if r["expect"] == true {
                r["pass"] == true
            } else {
                r["pass"] == false
            };
            let (from, addr) = (
                r["from"].as_str().unwrap_or_default(),
                r["address"].as_str().unwrap_or_default(),
            );
            let e = json(&run(&["explain", &name, from, addr, "--json"]))?;
            if e["arrives"] == reached {
                agreed += 1;
            } else {
                wrong.push(format!(
                    "{file}: {from} → {addr}: the probe {} ({}), explain: {}",
                    if reached { "reached" } else { "did not reach" },
                    r["got"],
                    e["summary"]
                ));
            }
        }
        expect_code(&["down", &name], 0)?;
    }
    println!(
        "explain agrees with {agreed} probed pairs over {} topologies; not buildable here: {skipped:?}",
        files.len() - skipped.len()
    );
    check(agreed > 300, || format!("only {agreed} pairs compared"))?;
    check(wrong.is_empty(), || wrong.join("\n"))
}
