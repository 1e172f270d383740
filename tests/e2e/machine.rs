//! Links to the machine itself (`host`) and TAP devices for virtual machines.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, text, topology};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "machine::link_to_the_machine_is_made_and_removed",
            machine_link,
        ),
        Test::new(
            "machine::an_existing_machine_interface_is_refused_and_untouched",
            machine_name_taken,
        ),
        Test::new(
            "machine::a_subnet_the_machine_is_on_is_refused_unless_allowed",
            machine_subnet_taken,
        ),
        Test::new("machine::tap_device_answers_a_vm_with_arp_and_ping", tap_io),
        Test::new(
            "machine::nat_on_the_machine_only_when_allowed_and_undone_by_the_last_lab",
            machine_nat,
        ),
    ]
}

/// The machine masquerades the lab out of its "uplink" and publishes a port on it. Here the
/// uplink is a link of the lab to an `isp` namespace, and the machine is a private one: the
/// real machine's firewall, forwarding and uplink are never touched.
const MACHINE_NAT_LAB: &str = "
name: NAME
nodes:
  host:
    interfaces: {INup: 198.51.100.1/24, INin: 10.N.0.1/24}
    nat:
      masquerade: [INup]
      publish:
        - {on: INup, proto: tcp, port: 8080, to: 10.N.0.2:80}
  h1: {interfaces: {eth0: 10.N.0.2/24}, gateway: 10.N.0.1}
  isp: {interfaces: {eth0: 198.51.100.2/24}}
links:
  - [host:INin, h1:eth0]
  - [host:INup, isp:eth0]
expect:
  # isp has no route to 10.N.0.0/24: only the masquerade makes it answer, to the uplink.
  - {from: h1, to: 'isp:80', proto: tcp, seen_as: 198.51.100.1}
  - {from: h1, to: isp, via: [host]}
  - {from: isp, to: '198.51.100.1:8080', proto: tcp, seen_as: isp}
  - {from: isp, to: h1, reach: false}
";

fn machine_nat() -> Result<(), String> {
    let m = crate::private::Machine::new()?;
    // Two labs on one machine: each with subnets and interface names of its own.
    let lab = |name: &str, n: &str, prefix: &str| {
        topology(
            &MACHINE_NAT_LAB
                .replace("NAME", name)
                .replace("IN", prefix)
                .replace("10.N.", &format!("10.{n}."))
                .replace("198.51.100.", &format!("198.51.{n}.")),
        )
    };
    let (_da, a) = lab("natm-a", "71", "va");
    let (_db, b) = lab("natm-b", "72", "vb");
    let (a, b) = (
        a.to_str().unwrap_or_default(),
        b.to_str().unwrap_or_default(),
    );
    let forwarding = || {
        m.sh("cat /proc/sys/net/ipv4/ip_forward")
            .map(|s| s.trim().to_owned())
    };
    let tables = || m.sh("nft list tables");
    m.sh("echo 0 > /proc/sys/net/ipv4/ip_forward")?;

    // Not asked for: refused, pointed at `nat:`, and nothing made.
    let refused = m.run(&["up", a], 4)?;
    check(text(&refused).contains("--allow-machine-nat"), || {
        text(&refused)
    })?;
    check(m.namespaces().is_empty() && forwarding()? == "0", || {
        format!("a refused up left {:?}", m.namespaces())
    })?;

    // Killed right after the table is made: `down` still removes it and puts forwarding back.
    killed_after_the_firewall(&m, a)?;
    check(
        tables()?.contains("vnet-natm-a") && forwarding()? == "1",
        || format!("nothing to clean after the kill: {:?}", tables()),
    )?;
    m.run(&["down", "natm-a"], 0)?;
    check(tables()?.trim().is_empty() && forwarding()? == "0", || {
        format!("down after the kill left {:?}", tables())
    })?;

    // The machine's own firewall reloaded (`flush ruleset` first, as nftables.service does):
    // the table and its comment are gone, and the journal still knows what forwarding was.
    m.run(&["up", a, "--allow-machine-nat"], 0)?;
    m.sh("nft flush ruleset")?;
    m.run(&["down", "natm-a"], 0)?;
    check(forwarding()? == "0", || {
        "down after a flushed ruleset left forwarding on".into()
    })?;

    m.run(&["up", a, "--allow-machine-nat"], 0)?;
    let comment = m.sh("nft list table inet vnet-natm-a")?;
    check(
        comment.contains("comment \"vnet:natm-a ip_forward=0\"") && forwarding()? == "1",
        || format!("forwarding {:?}, table:\n{comment}", forwarding()),
    )?;
    m.run(&["verify", "natm-a"], 0)?;

    // A second lab inherits what forwarding was before the first, not the 1 it set.
    m.run(&["up", b, "--allow-machine-nat"], 0)?;
    let comment = m.sh("nft list table inet vnet-natm-b")?;
    check(comment.contains("ip_forward=0"), || comment.clone())?;
    m.run(&["down", "natm-a"], 0)?;
    check(forwarding()? == "1", || {
        "the first lab down turned forwarding off under the second".into()
    })?;
    check(!tables()?.contains("vnet-natm-a"), || {
        tables().unwrap_or_default()
    })?;
    m.run(&["verify", "natm-b"], 0)?;

    // The last one down puts it back, even with its state lost.
    std::fs::remove_dir_all(m.path("/run/vnet/natm-b")).map_err(|e| e.to_string())?;
    let out = m.run(&["down", "natm-b"], 0)?;
    check(text(&out).contains("1 NAT table"), || text(&out))?;
    check(forwarding()? == "0", || "forwarding stayed on".into())?;
    check(tables()?.trim().is_empty(), || tables().unwrap_or_default())?;
    check(m.namespaces().is_empty(), || {
        format!("{:?}", m.namespaces())
    })?;
    Ok(())
}

