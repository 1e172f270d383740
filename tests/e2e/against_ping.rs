//! vnet's `rtt:` and `loss:` against iputils `ping` on the same netem link: delay 10, 50 and
//! 100 ms, and 10% loss over 2000 probes each. The numbers go to stderr (BENCHMARKS.md quotes
//! the stock-kernel lane's); the test holds them to a bound looser than the benchmark's target
//! (2% + 0.2 ms), so that an emulated CPU's timer jitter does not fail it.

use std::process::Command;

use serde_json::Value;

use crate::harness::{Feature, Lab, Test, assert_clean, check, expect_code, text, topology};
use vnet::model::feature::Feature as Kernel;

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "against_ping::netem_delay_and_loss_as_vnet_and_ping_measure_them",
            delay_and_loss,
        )
        .needs(Feature::Kernel(Kernel::Netem))
        .needs(Feature::Program("ping", "Debian package iputils-ping")),
        Test::new(
            "against_ping::tbf_rate_as_vnet_and_iperf3_measure_it",
            rate_against_iperf3,
        )
        .needs(Feature::Kernel(Kernel::Tbf))
        .needs(Feature::Program("iperf3", "Debian package iperf3")),
    ]
}

/// iperf3 from `a` to `b` for `seconds`: the receiver's TCP payload rate, in Mbit/s.
fn iperf3(lab: &str, seconds: u32) -> Result<f64, String> {
    let mut server = Command::new("ip")
        .args(["netns", "exec", &format!("{lab}.b"), "iperf3", "-s", "-1"])
        .args(["-B", "10.88.0.2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("iperf3 -s: {e}"))?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("{lab}.a"),
            "iperf3",
            "-c",
            "10.88.0.2",
        ])
        .args(["-t", &seconds.to_string(), "-J"])
        .output()
        .map_err(|e| format!("iperf3 -c: {e}"))?;
    let _ = server.kill();
    let _ = server.wait();
    let doc: Value = serde_json::from_slice(&o.stdout).map_err(|e| format!("{e}: {}", text(&o)))?;
    doc["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e6)
        .ok_or_else(|| format!("no rate in iperf3's output:\n{}", text(&o)))
}

/// Rounds of the comparison at each rate before the two are called apart.
const RATE_ROUNDS: u32 = 3;

/// vnet's `rate:` and iperf3 on the same TBF link, 1, 10 and 100 Mbit/s. The numbers go to
/// stderr (BENCHMARKS.md quotes them); the test holds each to 70% of the rate and the two to
/// 15% of each other, looser than the benchmark's target (90%, 5%), for an emulated CPU.
///
/// One transfer of either tool can be starved of CPU by the tests beside it (the CI lane once
/// saw vnet at 7.4 and iperf3 at 9.6 Mbit/s on 10, one round): a pair that misses is measured
/// again, up to [`RATE_ROUNDS`] rounds, and fails only if no round agrees. A tool that counts
/// wrongly misses in every round.
fn rate_against_iperf3() -> Result<(), String> {
    let yaml = lab("vrate", 0).replace(
        "expect:\n",
        "expect:\n  - {from: a, to: b, proto: tcp, rate: '>= 1kbit'}\n",
    );
    let (_d, file) = topology(&yaml);
    let file = file.to_string_lossy().into_owned();
    let _lab = Lab("vrate".into());
    expect_code(&["up", &file], 0)?;
    for mbit in [1.0, 10.0, 100.0_f64] {
        expect_code(
            &[
                "impair",
                "vrate",
                "a:eth0",
                "--rate",
                &format!("{mbit}mbit"),
            ],
            0,
        )?;
        let mut misses = Vec::new();
        while let Some(why) = {
            let (vnet, other) = rate_pair(mbit)?;
            rate_miss(mbit, vnet, other)
        } {
            misses.push(why);
            if misses.len() as u32 == RATE_ROUNDS {
                return Err(format!(
                    "{mbit} Mbit/s, no round of {RATE_ROUNDS} agreed: {}",
                    misses.join("; ")
                ));
            }
        }
    }
    expect_code(&["down", "vrate"], 0)?;
    assert_clean("vrate")
}

/// One round at `mbit`: vnet's `rate:` row, then iperf3 for 3 s, in Mbit/s.
fn rate_pair(mbit: f64) -> Result<(f64, f64), String> {
    let got = rows(&expect_code(&["verify", "vrate", "--json"], 0)?)?;
    let vnet = got
        .first()
        .and_then(|r| r["rate_mbit"].as_f64())
        .ok_or_else(|| format!("no rate_mbit in {got:?}"))?;
    let other = iperf3("vrate", 3)?;
    eprintln!(
        "against iperf3: rate {mbit} Mbit/s: vnet {vnet:.3} Mbit/s, iperf3 {other:.3} Mbit/s, \
         apart {:+.1}%",
        (vnet - other) / other * 100.0
    );
    Ok((vnet, other))
}

/// Why a round at `mbit` does not hold: a tool under 70% of the rate, or the two more than
/// 15% apart.
fn rate_miss(mbit: f64, vnet: f64, other: f64) -> Option<String> {
    for (who, m) in [("vnet", vnet), ("iperf3", other)] {
        if m < 0.7 * mbit {
            return Some(format!("{who} measured {m:.3}"));
        }
    }
    ((vnet - other).abs() > 0.15 * other)
        .then(|| format!("vnet {vnet:.3} and iperf3 {other:.3} apart"))
}

/// Two hosts; `checks` checks from `a` to `b`, each bounding rtt and loss loosely enough to
/// hold, so that every row reports both.
fn lab(name: &str, checks: usize) -> String {
    let mut text = format!(
        "name: {name}
nodes:
  a: {{interfaces: {{eth0: 10.88.0.1/24}}}}
  b: {{interfaces: {{eth0: 10.88.0.2/24}}}}
links:
  - [a:eth0, b:eth0]
expect:
"
    );
    for _ in 0..checks {
        text.push_str("  - {from: a, to: b, rtt: '< 5s', loss: '<= 100%'}\n");
    }
    text
}

/// `ping` from `a`, `count` echo requests `interval` seconds apart: the share lost, in percent.
fn ping_loss(ns: &str, count: u32, interval: &str) -> Result<f64, String> {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-q", "-c"])
        .arg(count.to_string())
        .args(["-i", interval, "-W", "1", "10.88.0.2"])
        .output()
        .map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .find_map(|w| w.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()))
        .ok_or_else(|| format!("no loss in ping's output:\n{}", text(&o)))
}

