//! `vnet attack arp-spoof`: the article's attack from the command line, on the two bundled
//! labs, the open one (the victim's cache is poisoned) and the secured one (it is not).

use std::process::Command;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, text, topologies};

pub(crate) fn trials() -> Vec<Test> {
    vec![Test::new(
        "attack::arp_spoof_poisons_the_open_lab_and_not_the_secured_one",
        arp_spoof,
    )]
}

/// The MAC the victim's cache holds for the gateway's address.
fn victim_holds(lab: &str) -> String {
    Command::new("ip")
        .args(["-n", &format!("{lab}.victim"), "neigh", "show", "10.0.1.1"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

const GW: &str = "02:00:00:00:01:01";
const ATTACKER: &str = "02:00:00:00:01:66";

fn arp_spoof() -> Result<(), String> {
    for (file, lab, poisoned) in [
        ("arp-spoofing.yaml", "arp-open", true),
        ("arp-spoofing-secured.yaml", "arp-secured", false),
    ] {
        let f = topologies().join(file).to_string_lossy().into_owned();
        let _lab = Lab(lab.into());
        expect_code(&["up", &f], 0)?;
        // The file's own checks: the victim resolves the gateway to the gateway.
        expect_code(&["verify", lab], 0)?;
        check(victim_holds(lab).contains(GW), || {
            format!("{lab}: before the attack: {}", victim_holds(lab))
        })?;
        let out = expect_code(
            &[
                "attack",
                "arp-spoof",
                lab,
                "attacker",
                "--claim",
                "10.0.1.1",
                "--to",
                "victim",
            ],
            0,
        )?;
        check(
            text(&out).contains(
                "attacker told victim (10.0.1.2) 8 times that 10.0.1.1 is at 02:00:00:00:01:66",
            ),
            || text(&out),
        )?;
        let holds = victim_holds(lab);
        if poisoned {
            check(holds.contains(ATTACKER), || {
                format!("{lab}: the attack did not poison the cache: {holds}")
            })?;
            // `{on: victim, neighbour: 10.0.1.1, is: gw}` now fails.
            let v = expect_code(&["verify", lab], 1)?;
            check(text(&v).contains("attacker"), || text(&v))?;
        } else {
            check(holds.contains(GW), || {
                format!("{lab}: port security let the lie through: {holds}")
            })?;
            expect_code(&["verify", lab], 0)?;
        }
        expect_code(&["down", lab], 0)?;
        assert_clean(lab)?;
    }
    // Not a lab, not a node: said so, with the exit codes of the README.
    expect_code(
        &[
            "attack",
            "arp-spoof",
            "nolab",
            "a",
            "--claim",
            "10.0.1.1",
            "--to",
            "b",
        ],
        4,
    )?;
    let f = topologies()
        .join("arp-spoofing.yaml")
        .to_string_lossy()
        .into_owned();
    let _lab = Lab("arp-open".into());
    expect_code(&["up", &f], 0)?;
    let out = expect_code(
        &[
            "attack",
            "arp-spoof",
            "arp-open",
            "mallory",
            "--claim",
            "10.0.1.1",
            "--to",
            "victim",
        ],
        2,
    )?;
    check(text(&out).contains("attacker"), || text(&out))?;
    // What the file's `arp_spoof` refuses the command refuses too, by the same check: the
    // attacker as its own victim, a victim beyond a router, an address off the victim's subnets.
    for (attacker, claim, victim, says) in [
        (
            "attacker",
            "10.0.1.1",
            "attacker",
            "`attacker` would spoof itself",
        ),
        (
            "server",
            "10.0.1.1",
            "victim",
            "`server` is not in the broadcast domain of `victim:eth0`",
        ),
        (
            "attacker",
            "10.0.9.1",
            "victim",
            "10.0.9.1 is not on a subnet of `victim`",
        ),
    ] {
        let out = expect_code(
            &[
                "attack",
                "arp-spoof",
                "arp-open",
                attacker,
                "--claim",
                claim,
                "--to",
                victim,
            ],
            2,
        )?;
        check(text(&out).contains(says), || text(&out))?;
    }
    expect_code(&["down", "arp-open"], 0)?;
    assert_clean("arp-open")
}