/// `up` paused after its firewall stage, then SIGKILL.
fn killed_after_the_firewall(m: &crate::private::Machine, file: &str) -> Result<(), String> {
    use std::io::BufRead;
    let mut child = m
        .vnet(&["up", file, "--allow-machine-nat", "--progress", "never"])
        .env("VNET_PAUSE_AFTER", "firewall")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        seen.push(line);
        if seen
            .last()
            .is_some_and(|l| l.contains("paused after firewall"))
        {
            break;
        }
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL).map_err(|e| e.to_string())?;
    let _ = child.wait();
    check(
        seen.last()
            .is_some_and(|l| l.contains("paused after firewall")),
        || format!("up never reached its firewall:\n{}", seen.join("\n")),
    )
}

/// The interfaces of the test's own namespace, which stands for the machine here.
pub(crate) fn machine_interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_owned()))
        .collect()
}

const MACHINE_LAB: &str = "
name: NAME
nodes:
  host: {interfaces: {IFACE: 10.77.0.1/24}}
  h1: {interfaces: {eth0: 10.77.0.2/24}}
links:
  - [host:IFACE, h1:eth0]
expect:
  - {from: host, to: h1}
  - {from: h1, to: host}
";

fn machine_link() -> Result<(), String> {
    let (_d, file) = topology(
        &MACHINE_LAB
            .replace("NAME", "mach-a")
            .replace("IFACE", "vnetma"),
    );
    let _lab = Lab("mach-a".into());
    expect_code(&["up", file.to_str().unwrap_or_default()], 0)?;
    check(machine_interfaces().contains(&"vnetma".to_owned()), || {
        "the machine's end of the link is missing".into()
    })?;
    expect_code(&["verify", "mach-a"], 0)?;
    expect_code(&["down", "mach-a"], 0)?;
    check(!machine_interfaces().contains(&"vnetma".to_owned()), || {
        "down left the machine's interface".into()
    })?;
    assert_clean("mach-a")
}

fn machine_name_taken() -> Result<(), String> {
    // Not mach-a's subnet: both tests run at once in the same machine namespace, where two
    // interfaces on one subnet would each route the other's answers away.
    let lab = MACHINE_LAB.replace("10.77.0.", "10.78.0.");
    let (_d1, f1) = topology(&lab.replace("NAME", "mach-b").replace("IFACE", "vnetmb"));
    let (_d2, f2) = topology(&lab.replace("NAME", "mach-c").replace("IFACE", "vnetmb"));
    let _lab = Lab("mach-b".into());
    expect_code(&["up", f1.to_str().unwrap_or_default()], 0)?;
    let out = expect_code(&["up", f2.to_str().unwrap_or_default()], 4)?;
    check(
        String::from_utf8_lossy(&out.stderr).contains("`vnetmb` already exists on this machine"),
        || text(&out),
    )?;
    assert_clean("mach-c")?;
    // The first lab's link is untouched and still works.
    expect_code(&["verify", "mach-b"], 0)?;
    expect_code(&["down", "mach-b"], 0)?;
    check(!machine_interfaces().contains(&"vnetmb".to_owned()), || {
        "down left the machine's interface".into()
    })?;
    assert_clean("mach-b")
}

