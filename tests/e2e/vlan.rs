//! 802.1Q switches in both builds, and port security against ARP spoofing.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::harness::{
    Feature, Lab, Test, assert_clean, check, expect_code, text, topologies, topology,
};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "vlan::the_kernel_decides_the_mode_and_native_is_refused_without_8021q",
            mode_follows_kernel,
        ),
        Test::new("vlan::emulated_build_passes_the_vlan_office", || {
            forced("emulated")
        }),
        Test::new("vlan::native_build_passes_the_vlan_office", || {
            forced("native")
        })
        .needs(Feature::NativeVlans),
        Test::new(
            "vlan::status_shows_port_modes_and_vlans",
            status_shows_ports,
        ),
        Test::new("vlan::arp_spoofing_poisons_without_port_security", || {
            spoof(false)
        }),
        Test::new("vlan::port_security_stops_arp_spoofing", || spoof(true)),
    ]
}

fn office() -> String {
    topologies()
        .join("vlan-office.yaml")
        .to_string_lossy()
        .into_owned()
}

/// Native when the kernel has 802.1Q (the stock-kernel lane must), emulated otherwise; and
/// `--vlan-mode native` on a kernel without it fails before creating anything.
fn mode_follows_kernel() -> Result<(), String> {
    let native = vnet::apply::probe::native_vlans_missing().is_none();
    if std::env::var_os("VNET_KERNEL_LANE").is_some() {
        check(native, || {
            "the stock kernel must build VLANs natively".into()
        })?;
    }
    let yaml = std::fs::read_to_string(office())
        .map_err(|e| e.to_string())?
        .replace("name: vlan-office", "name: vlan-mode");
    let (_d, file) = topology(&yaml);
    let f = file.to_string_lossy().into_owned();
    if native {
        let out = expect_code(&["test", &f, "--vlan-mode", "native"], 0)?;
        check(
            String::from_utf8_lossy(&out.stderr).contains("VLAN mode: native"),
            || text(&out),
        )?;
    } else {
        let out = expect_code(&["up", &f, "--vlan-mode", "native"], 4)?;
        let err = crate::harness::flat(&String::from_utf8_lossy(&out.stderr));
        check(
            err.contains("kernel cannot build this lab; nothing was created")
                && err.contains("this kernel lacks")
                && err.contains("802.1Q switch `acc1` needs it")
                && err.contains("--vlan-mode emulated"),
            || text(&out),
        )?;
        let auto = expect_code(&["test", &f], 0)?;
        check(
            String::from_utf8_lossy(&auto.stderr).contains("VLAN mode: emulated"),
            || text(&auto),
        )?;
    }
    assert_clean("vlan-mode")
}

fn forced(mode: &str) -> Result<(), String> {
    let yaml = std::fs::read_to_string(office())
        .map_err(|e| e.to_string())?
        .replace("name: vlan-office", &format!("name: vlan-{mode}"));
    let (_d, file) = topology(&yaml);
    let out = expect_code(
        &[
            "test",
            file.to_str().unwrap_or_default(),
            "--vlan-mode",
            mode,
        ],
        0,
    )?;
    check(
        String::from_utf8_lossy(&out.stdout).contains("all passed"),
        || text(&out),
    )?;
    assert_clean(&format!("vlan-{mode}"))
}

fn status_shows_ports() -> Result<(), String> {
    let yaml = std::fs::read_to_string(topologies().join("router-on-a-stick.yaml"))
        .map_err(|e| e.to_string())?
        .replace("name: stick", "name: vlan-status");
    let (_d, file) = topology(&yaml);
    let _lab = Lab("vlan-status".into());
    expect_code(&["up", file.to_str().unwrap_or_default()], 0)?;
    let out = expect_code(&["status", "vlan-status"], 0)?;
    let s = String::from_utf8_lossy(&out.stdout);
    check(
        s.contains("t1 trunk 10,20") && s.contains("p3 access 20") && s.contains("VLAN mode"),
        || text(&out),
    )?;
    expect_code(&["down", "vlan-status"], 0)?;
    assert_clean("vlan-status")
}

const SPOOF: &str = "
name: NAME
nodes:
  victim: {interfaces: {eth0: {addresses: [10.0.10.2/24], mac: '02:00:00:00:00:02'}}}
  gw: {interfaces: {eth0: {addresses: [10.0.10.1/24], mac: '02:00:00:00:00:01'}}}
  attacker: {interfaces: {eth0: {addresses: [10.0.10.66/24], mac: '02:00:00:00:00:66'}}}
  sw:
    kind: switch
    ports:
      pv: {vlan: 10}
      pg: {vlan: 10}
      pa: {vlan: 10ALLOW}
