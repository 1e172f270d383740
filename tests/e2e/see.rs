//! Seeing into a running lab: `capture` (pcap and lines, several interfaces, limits, Ctrl-C)
//! and `exec` without a command (a shell inside the node).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Lab, Test, assert_clean, check, expect_code, on_path, text, topology, vnet};
use crate::pcap_files::{Frame, echo_requests, read_pcap, read_pcapng};

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "see::capture_pcap_holds_every_echo_request_verify_sent",
            capture_pcap_counts,
        ),
        Test::new(
            "see::capture_lines_of_two_interfaces_are_labelled_and_in_time_order",
            capture_lines_merged,
        ),
        Test::new("see::capture_count_stops_after_n_frames", capture_count),
        Test::new(
            "see::capture_sigint_stops_and_leaves_a_whole_pcap",
            capture_sigint,
        ),
        Test::new(
            "see::capture_unknown_node_or_interface_exits_2_with_a_hint",
            capture_errors,
        ),
        Test::new(
            "see::capture_pcapng_of_two_interfaces_keeps_each_frames_interface",
            capture_pcapng,
        ),
        Test::new(
            "see::with_two_labs_running_the_hint_is_the_command_typed_with_lab",
            which_lab_hint,
        ),
        Test::new(
            "see::exec_without_a_command_runs_a_shell_in_the_node",
            exec_shell,
        ),
        Test::new(
            "see::graph_of_a_running_lab_marks_the_link_taken_down",
            graph_marks_down,
        )
        .needs(crate::harness::Feature::Program("ip", "iproute2")),
        Test::new(
            "see::graph_of_a_running_lab_shows_runtime_impairments_and_links_taken_down",
            graph_runtime,
        )
        .needs(crate::harness::Feature::Kernel(
            vnet::model::feature::Feature::Tbf,
        )),
    ]
}

/// `a` and `b` on a bridge, both IP versions; every check answers on its first try.
fn lab(name: &str) -> (tempfile::TempDir, String) {
    let (d, f) = topology(&format!(
        "name: {name}
nodes:
  a: {{interfaces: {{eth0: [10.70.0.1/24, fd00:70::1/64]}}}}
  b: {{interfaces: {{eth0: [10.70.0.2/24, fd00:70::2/64]}}}}
  sw: {{kind: bridge}}
links:
  - [a:eth0, sw:p1]
  - [b:eth0, sw:p2]
expect:
  - {{from: a, to: b}}
  - {{from: a, to: 'fd00:70::2'}}
  - {{from: b, to: a}}
"
    ));
    (d, f.to_string_lossy().into_owned())
}

/// A capture started in the background, returned once it has said it is watching (its
/// sockets are open, so nothing sent from then on is missed).
fn start(args: &[&str]) -> Result<(Child, BufReader<std::process::ChildStderr>), String> {
    let mut child = vnet(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut err = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    err.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("capturing on") {
        let _ = child.kill();
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!(
            "`vnet {}` did not start: {line}\n{}",
            args.join(" "),
            text(&out)
        ));
    }
    Ok((child, err))
}

/// Waits for a capture to end by itself, within `limit`; its stdout and the rest of stderr.
fn finish(
    mut child: Child,
    mut err: BufReader<std::process::ChildStderr>,
    limit: Duration,
) -> Result<(Option<i32>, Vec<u8>, String), String> {
    let until = Instant::now() + limit;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        out
    });
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the capture was still running after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    Ok((status.code(), reader.join().unwrap_or_default(), rest))
}

