//! Command-line behaviour that needs no root: validation, diagnostics, exit codes, completions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vnet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnet"))
        .args(args)
        .env("NO_COLOR", "1")
        .env(
            "VNET_STATE_DIR",
            std::env::temp_dir().join("vnet-cli-test-state"),
        )
        .output()
        .expect("vnet runs")
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_bundled_topology_validates() {
    let mut n = 0;
    for e in std::fs::read_dir(repo("topologies")).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let o = vnet(&["validate", p.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), stderr(&o));
            n += 1;
        }
    }
    assert!(n >= 3, "topologies/ has the article's labs");
}

/// Each file in tests/broken/ states the problems it must produce, in `# expect:` lines, and
/// may say where (`# at: LINE:COL`) and how many errors there are in all (`# problems: N`).
#[test]
fn broken_topologies_exit_3_with_every_problem_named() {
    let mut n = 0;
    for e in std::fs::read_dir(repo("tests/broken")).unwrap().flatten() {
        let p = e.path();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has `# expect:` lines",
            p.display()
        );
        let o = vnet(&["validate", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(3), "{}: {}", p.display(), stderr(&o));
        let err = flat(&stderr(&o));
        for want in expected {
            assert!(
                err.contains(want),
                "{}: missing `{want}` in:\n{err}",
                p.display()
            );
        }
        // `# at: LINE:COL`: the diagnostic points there.
        for at in text.lines().filter_map(|l| l.strip_prefix("# at: ")) {
            let place = format!("{}:{at}]", p.file_name().unwrap().to_string_lossy());
            assert!(
                err.contains(&place),
                "{}: not pointing at {at}:\n{err}",
                p.display()
            );
        }
        assert!(!err.contains("panicked"), "{}", err);
        // `# problems: N`: exactly N errors, so none is a spurious echo of another.
        if let Some(want) = text.lines().find_map(|l| l.strip_prefix("# problems: ")) {
            let o = vnet(&["validate", "--json", p.to_str().unwrap()]);
            let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
            let errors: Vec<&str> = doc["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["severity"] == "error")
                .filter_map(|d| d["message"].as_str())
                .collect();
            assert_eq!(
                errors.len().to_string(),
                want.trim(),
                "{}: {errors:#?}",
                p.display()
            );
        }
        n += 1;
    }
    assert!(n >= 50, "the corpus has {n} broken topologies");
}

/// Diagnostic text with miette's line wrapping undone: words joined by single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !matches!(*w, "│" | "·" | "|"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Hostile inputs made on the fly: each must give exit code 3 with a diagnostic, quickly,
/// and never a panic.
#[test]
fn hostile_inputs_are_refused_without_panic() {
    let dir = std::env::temp_dir().join(format!("vnet-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..16 {
        let p = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    laughs.push_str("nodes: *a15\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("laughs.yaml", laughs.into_bytes(), "laughs.yaml"),
        (
            "deep.yaml",
            format!("nodes: {}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            "deep.yaml",
        ),
        (
            "huge.yaml",
            vec![b'#'; 17 * 1024 * 1024],
            "the most vnet reads",
        ),
        (
            "latin1.yaml",
            b"nodes:\n  caf\xe9: {}\n".to_vec(),
            "the file is not valid UTF-8",
        ),
        ("nul.yaml", b"nodes:\n  h1\x00: {}\n".to_vec(), "nul.yaml"),
        ("empty.yaml", Vec::new(), "the topology file is empty"),
        // Long values: miette panicked on a label past column 65,535, and echoed the line.
        (
            "long-node-name.yaml",
            format!("nodes:\n  {}: {{}}\n", "n".repeat(70_000)).into_bytes(),
            "this line is 70006 bytes long",
        ),
        (
            "long-ifname.yaml",
            format!(
                "nodes:\n  h1: {{interfaces: {{{}: 10.0.0.1/24}}}}\n",
                "e".repeat(1 << 20)
            )
            .into_bytes(),
            "vnet reads lines of at most 4096 bytes",
        ),
        (
            "long-scalar.yaml",
            format!("nodes:\n  h1: {{exec: \"{}\"}}\n", "x".repeat(15 << 20)).into_bytes(),
            "vnet reads lines of at most 4096 bytes",
        ),
        (
            "long-line.yaml",
            format!("nodes: {{h1: {{}}}}\n# {}\n", "y".repeat(200_000)).into_bytes(),
            "this line is 200002 bytes long",
        ),
        (
            "long-block.yaml",
            format!(
                "nodes:\n  h1:\n    exec: |\n{}",
                format!("      {}\n", "z".repeat(70)).repeat(15_000)
            )
            .into_bytes(),
            "this value is 1065000 bytes long",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let start = std::time::Instant::now();
        let o = vnet(&["validate", path.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert!(
            flat(&err).contains(want),
            "{name}: missing `{want}` in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.len() < 10_000,
            "{name}: {} bytes of diagnostics",
            err.len()
        );
        // Only tells a refusal from a hang (unguarded, the laughs would expand for hours);
        // a loaded 2-core machine took 10.5 s for them.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{name} took {:?}",
            start.elapsed()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO, a device, a directory or a socket is refused before it is read: a FIFO without a
/// writer used to block `vnet validate` forever, `/dev/zero` to read 16 MB of NUL bytes.
#[test]
fn non_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lab.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let socket = dir.path().join("sock.yaml");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for (path, what) in [
        (fifo.as_path(), "(a FIFO)"),
        (Path::new("/dev/zero"), "(a character device)"),
        (dir.path(), "(a directory)"),
        (socket.as_path(), "(a socket)"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vnet"))
            .args(["validate", path.to_str().unwrap()])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > std::time::Duration::from_secs(5) {
                let _ = child.kill();
                panic!("`vnet validate {}` still runs after 5 s", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(3), "{}: {err}", path.display());
        let err = flat(&err);
        assert!(err.contains("not a regular file"), "{err}");
        assert!(err.contains(what), "{err}");
    }
    // A symlink to a regular file is read as the file.
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(repo("topologies/office-lan.yaml"), &link).unwrap();
    assert_eq!(
        vnet(&["validate", link.to_str().unwrap()]).status.code(),
        Some(0)
    );
}

/// Routes on `host` that take over the machine's default route are valid, but `up` makes them
/// only with `--allow-machine-routes`: `validate` says so, each at its line.
#[test]
fn validate_warns_of_routes_that_take_over_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.yaml");
    std::fs::write(
        &lab,
        "nodes:\n  host:\n    interfaces: {vnet0: 10.9.0.1/24}\n    routes:\n      - {to: default, via: 10.9.0.2}\n      - {to: 128.0.0.0/1, via: 10.9.0.2}\n      - {to: 10.0.0.0/8, via: 10.9.0.2}\n  r1: {kind: router, interfaces: {eth0: 10.9.0.2/24}}\nlinks:\n  - [host:vnet0, r1:eth0]\n",
    )
    .unwrap();
    let o = vnet(&["validate", lab.to_str().unwrap()]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), flat(&stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("⚠ a default route on `host` replaces the machine's own IPv4 default route"),
        "{err}"
    );
    assert!(err.contains("lab.yaml:5:14]"), "{err}");
    assert!(
        err.contains(
            "the route to 128.0.0.0/1 on `host` takes over the machine's default route in effect"
        ),
        "{err}"
    );
    assert_eq!(err.matches("vnet::machine_route").count(), 2, "{err}");
    assert!(out.contains("need `--allow-machine-routes`"), "{out}");
}

#[test]
fn diagnostics_point_at_the_line_and_column() {
    let o = vnet(&[
        "validate",
        repo("tests/broken/unknown-node.yaml").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(err.contains("unknown-node.yaml:6:"), "{err}");
    assert!(err.contains("did you mean `server1`?"), "{err}");
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let o = vnet(&[
        "validate",
        repo("tests/broken/many-problems.yaml").to_str().unwrap(),
    ]);
    // Flattened: a long checkout path makes miette wrap the title.
    let err = flat(&stderr(&o));
    assert!(err.contains("5 problems in the topology"), "{err}");
}

#[test]
fn a_missing_file_is_exit_3() {
    let o = vnet(&["validate", "/nonexistent/lab.yaml"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot read /nonexistent/lab.yaml"));
}

#[test]
fn usage_errors_are_exit_2() {
    assert_eq!(vnet(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(vnet(&["up"]).status.code(), Some(2));
    assert_eq!(vnet(&["down"]).status.code(), Some(2));
}

#[test]
fn help_documents_the_exit_codes() {
    let o = vnet(&["--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("3 invalid topology, 4 system error"), "{out}");
}

#[test]
fn plan_prints_ip_commands() {
    let o = vnet(&["plan", repo("topologies/office-lan.yaml").to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ip netns add office.pc1"), "{out}");
    assert!(
        out.contains("ip link add eth0 netns office.pc1 type veth peer p1 netns office.sw1"),
        "{out}"
    );
    assert!(
        out.contains("ip -n office.pc1 route add default via 10.0.1.1"),
        "{out}"
    );
}

#[test]
fn completions_in_the_repo_are_current() {
    for (shell, file) in [
        ("bash", "completions/vnet.bash"),
        ("zsh", "completions/_vnet"),
        ("fish", "completions/vnet.fish"),
    ] {
        let o = vnet(&["completions", shell]);
        let fresh = String::from_utf8_lossy(&o.stdout);
        let stored = std::fs::read_to_string(repo(file)).unwrap_or_default();
        assert!(
            fresh == stored,
            "{file} is stale: run `scripts/completions.sh` and commit the result"
        );
    }
}

/// What `vnet link` and `vnet capture` cannot do is said at once, exit 2, before root is
/// needed or a lab is looked for (the lab named here does not exist).
#[test]
fn runtime_commands_refuse_what_they_cannot_do_before_touching_a_lab() {
    let cases: [(&[&str], &str); 8] = [
        (
            &[
                "link", "nolab", "a:eth0", "down", "--every", "1s", "--times", "0",
            ],
            "--times 0: a flap goes down and up at least once",
        ),
        (
            &["link", "nolab", "a:eth0", "down", "--every", "5ms"],
            "--every 5ms: a flap's gap is at least 10ms",
        ),
        (
            &["link", "nolab", "a:eth0", "up", "--every", "1s"],
            "a flap takes the link down first and leaves it up",
        ),
        (
            &["link", "nolab", "a:eth0", "down", "--every", "soon"],
            "--every: `soon` is not a duration",
        ),
        (
            &["link", "nolab", "eth0", "down"],
            "`eth0` is not NODE:IFACE",
        ),
        (
            &["impair", "nolab", "a:", "--rate", "1mbit"],
            "`a:` is not NODE:IFACE",
        ),
        (
            &["capture", "nolab", "a:eth0", "--count", "0"],
            "--count 0 would stop before the first frame",
        ),
        (
            &["capture", "nolab", "a:eth0", "b:eth0", "a:eth0"],
            "`a:eth0` is named twice",
        ),
    ];
    for (args, words) in cases {
        let o = vnet(args);
        let err = flat(&stderr(&o));
        assert_eq!(o.status.code(), Some(2), "vnet {}: {err}", args.join(" "));
        assert!(err.contains(words), "vnet {}: {err}", args.join(" "));
        assert!(!err.contains("``"), "doubled backticks: {err}");
        assert!(!err.contains("root"), "vnet {}: {err}", args.join(" "));
    }
    // A node that is not there is quoted once, as everywhere.
    let office = repo("topologies/office-lan.yaml");
    let o = vnet(&["explain", office.to_str().unwrap(), "zz", "pc1"]);
    let err = flat(&stderr(&o));
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("has no node `zz`"), "{err}");
    // pcapng's format goes with a file.
    let o = vnet(&["capture", "nolab", "a:eth0", "--format", "pcapng"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

mod graph;
mod man;
mod reports;
mod schemas;