links:
  - [victim:eth0, sw:pv]
  - [gw:eth0, sw:pg]
  - [attacker:eth0, sw:pa]
expect:
  - {from: victim, to: gw}
";

/// The article's ARP spoofing: the attacker tells the victim, unasked, that the gateway's
/// address lives at the attacker's MAC. Without port security the victim believes it.
fn spoof(secured: bool) -> Result<(), String> {
    let name = if secured { "arp-secured" } else { "arp-open" };
    let allow = if secured {
        ", allow: [{mac: '02:00:00:00:00:66', ip: 10.0.10.66}]"
    } else {
        ""
    };
    let (_d, file) = topology(&SPOOF.replace("NAME", name).replace("ALLOW", allow));
    let _lab = Lab(name.into());
    expect_code(&["up", file.to_str().unwrap_or_default()], 0)?;
    // The victim talks to the gateway: its ARP cache now holds the gateway's real MAC.
    expect_code(&["verify", name], 0)?;
    check(gateway_mac(name)? == "02:00:00:00:00:01", || {
        "the victim did not learn the gateway".into()
    })?;
    // Linux ignores a new MAC for an entry updated less than `locktime` (1 s) ago.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    forge_reply(&format!("/run/netns/{name}.attacker"))?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    let seen = gateway_mac(name)?;
    if secured {
        check(seen == "02:00:00:00:00:01", || {
            format!("port security let the forged reply through: {seen}")
        })?;
    } else {
        check(seen == "02:00:00:00:00:66", || {
            format!("the forged reply did not poison the cache: {seen}")
        })?;
    }
    expect_code(&["down", name], 0)?;
    assert_clean(name)
}

/// The MAC the victim's ARP cache holds for the gateway's address.
fn gateway_mac(lab: &str) -> Result<String, String> {
    let out = expect_code(&["exec", lab, "victim", "--", "cat", "/proc/net/arp"], 0)?;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    table
        .lines()
        .find(|l| l.starts_with("10.0.10.1 "))
        .and_then(|l| l.split_whitespace().nth(3))
        .map(str::to_owned)
        .ok_or_else(|| format!("no entry for the gateway:\n{table}"))
}

/// Sends a forged, unsolicited ARP reply from the attacker's namespace, crafted on a packet
/// socket: "10.0.10.1 is at 02:00:00:00:00:66", to the victim.
fn forge_reply(ns: &str) -> Result<(), String> {
    let ns = std::fs::File::open(ns).map_err(|e| e.to_string())?;
    std::thread::scope(|s| {
        s.spawn(|| -> Result<(), String> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| e.to_string())?;
            let eth_p_arp: u16 = 0x0806;
            // SAFETY: plain socket(2); the result is checked before it is owned.
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_DGRAM,
                    i32::from(eth_p_arp.to_be()),
                )
            };
            if raw < 0 {
                return Err(std::io::Error::last_os_error().to_string());
            }
            // SAFETY: a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let ifindex = nix::net::if_::if_nametoindex("eth0").map_err(|e| e.to_string())?;
            let attacker = [2, 0, 0, 0, 0, 0x66];
            let victim = [2, 0, 0, 0, 0, 2];
            let mut p = Vec::with_capacity(28);
            p.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]); // Ethernet/IPv4, reply
            p.extend_from_slice(&attacker);
            p.extend_from_slice(&[10, 0, 10, 1]); // the lie: the gateway's address
            p.extend_from_slice(&victim);
            p.extend_from_slice(&[10, 0, 10, 2]);
            // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
            let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            to.sll_family = libc::AF_PACKET as u16;
            to.sll_protocol = eth_p_arp.to_be();
            to.sll_ifindex = ifindex as i32;
            to.sll_halen = 6;
            to.sll_addr[..6].copy_from_slice(&victim);
            for _ in 0..3 {
                // SAFETY: sends our buffer to a correctly sized, initialised address.
                let r = unsafe {
                    libc::sendto(
                        fd.as_raw_fd(),
                        p.as_ptr().cast(),
                        p.len(),
                        0,
                        (&raw const to).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as u32,
                    )
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err("the forging thread panicked".into()))
    })
}