/// The machine is already on the lab's subnet (its own interface, or another lab's link): the
/// lab would make it route that subnet two ways, so `up` refuses, at the address, and makes
/// nothing; `--allow-machine-routes` lets it through.
fn machine_subnet_taken() -> Result<(), String> {
    let m = crate::private::Machine::new()?;
    let lab = |name: &str, iface: &str| {
        topology(
            &MACHINE_LAB
                .replace("NAME", name)
                .replace("IFACE", iface)
                .replace("10.77.0.", "10.76.0."),
        )
    };
    let (_da, a) = lab("subnet-a", "vnetsa");
    let (_db, b) = lab("subnet-b", "vnetsb");
    let (a, b) = (
        a.to_str().unwrap_or_default(),
        b.to_str().unwrap_or_default(),
    );
    // The machine's own interface on 10.76.0.0/16, a subnet that holds the lab's /24.
    m.sh("ip link add mine0 type veth peer name mine1 && ip addr add 10.76.9.9/16 dev mine0")?;
    let refused = m.run(&["up", a], 4)?;
    let said = unwrapped(&refused);
    check(
        said.contains(
            "10.76.0.0/24 overlaps the machine's 10.76.0.0/16 (`10.76.9.9/16` on its `mine0`)",
        ) && said.contains("`host:vnetsa` takes 10.76.0.1/24")
            && said.contains("--allow-machine-routes"),
        || said.clone(),
    )?;
    check(
        m.namespaces().is_empty() && !m.interfaces().contains(&"vnetsa".to_owned()),
        || {
            format!(
                "a refused up made {:?} {:?}",
                m.namespaces(),
                m.interfaces()
            )
        },
    )?;
    // `validate` says so too, as a warning: the file is valid.
    let warned = unwrapped(&m.run(&["validate", a], 0)?);
    check(
        warned.contains("⚠ 10.76.0.0/24 overlaps the machine's 10.76.0.0/16")
            && warned.contains("need `--allow-machine-routes`"),
        || warned.clone(),
    )?;
    m.sh("ip link del mine0")?;

    // Another lab's link on the subnet counts the same: the second lab is refused, the first
    // still works.
    m.run(&["up", a], 0)?;
    let refused = m.run(&["up", b], 4)?;
    check(
        unwrapped(&refused)
            .contains("the machine is already on 10.76.0.0/24 (`10.76.0.1/24` on its `vnetsa`)"),
        || text(&refused),
    )?;
    check(!m.interfaces().contains(&"vnetsb".to_owned()), || {
        "the refused lab made its link".into()
    })?;
    m.run(&["verify", "subnet-a"], 0)?;
    // Allowed: built (and, with two routes to one subnet on the machine, its own problem).
    m.run(
        &["up", b, "--allow-machine-routes", "--progress", "never"],
        0,
    )?;
    check(m.interfaces().contains(&"vnetsb".to_owned()), || {
        format!("allowed, yet {:?}", m.interfaces())
    })?;
    m.run(&["down", "subnet-b"], 0)?;
    m.run(&["down", "subnet-a"], 0)?;
    check(m.namespaces().is_empty(), || {
        format!("{:?}", m.namespaces())
    })?;

    // Both brought up at once: one wins, the other finds the subnet taken.
    let started: Vec<std::process::Child> = [a, b]
        .iter()
        .map(|f| {
            m.vnet(&["up", f, "--progress", "never"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let mut codes: Vec<Option<i32>> = started
        .into_iter()
        .map(|mut c| c.wait().map(|s| s.code()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    codes.sort();
    let _ = m.run(&["down", "--all"], 0);
    check(codes == vec![Some(0), Some(4)], || {
        format!("two ups at once on one subnet exited {codes:?}")
    })?;

    // With a route that takes over the machine's default route as well: both in one refusal.
    let both = MACHINE_LAB
        .replace("NAME", "subnet-c")
        .replace("IFACE", "vnetsc")
        .replace("10.77.0.", "10.76.0.")
        .replace(
            "{interfaces: {vnetsc: 10.76.0.1/24}}",
            "{interfaces: {vnetsc: 10.76.0.1/24}, routes: [{to: default, via: 10.76.0.2}]}",
        );
    let (_dc, c) = topology(&both);
    m.sh("ip link add mine0 type veth peer name mine1 && ip addr add 10.76.0.200/24 dev mine0")?;
    let refused = m.run(&["up", c.to_str().unwrap_or_default()], 4)?;
    let said = unwrapped(&refused);
    check(
        said.contains("vnet::machine_subnet") && said.contains("vnet::machine_route"),
        || said.clone(),
    )?;
    check(m.namespaces().is_empty(), || {
        format!("{:?}", m.namespaces())
    })
}

/// What a command said, with the diagnostic's line wrapping and box drawing taken out.
fn unwrapped(out: &std::process::Output) -> String {
    text(out)
        .split_whitespace()
        .filter(|w| !matches!(*w, "│" | "·"))
        .collect::<Vec<_>>()
        .join(" ")
}

const TAP_LAB: &str = "
name: tap-io
nodes:
  br: {kind: bridge}
  h1: {interfaces: {eth0: 10.66.0.1/24}}
links:
  - [h1:eth0, br:p1]
  - {tap: br:vm1, owner: 65534, group: 65534}
";

const VM_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
const VM_IP: [u8; 4] = [10, 66, 0, 99];
const H1_IP: [u8; 4] = [10, 66, 0, 1];

/// Plays the virtual machine: opens the TAP, asks for h1's MAC with ARP, pings it, and
/// answers h1's own ARP questions on the way.
fn tap_io() -> Result<(), String> {
    let (_d, file) = topology(TAP_LAB);
    let _lab = Lab("tap-io".into());
    expect_code(&["up", file.to_str().unwrap_or_default()], 0)?;
    let details = expect_code(
        &[
            "exec", "tap-io", "br", "--", "ip", "-d", "link", "show", "vm1",
        ],
        0,
    )?;
    let d = String::from_utf8_lossy(&details.stdout);
    check(
        d.contains("master br")
            && d.contains("type tap")
            && d.contains("persist on")
            && (d.contains("user 65534") || d.contains("user nobody")),
        || text(&details),
    )?;
    let ns = std::fs::File::open("/run/netns/tap-io.br").map_err(|e| e.to_string())?;
    let result = std::thread::scope(|s| {
        s.spawn(|| -> Result<(), String> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| e.to_string())?;
            let mut tap = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")
                .map_err(|e| e.to_string())?;
            vnet::apply::tap::attach(tap.as_raw_fd(), "vm1")
                .map_err(|e| format!("cannot open the TAP: {e}"))?;
            // SAFETY: plain fcntl on our own descriptor.
            unsafe { libc::fcntl(tap.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            let ask = arp(1, [0xff; 6], VM_MAC, VM_IP, [0; 6], H1_IP);
            let h1_mac = wait_for(&mut tap, &ask, |f| {
                (f.len() >= 42 && f[12..14] == [8, 6] && f[20..22] == [0, 2] && f[28..32] == H1_IP)
                    .then(|| {
                        let mut m = [0u8; 6];
                        m.copy_from_slice(&f[22..28]);
                        m
                    })
            })
            .ok_or("no ARP reply from h1 on the TAP")?;
            wait_for(&mut tap, &echo(h1_mac), |f| {
                (f.len() >= 42
                    && f[12..14] == [8, 0]
                    && f[23] == 1
                    && f[26..30] == H1_IP
                    && f[34] == 0)
                    .then_some(())
            })
            .ok_or_else(|| "no ICMP echo reply from h1 on the TAP".to_owned())
        })
        .join()
        .unwrap_or_else(|_| Err("the VM thread panicked".into()))
    });
    result?;
    expect_code(&["down", "tap-io"], 0)?;
    assert_clean("tap-io")
}

/// Sends `frame` (again every 200 ms: the port forwards only once the kernel has seen the
/// TAP's carrier come up) and reads frames for up to five seconds until `want` recognises one;
/// answers ARP requests for the VM's address meanwhile (h1 asks before it replies).
fn wait_for<T>(
    tap: &mut std::fs::File,
    frame: &[u8],
    want: impl Fn(&[u8]) -> Option<T>,
) -> Option<T> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    let mut next_send = std::time::Instant::now();
    while std::time::Instant::now() < until {
        if std::time::Instant::now() >= next_send {
            let _ = tap.write_all(frame);
            next_send = std::time::Instant::now() + std::time::Duration::from_millis(200);
        }
        match tap.read(&mut buf) {
            Ok(n) => {
                let f = &buf[..n];
                if let Some(t) = want(f) {
                    return Some(t);
                }
                if f.len() >= 42 && f[12..14] == [8, 6] && f[20..22] == [0, 1] && f[38..42] == VM_IP
                {
                    let mut asker = [0u8; 6];
                    asker.copy_from_slice(&f[22..28]);
                    let mut ip = [0u8; 4];
                    ip.copy_from_slice(&f[28..32]);
                    let _ = tap.write_all(&arp(2, asker, VM_MAC, VM_IP, asker, ip));
                }
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    None
}

fn arp(op: u8, dst: [u8; 6], sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, op]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

fn checksum(data: &[u8]) -> [u8; 2] {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    (!(sum as u16)).to_be_bytes()
}

fn echo(dst: [u8; 6]) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend_from_slice(b"vnet tap test");
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c);
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&VM_IP);
    ip.extend_from_slice(&H1_IP);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c);
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&VM_MAC);
    f.extend_from_slice(&[8, 0]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}