/// `ping`'s round trips from `a`, `count` echo requests 50 ms apart.
fn rtts(ns: &str, count: u32) -> Result<Vec<f64>, String> {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-c"])
        .arg(count.to_string())
        .args(["-i", "0.05", "-W", "1", "10.88.0.2"])
        .output()
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("time=").and_then(|t| t.parse().ok()))
        .collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn rows(out: &std::process::Output) -> Result<Vec<Value>, String> {
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(doc["checks"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn delay_and_loss() -> Result<(), String> {
    let (_d, one) = topology(&lab("vping", 1));
    let one = one.to_string_lossy().into_owned();
    let _lab = Lab("vping".into());
    expect_code(&["up", &one], 0)?;
    for delay in [10.0, 50.0, 100.0_f64] {
        expect_code(
            &[
                "impair",
                "vping",
                "a:eth0",
                "--delay",
                &format!("{delay}ms"),
            ],
            0,
        )?;
        let got = rows(&expect_code(&["verify", "vping", "--json"], 0)?)?;
        let vnet = got
            .first()
            .and_then(|r| r["rtt_median_ms"].as_f64())
            .ok_or_else(|| format!("no rtt_median_ms in {got:?}"))?;
        let ping = median(rtts("vping.a", 20)?);
        let error = (vnet - ping).abs();
        eprintln!(
            "against ping: delay {delay} ms one way: vnet median {vnet:.2} ms, ping median \
             {ping:.2} ms, apart {error:.2} ms ({:.1}%)",
            error / ping * 100.0
        );
        check(error <= 0.05 * ping + 1.0, || {
            format!("delay {delay} ms: vnet {vnet} ms, ping {ping} ms")
        })?;
        check((delay..delay * 1.1 + 2.0).contains(&vnet), || {
            format!("delay {delay} ms measured by vnet as {vnet} ms")
        })?;
    }
    expect_code(&["down", "vping"], 0)?;

    // 10% loss: 200 checks of 10 echo requests (about 2000) against 2000 pings.
    let (_d2, many) = topology(&lab("vloss", 200));
    let many = many.to_string_lossy().into_owned();
    let _lab2 = Lab("vloss".into());
    expect_code(&["up", &many], 0)?;
    expect_code(&["impair", "vloss", "a:eth0", "--loss", "10%"], 0)?;
    // A check whose reaching probe and all its tries were lost (10% each) fails to reach and
    // measures nothing: the verdict may be 1, and only the rows that measured are counted.
    let out = crate::harness::run(&["verify", "vloss", "--json"]);
    check(matches!(out.status.code(), Some(0 | 1)), || text(&out))?;
    let got = rows(&out)?;
    let (mut sent, mut lost) = (0.0, 0.0);
    for r in &got {
        let n = r["probes"].as_f64().unwrap_or(0.0);
        sent += n;
        lost += n * r["loss_percent"].as_f64().unwrap_or(0.0) / 100.0;
    }
    let vnet = lost / sent * 100.0;
    let ping = ping_loss("vloss.a", 2000, "0.005")?;
    eprintln!("against ping: loss 10%: vnet {vnet:.2}% of {sent} probes, ping {ping:.2}% of 2000");
    // A row measures nothing when its reaching probe's three tries were all lost (0.1% at
    // 10% loss; in one run of five some row of the 200 does): most must have measured.
    check(sent >= 1900.0, || {
        format!("{sent} probes in {} rows", got.len())
    })?;
    for (who, p) in [("vnet", vnet), ("ping", ping)] {
        check((7.5..12.5).contains(&p), || {
            format!("10% loss measured by {who} as {p}%")
        })?;
    }
    expect_code(&["down", "vloss"], 0)?;
    assert_clean("vping")?;
    assert_clean("vloss")
}