fn capture_pcap_counts() -> Result<(), String> {
    let (dir, file) = lab("cpcap");
    let _lab = Lab("cpcap".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let pcap = dir.path().join("a.pcap");
    let pcap_s = pcap.to_string_lossy().into_owned();
    let (child, err) = start(&[
        "capture",
        "cpcap",
        "a:eth0",
        "-w",
        &pcap_s,
        "--timeout",
        "4s",
    ])?;
    let out = expect_code(&["verify", "cpcap", "--json", "--progress", "never"], 0)?;
    let (code, _, rest) = finish(child, err, Duration::from_secs(10))?;
    check(code == Some(0), || format!("capture exit {code:?}: {rest}"))?;
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let rows = doc["checks"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // What verify sent from `a`: one echo per try until the answer, per check.
    let tries = |address: &str| -> u64 {
        rows.iter()
            .filter(|r| r["from"] == "a" && r["address"] == address)
            .map(|r| r["try_no"].as_u64().unwrap_or(0))
            .sum()
    };
    let (sent4, sent6) = (tries("10.70.0.2"), tries("fd00:70::2"));
    let bytes = std::fs::read(&pcap).map_err(|e| e.to_string())?;
    let (link, frames) = read_pcap(&bytes)?;
    check(link == 1, || format!("link type {link}, not Ethernet"))?;
    let mut v6 = [0u8; 16];
    v6[..2].copy_from_slice(&[0xfd, 0x00]);
    v6[2..4].copy_from_slice(&[0x00, 0x70]);
    v6[15] = 1;
    let (seen4, seen6) = echo_requests(&frames, [10, 70, 0, 1], v6);
    check(
        sent4 >= 1 && sent6 >= 1 && (seen4, seen6) == (sent4 as usize, sent6 as usize),
        || {
            format!(
                "verify sent {sent4} IPv4 and {sent6} IPv6 echo requests from a; the pcap of a:eth0 holds {seen4} and {seen6}\n{}",
                text(&out)
            )
        },
    )?;
    // `b` answered `a`'s pings and pinged `a`: its requests arrive at a:eth0 too.
    let (from_b, _) = echo_requests(&frames, [10, 70, 0, 2], [0; 16]);
    check(from_b >= 1, || {
        "b's echo request to a is not in a's capture".into()
    })?;
    check(rest.contains("captured (the time was up)"), || rest.clone())?;
    // tcpdump, where the machine has it, reads the file as its own.
    if on_path("tcpdump") {
        let t = Command::new("tcpdump")
            .args(["-n", "-r", &pcap_s])
            .output()
            .map_err(|e| e.to_string())?;
        let lines = String::from_utf8_lossy(&t.stdout).lines().count();
        check(t.status.success() && lines == frames.len(), || {
            format!(
                "tcpdump -r read {lines} of {} frames: {}",
                frames.len(),
                text(&t)
            )
        })?;
    }
    expect_code(&["down", "cpcap"], 0)?;
    assert_clean("cpcap")
}

fn capture_lines_merged() -> Result<(), String> {
    let (_d, file) = lab("clines");
    let _lab = Lab("clines".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let (child, err) = start(&["capture", "clines", "a:eth0", "b:eth0", "--timeout", "3s"])?;
    expect_code(&["verify", "clines", "--progress", "never"], 0)?;
    let (code, out, rest) = finish(child, err, Duration::from_secs(10))?;
    let out = String::from_utf8_lossy(&out).into_owned();
    check(code == Some(0), || format!("exit {code:?}: {rest}"))?;
    let lines: Vec<&str> = out.lines().collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    check(
        has(" a:eth0 ")
            && has(" b:eth0 ")
            && has("10.70.0.1 > 10.70.0.2: ICMP echo request, id ")
            && has("10.70.0.2 > 10.70.0.1: ICMP echo reply, id ")
            // Whichever of a and b asks first (their checks run at once), the other answers.
            && (has("Request who-has 10.70.0.2 tell 10.70.0.1, length 28")
                || has("Request who-has 10.70.0.1 tell 10.70.0.2, length 28"))
            && (has("Reply 10.70.0.2 is-at ") || has("Reply 10.70.0.1 is-at "))
            && has("fd00:70::1 > fd00:70::2: ICMP6, echo request")
            && has("ethertype IPv4 (0x0800), length "),
        || out.clone(),
    )?;
    // Merged by the kernel's stamps: `HH:MM:SS.micro` never goes back (a capture is
    // seconds long, so no midnight in between but by bad luck, which the check allows).
    let stamps: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').next()).collect();
    let back = stamps.windows(2).filter(|w| w[1] < w[0]).count();
    check(back == 0 || stamps.first() > stamps.last(), || {
        format!("lines out of time order:\n{out}")
    })?;
    expect_code(&["down", "clines"], 0)?;
    assert_clean("clines")
}

fn capture_count() -> Result<(), String> {
    let (_d, file) = lab("ccount");
    let _lab = Lab("ccount".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let (child, err) = start(&["capture", "ccount", "a:eth0", "--count", "3"])?;
    expect_code(&["verify", "ccount", "--progress", "never"], 0)?;
    // No timeout given: the capture must end by itself once it has three frames.
    let (code, out, rest) = finish(child, err, Duration::from_secs(10))?;
    let out = String::from_utf8_lossy(&out).into_owned();
    check(code == Some(0) && out.lines().count() == 3, || {
        format!("exit {code:?}, {} lines:\n{out}{rest}", out.lines().count())
    })?;
    check(
        rest.contains("3 frames captured (the count was reached)"),
        || rest.clone(),
    )?;
    expect_code(&["down", "ccount"], 0)?;
    assert_clean("ccount")
}

fn capture_sigint() -> Result<(), String> {
    let (dir, file) = lab("csig");
    let _lab = Lab("csig".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let pcap = dir.path().join("s.pcap");
    let pcap_s = pcap.to_string_lossy().into_owned();
    let (child, err) = start(&["capture", "csig", "a:eth0", "b:eth0", "-w", &pcap_s])?;
    expect_code(&["verify", "csig", "--progress", "never"], 0)?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::SIGINT).map_err(|e| e.to_string())?;
    let (code, _, rest) = finish(child, err, Duration::from_secs(5))?;
    check(code == Some(0) && rest.contains("(interrupted)"), || {
        format!("exit {code:?}: {rest}")
    })?;
    let (_, frames) = read_pcap(&std::fs::read(&pcap).map_err(|e| e.to_string())?)?;
    check(frames.len() >= 6, || {
        format!("only {} frames", frames.len())
    })?;
    check(frames.windows(2).all(|w| w[0].0 <= w[1].0), || {
        "pcap records out of time order".into()
    })?;
    // And to standard output, as `| wireshark -k -i -` reads it.
    let mut child = vnet(&["capture", "csig", "a:eth0", "-w", "-", "--timeout", "2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    expect_code(&["verify", "csig", "--progress", "never"], 0)?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().ok_or("no stdout")?, &mut out)
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let (_, frames) = read_pcap(&out)?;
    check(status.success() && !frames.is_empty(), || {
        format!("-w -: {status:?}, {} frames", frames.len())
    })?;
    expect_code(&["down", "csig"], 0)?;
    assert_clean("csig")
}

fn capture_errors() -> Result<(), String> {
    let (_d, file) = lab("cerr");
    let _lab = Lab("cerr".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let cases: [(&[&str], &str); 4] = [
        (
            &["capture", "cerr", "a:eth9"],
            "node a has no interface `eth9` help: interfaces of a: eth0",
        ),
        (
            &["capture", "cerr", "zz:eth0"],
            "lab `cerr` has no node `zz` help: nodes of `cerr`: a, b, sw",
        ),
        (&["capture", "cerr", "a"], "`a` is not NODE:IF"),
        (
            &["capture", "cerr", "a:eth0", "--timeout", "soon"],
            "`soon` is not a duration",
        ),
    ];
    for (args, words) in cases {
        let out = expect_code(args, 2)?;
        let said = crate::harness::flat(&String::from_utf8_lossy(&out.stderr));
        check(said.contains(words), || {
            format!("`vnet {}`: {said}", args.join(" "))
        })?;
    }
    expect_code(&["down", "cerr"], 0)?;
    assert_clean("cerr")
}

/// Two interfaces into one pcapng file: each frame keeps the interface it was seen on, so
/// a's echo requests to b are a's frames (on a:eth0) and b's frames alike, each once.
fn capture_pcapng() -> Result<(), String> {
    let (dir, file) = lab("cpng");
    let _lab = Lab("cpng".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let by_name = dir.path().join("two.pcapng");
    let by_name_s = by_name.to_string_lossy().into_owned();
    let (child, err) = start(&[
        "capture",
        "cpng",
        "a:eth0",
        "b:eth0",
        "-w",
        &by_name_s,
        "--timeout",
        "3s",
    ])?;
    expect_code(&["verify", "cpng", "--progress", "never"], 0)?;
    let (code, _, rest) = finish(child, err, Duration::from_secs(10))?;
    check(code == Some(0), || format!("exit {code:?}: {rest}"))?;
    let (names, frames) = read_pcapng(&std::fs::read(&by_name).map_err(|e| e.to_string())?)?;
    check(names == ["a:eth0", "b:eth0"], || {
        format!("interfaces {names:?}")
    })?;
    let on = |id: u32| -> Vec<Frame> {
        frames
            .iter()
            .filter(|f| f.0 == id)
            .map(|f| (f.1, f.2.clone()))
            .collect()
    };
    let (at_a, at_b) = (on(0), on(1));
    // a's echo requests to b cross a:eth0 (sent) and b:eth0 (received): one copy on each.
    let (from_a_on_a, _) = echo_requests(&at_a, [10, 70, 0, 1], [0; 16]);
    let (from_a_on_b, _) = echo_requests(&at_b, [10, 70, 0, 1], [0; 16]);
    check(from_a_on_a >= 1 && from_a_on_a == from_a_on_b, || {
        format!("a's echo requests: {from_a_on_a} on a:eth0, {from_a_on_b} on b:eth0")
    })?;
    // Requests one way, replies the other: each interface saw both ends' source MACs.
    let macs = |fs: &[Frame]| -> std::collections::BTreeSet<Vec<u8>> {
        fs.iter()
            .filter_map(|f| f.1.get(6..12).map(<[u8]>::to_vec))
            .collect()
    };
    check(macs(&at_a).len() >= 2 && macs(&at_b).len() >= 2, || {
        "each interface saw frames of both ends".into()
    })?;
    let stamps: Vec<u64> = frames.iter().map(|f| f.1).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    check(
        stamps.windows(2).all(|w| w[0] <= w[1])
            && stamps.iter().all(|s| now.saturating_sub(*s) < 60_000_000),
        || format!("stamps out of order or not of the last minute: {stamps:?}"),
    )?;
    // `--format pcapng` to standard output, whatever the name.
    let mut child = vnet(&[
        "capture",
        "cpng",
        "a:eth0",
        "-w",
        "-",
        "--format",
        "pcapng",
        "--timeout",
        "2s",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    expect_code(&["verify", "cpng", "--progress", "never"], 0)?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().ok_or("no stdout")?, &mut out)
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let (names, frames) = read_pcapng(&out)?;
    check(
        status.success() && names == ["a:eth0"] && !frames.is_empty(),
        || {
            format!(
                "--format pcapng: {status:?}, {names:?}, {} frames",
                frames.len()
            )
        },
    )?;
    if on_path("tcpdump") {
        let t = Command::new("tcpdump")
            .args(["-n", "-r", &by_name_s])
            .output()
            .map_err(|e| e.to_string())?;
        check(t.status.success(), || format!("tcpdump -r: {}", text(&t)))?;
    }
    // The same interface twice, and a count of 0, are refused before anything is opened.
    let twice = expect_code(&["capture", "cpng", "a:eth0", "a:eth0"], 2)?;
    check(
        String::from_utf8_lossy(&twice.stderr).contains("`a:eth0` is named twice"),
        || text(&twice),
    )?;
    expect_code(&["capture", "cpng", "a:eth0", "--count", "0"], 2)?;
    expect_code(&["down", "cpng"], 0)?;
    assert_clean("cpng")
}

/// Two labs running and none named: the hint is the very command typed, with LAB put in.
fn which_lab_hint() -> Result<(), String> {
    let (_d1, one) = lab("cwone");
    let (_d2, two) = lab("cwtwo");
    let _labs = (Lab("cwone".into()), Lab("cwtwo".into()));
    expect_code(&["up", &one, "--progress", "never"], 0)?;
    expect_code(&["up", &two, "--progress", "never"], 0)?;
    for (args, hint) in [
        (
            &["capture", "a:eth0", "b:eth0", "--count", "2"][..],
            "name the lab: `vnet capture LAB a:eth0 b:eth0 --count 2`",
        ),
        (
            &["exec", "a", "--", "true"][..],
            "name the lab: `vnet exec LAB a -- true`",
        ),
    ] {
        let out = expect_code(args, 2)?;
        let said = crate::harness::flat(&String::from_utf8_lossy(&out.stderr));
        // Other tests' labs may be running too: at least these two are.
        check(
            said.contains(" labs are running (") && said.contains(hint),
            || format!("`vnet {}`: {said}", args.join(" ")),
        )?;
        check(!said.contains("``"), || {
            format!("doubled backticks: {said}")
        })?;
    }
    expect_code(&["down", "cwone"], 0)?;
    expect_code(&["down", "cwtwo"], 0)?;
    assert_clean("cwone")?;
    assert_clean("cwtwo")
}

/// What `vnet link` and `vnet impair` changed is drawn: the link taken down as such, the
/// impairment set at runtime at its end; with the lab put back, neither.
fn graph_runtime() -> Result<(), String> {
    let (_d, file) = lab("cgrt");
    let _lab = Lab("cgrt".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    expect_code(&["link", "cgrt", "b:eth0", "down"], 0)?;
    expect_code(&["impair", "cgrt", "a:eth0", "--rate", "500kbit"], 0)?;
    for format in ["mermaid", "dot", "svg"] {
        let out = expect_code(&["graph", "cgrt", "--format", format], 0)?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        check(
            said.contains("DOWN: b:eth0 is taken down with vnet link")
                && said.contains("sends rate 500kbit (at runtime)")
                && said.matches("DOWN").count() == 1,
            || format!("{format}:\n{said}"),
        )?;
    }
    expect_code(&["link", "cgrt", "b:eth0", "up"], 0)?;
    expect_code(&["impair", "cgrt", "a:eth0", "--clear"], 0)?;
    let out = expect_code(&["graph", "cgrt"], 0)?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    check(!said.contains("DOWN") && !said.contains("sends"), || {
        said.clone()
    })?;
    expect_code(&["down", "cgrt"], 0)?;
    assert_clean("cgrt")
}

fn exec_shell() -> Result<(), String> {
    let (_d, file) = lab("cshell");
    let _lab = Lab("cshell".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let mut shells = vec!["/bin/sh"];
    if std::path::Path::new("/bin/bash").is_file() {
        shells.push("/bin/bash");
    }
    for shell in shells {
        let mut child = vnet(&["exec", "cshell", "b"])
            .env("SHELL", shell)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(b"echo node=$VNET_NODE lab=$VNET_LAB; echo \"ps1=$PS1\"; cat /proc/net/dev; exit 7\n")
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        // bash drops PS1 when it is not interactive (stdin a pipe); the terminal case below
        // sees its prompt.
        let prompt = if shell.ends_with("bash") {
            "ps1="
        } else {
            "ps1=[cshell.b] # "
        };
        // Inside b's namespace: its eth0 and lo, none of the machine's devices.
        check(
            out.status.code() == Some(7)
                && said.contains("node=b lab=cshell")
                && said.contains(prompt)
                && said.contains("eth0:")
                && said.contains("lo:")
                && said.lines().filter(|l| l.contains(':')).count() == 2,
            || format!("SHELL={shell}:\n{}", text(&out)),
        )?;
    }
    // At a terminal (script(1) makes one) bash is interactive and shows the prompt.
    if on_path("script") && std::path::Path::new("/bin/bash").is_file() {
        let bin = crate::harness::vnet_bin();
        let mut child = Command::new("script")
            .args([
                "-qec",
                &format!("{} exec cshell b", bin.display()),
                "/dev/null",
            ])
            .env("SHELL", "/bin/bash")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin
            .write_all(b"echo in-$VNET_NODE\nexit\n")
            .map_err(|e| e.to_string())?;
        drop(stdin);
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        check(
            said.contains("[cshell.b] /# ") && said.contains("in-b"),
            || format!("bash at a terminal:\n{}", text(&out)),
        )?;
    }
    // With a command, the node is named to it too.
    let out = expect_code(
        &["exec", "cshell", "a", "--", "sh", "-c", "echo $VNET_NODE"],
        0,
    )?;
    check(String::from_utf8_lossy(&out.stdout).trim() == "a", || {
        text(&out)
    })?;
    expect_code(&["down", "cshell"], 0)?;
    assert_clean("cshell")
}

fn graph_marks_down() -> Result<(), String> {
    let (_d, file) = lab("cgraph");
    let _lab = Lab("cgraph".into());
    expect_code(&["up", &file, "--progress", "never"], 0)?;
    let healthy = expect_code(&["graph", "cgraph"], 0)?;
    check(
        !String::from_utf8_lossy(&healthy.stdout).contains("DOWN"),
        || text(&healthy),
    )?;
    let ip = Command::new("ip")
        .args(["-n", "cgraph.a", "link", "set", "eth0", "down"])
        .output()
        .map_err(|e| e.to_string())?;
    check(ip.status.success(), || text(&ip))?;
    for (format, words) in [
        (
            "mermaid",
            "n_a -.-|\"eth0 10.70.0.1/24 fd00:70::1/64 — p1 DOWN: a:eth0 is down\"| n_sw",
        ),
        ("dot", "DOWN: a:eth0 is down"),
        ("svg", "DOWN: a:eth0 is down"),
    ] {
        let out = expect_code(&["graph", "cgraph", "--format", format], 0)?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        check(said.contains(words), || format!("{format}:\n{said}"))?;
        // b's link is untouched.
        check(said.matches("DOWN").count() == 1, || {
            format!("{format}:\n{said}")
        })?;
    }
    expect_code(&["down", "cgraph"], 0)?;
    assert_clean("cgraph")
}
