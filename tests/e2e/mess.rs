//! Never leave a mess: lost state, concurrent labs, foreign objects, random labs.

use crate::harness::{Lab, Test, assert_clean, check, expect_code, text, topology};
use crate::private::Machine;

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "mess::down_all_after_state_loss_removes_labs_by_their_mark_only",
            state_loss,
        ),
        Test::new(
            "mess::eight_labs_up_and_down_in_parallel_never_collide",
            eight_in_parallel,
        ),
        Test::new(
            "mess::two_ups_of_one_lab_one_wins_the_other_changes_nothing",
            two_ups,
        ),
        Test::new(
            "mess::random_small_labs_up_then_down_leave_nothing",
            random_labs,
        ),
    ]
}

const SMALL: &str = "
name: NAME
nodes:
  host: {interfaces: {IFACE: 10.9.0.9/24}}
  a: {interfaces: {eth0: 10.9.0.1/24}, exec: ['sleep 303 &']}
  b: {interfaces: {eth0: 10.9.0.2/24}}
  sw: {kind: bridge}
links:
  - [a:eth0, sw:p1]
  - [b:eth0, sw:p2]
  - [host:IFACE, sw:p3]
expect:
  - {from: a, to: b}
";

/// `/run/vnet` lost (a reboot of `/run`, or `rm -rf`): `down --all` still finds the lab's
/// namespaces and the machine's link by their mark, and leaves alone a namespace with a
/// lab-like name that vnet did not make.
fn state_loss() -> Result<(), String> {
    let m = Machine::new()?;
    let (_d, file) = topology(&SMALL.replace("NAME", "lost").replace("IFACE", "vnetlost"));
    m.run(&["up", file.to_str().unwrap_or_default()], 0)?;
    std::fs::remove_dir_all(m.path("/run/vnet/lost")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(m.path("/run/vnet/lost.lock"));
    // Someone else's namespace that looks like the lab's, made without vnet's mark.
    let planted = m.path("/run/netns/lost.zz");
    std::fs::write(&planted, b"").map_err(|e| e.to_string())?;
    check(
        m.namespaces()
            .iter()
            .filter(|n| n.starts_with("lost."))
            .count()
            == 4,
        || format!("{:?}", m.namespaces()),
    )?;
    let out = m.run(&["down", "--all"], 0)?;
    check(
        String::from_utf8_lossy(&out.stdout).contains("lab `lost` had no state left"),
        || text(&out),
    )?;
    let left: Vec<String> = m.namespaces();
    check(left == vec!["lost.zz".to_owned()], || {
        format!("after down --all: {left:?}")
    })?;
    check(!m.interfaces().contains(&"vnetlost".to_owned()), || {
        "the machine's link survived".into()
    })?;
    Ok(())
}

fn eight_in_parallel() -> Result<(), String> {
    let labs: Vec<(String, tempfile::TempDir, std::path::PathBuf)> = (0..8)
        .map(|i| {
            let name = format!("par{i}");
            let (d, f) = topology(
                &SMALL
                    .replace("NAME", &name)
                    .replace("IFACE", &format!("vnetpar{i}"))
                    // A subnet each: two labs on one machine subnet are refused.
                    .replace("10.9.0.", &format!("10.9.{i}."))
                    .replace("sleep 303", "sleep 304"),
            );
            (name, d, f)
        })
        .collect();
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let hs: Vec<_> = labs
            .iter()
            .map(|(name, _, file)| {
                s.spawn(move || -> Result<(), String> {
                    let _lab = Lab(name.clone());
                    expect_code(
                        &[
                            "up",
                            file.to_str().unwrap_or_default(),
                            "--progress",
                            "never",
                        ],
                        0,
                    )?;
                    expect_code(&["verify", name], 0)?;
                    expect_code(&["down", name], 0)?;
                    assert_clean(name)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or(Err("panicked".into())))
            .collect()
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    check(errors.is_empty(), || errors.join("\n"))
}

fn two_ups() -> Result<(), String> {
    let (_d, file) = topology(
        &SMALL
            .replace("NAME", "twice")
            .replace("IFACE", "vnettw")
            .replace("sleep 303", "sleep 305"),
    );
    let f = file.to_str().unwrap_or_default();
    let _lab = Lab("twice".into());
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| crate::harness::vnet(&["up", f, "--progress", "never"]).output()))
            .collect();
        hs.into_iter()
            .filter_map(|h| h.join().ok().and_then(Result::ok))
            .collect()
    });
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    check(codes.contains(&Some(0)) && codes.contains(&Some(4)), || {
        format!("exit codes {codes:?}")
    })?;
    let loser = outs
        .iter()
        .find(|o| o.status.code() == Some(4))
        .map(text)
        .unwrap_or_default();
    check(
        loser.contains("another vnet is working on lab `twice`")
            || loser.contains("already running"),
        || loser.clone(),
    )?;
    // The winner's lab is whole: the loser changed nothing.
    expect_code(&["verify", "twice"], 0)?;
    expect_code(&["down", "twice"], 0)?;
    assert_clean("twice")
}

/// A tiny deterministic generator (xorshift), so a failing case can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A random small lab: hosts and routers hung off a random tree of bridges, each host on the
/// subnet of its bridge; valid by construction.
fn random_lab(seed: u64) -> String {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let bridges = 1 + r.next(3);
    let hosts = 2 + r.next(5);
    let name = format!("rnd{seed}");
    let mut nodes = String::new();
    let mut links = String::new();
    for b in 0..bridges {
        nodes.push_str(&format!("  br{b}: {{kind: bridge}}\n"));
        if b > 0 {
            links.push_str(&format!("  - [br{}:up{b}, br{b}:down]\n", r.next(b)));
        }
    }
    for h in 0..hosts {
        let kind = if r.next(4) == 0 { "router" } else { "host" };
        nodes.push_str(&format!(
            "  h{h}: {{kind: {kind}, interfaces: {{eth0: [10.8.0.{}/24, fd00:8::{}/64]}}}}\n",
            h + 1,
            h + 1
        ));
        links.push_str(&format!("  - [h{h}:eth0, br{}:p{h}]\n", r.next(bridges)));
    }
    format!("name: {name}\nnodes:\n{nodes}links:\n{links}expect:\n  - {{from: h0, to: h1}}\n")
}

fn random_labs() -> Result<(), String> {
    for seed in 1..=12 {
        let yaml = random_lab(seed);
        let name = format!("rnd{seed}");
        let (_d, file) = topology(&yaml);
        let out = expect_code(
            &[
                "test",
                file.to_str().unwrap_or_default(),
                "--progress",
                "never",
            ],
            0,
        )
        .map_err(|e| format!("seed {seed}:\n{yaml}\n{e}"))?;
        let _ = out;
        assert_clean(&name).map_err(|e| format!("seed {seed}: {e}"))?;
    }
    Ok(())
}
