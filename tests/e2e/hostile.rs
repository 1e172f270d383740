//! Hostile names and state: `down` must never delete what is not a lab's, must clean up a lab
//! whatever happened to its state, and must stop every process started in it.
//!
//! Every test that could delete files runs in a private machine with a tmpfs over the whole
//! of `/run`, sown with files that are not vnet's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Test, check, text, topology};
use crate::private::Machine;

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "hostile::a_name_that_is_not_a_lab_exits_2_and_touches_nothing",
            not_a_lab_name,
        ),
        Test::new(
            "hostile::down_all_leaves_alone_what_does_not_prove_itself_a_lab",
            down_all_foreign,
        ),
        Test::new(
            "hostile::down_after_any_damage_to_the_journal_leaves_nothing",
            damaged_journals,
        ),
        Test::new(
            "hostile::state_dir_and_lock_that_are_not_what_vnet_made",
            odd_state_dir,
        ),
        Test::new(
            "hostile::processes_that_leave_the_lab_namespace_are_stopped",
            escaped_processes,
        ),
        Test::new(
            "hostile::exec_has_a_time_limit_and_signals_roll_back",
            exec_limits,
        ),
    ]
}

/// A lab with everything `down` must find: namespaces, a bridge, links on the machine, the
/// machine's NAT table and forwarding, and a process started by `exec:`.
const LAB: &str = "
name: NAME
nodes:
  host:
    interfaces: {vzup: 198.51.77.1/24, vzin: 10.77.0.1/24}
    nat: {masquerade: [vzup]}
  h1: {interfaces: {eth0: 10.77.0.2/24}, gateway: 10.77.0.1, exec: ['sleep SLEEP &']}
  h2: {interfaces: {eth0: 10.77.0.3/24}, gateway: 10.77.0.1}
  sw: {kind: bridge}
  isp: {interfaces: {eth0: 198.51.77.2/24}}
links:
  - [host:vzin, sw:p0]
  - [h1:eth0, sw:p1]
  - [h2:eth0, sw:p2]
  - [host:vzup, isp:eth0]
expect:
  - {from: h1, to: isp}
";

fn lab(name: &str, sleep: u32) -> (tempfile::TempDir, String) {
    let (d, f) = topology(
        &LAB.replace("NAME", name)
            .replace("SLEEP", &tag(sleep).to_string()),
    );
    (d, f.to_string_lossy().into_owned())
}

/// Every file and directory under `dir` (as the machine sees it), with its contents.
fn tree(m: &Machine, dir: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(at) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let rel = path
                .strip_prefix(base)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                out.insert(rel, format!("-> {}", target.display()).into_bytes());
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let base = m.path(dir);
    let mut out = BTreeMap::new();
    walk(Path::new(&base), Path::new(&base), &mut out);
    out
}

/// Files that belong to others, where a path built from `..` would reach.
fn sow(m: &Machine) -> Result<(), String> {
    for (path, body) in [
        ("/run/utmp", "logins"),
        ("/run/lock/keep", "a lock"),
        ("/run/systemd/keep", "systemd's"),
        ("/run/x/keep", "beside a state directory"),
        ("/run/x/state/keep.txt", "inside another state directory"),
        ("/run/vnet/keep.txt", "not a lab"),
    ] {
        let p = m.path(path);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&p, body).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

/// A number of seconds to sleep that names one process of this run: a process left by an
/// earlier run (of an older vnet, say) cannot be taken for it.
fn tag(base: u32) -> u32 {
    base * 100_000 + std::process::id() % 100_000
}

/// Processes running `sleep tag(BASE)` anywhere (the private machine shares our PID
/// namespace).
fn sleeping(base: u32) -> Vec<i32> {
    let want = format!("sleep\0{}\0", tag(base));
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c == want.as_bytes())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if cond() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("timed out waiting for {what}"))
}

/// Nothing of lab `name` on the private machine: namespaces, links, table, forwarding,
/// processes, state.
fn nothing_left(m: &Machine, name: &str, sleep: u32) -> Result<(), String> {
    let mut left = Vec::new();
    let prefix = format!("{name}.");
    left.extend(
        m.namespaces()
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("namespace {n}")),
    );
    left.extend(
        m.interfaces()
            .into_iter()
            .filter(|i| i.starts_with("vz"))
            .map(|i| format!("machine link {i}")),
    );
    if m.sh("nft list tables")?.contains(&format!("vnet-{name}")) {
        left.push("the machine's NAT table".into());
    }
    if m.sh("cat /proc/sys/net/ipv4/ip_forward")?.trim() != "0" {
        left.push("ip_forward is on".into());
    }
    left.extend(sleeping(sleep).iter().map(|p| format!("process {p}")));
    if m.mounts().contains(&format!("/run/netns/{prefix}")) {
        left.push("a namespace mount".into());
    }
    check(left.is_empty(), || {
        format!("lab `{name}` left behind:\n  {}", left.join("\n  "))
    })
}

fn not_a_lab_name() -> Result<(), String> {
    let m = Machine::with_private_run()?;
    sow(&m)?;
    let (_d, file) = lab("named", 4701);
    m.run(&["up", &file, "--allow-machine-nat"], 0)?;
    let before = tree(&m, "/run");
    for arg in [
        "..", "", ".", "../..", "/", "x/..", "../vnet", "a.b", "Named", "-",
    ] {
        for args in [
            vec!["down", arg],
            vec!["status", arg],
            vec!["verify", arg],
            vec!["exec", arg, "h1", "--", "true"],
        ] {
            let out = m.run(&args, 2)?;
            check(!text(&out).contains("panicked"), || text(&out))?;
        }
        // Under another state directory too, where `..` is a directory full of others' files.
        let out = m
            .vnet(&["down", arg])
            .env("VNET_STATE_DIR", "/run/x/state")
            .output()
            .map_err(|e| e.to_string())?;
        check(out.status.code() == Some(2), || {
            format!("`down {arg:?}` under /run/x/state:\n{}", text(&out))
        })?;
    }
    let after = tree(&m, "/run");
    check(before == after, || {
        let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        format!("names that are not labs changed /run; gone: {gone:?}")
    })?;
    let out = m.run(&["down", ".."], 2)?;
    check(text(&out).contains("is not a lab's name"), || text(&out))?;
    m.run(&["verify", "named"], 0)?;
    m.run(&["down", "named"], 0)?;
    nothing_left(&m, "named", 4701)?;
    // The machine's own files, and vnet's directory itself, are all still there.
    let end = tree(&m, "/run");
    for keep in [
        "utmp",
        "lock/keep",
        "systemd/keep",
        "x/keep",
        "x/state/keep.txt",
        "vnet/keep.txt",
        "vnet/",
        "netns/",
    ] {
        check(end.contains_key(keep), || format!("/run/{keep} is gone"))?;
    }
    Ok(())
}

fn down_all_foreign() -> Result<(), String> {
    let m = Machine::with_private_run()?;
    sow(&m)?;
    let header = r#"{"header":{"lab":"weird","file":"w.yaml","vnet":"0.1.0","started":1}}"#;
    for (path, body) in [
        ("/run/vnet/Weird Name/journal.jsonl", header),
        ("/run/vnet/Weird Name/data", "someone's"),
        ("/run/vnet/app/journal.jsonl", r#"{"other":"app"}"#),
        ("/run/vnet/app/data.txt", "the app's"),
        ("/run/vnet/notjson/journal.jsonl", "not json"),
        ("/run/vnet/notjson/keep", "kept"),
        ("/run/vnet/other/journal.jsonl", header),
        ("/run/vnet/other/lab.json", r#"{"file":"x"}"#),
    ] {
        let p = m.path(path);
        std::fs::create_dir_all(Path::new(&p).parent().unwrap_or(Path::new("/")))
            .map_err(|e| e.to_string())?;
        std::fs::write(&p, body).map_err(|e| e.to_string())?;
    }
    let (_d, file) = lab("real", 4702);
    m.run(&["up", &file, "--allow-machine-nat"], 0)?;
    let foreign = |t: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        t.iter()
            .filter(|(k, _)| !k.starts_with("vnet/real") && !k.starts_with("netns/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let before = foreign(&tree(&m, "/run"));
    let out = m.run(&["down", "--all"], 0)?;
    let after = foreign(&tree(&m, "/run"));
    check(before == after, || {
        format!(
            "down --all changed what is not a lab's:\nbefore {:?}\nafter {:?}\n{}",
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            text(&out)
        )
    })?;
    check(
        text(&out).contains("left /run/vnet/app untouched")
            && text(&out).contains("lab `real` is down"),
        || text(&out),
    )?;
    nothing_left(&m, "real", 4702)?;
    check(!Path::new(&m.path("/run/vnet/real")).exists(), || {
        "the lab's own state stayed".into()
    })
}

/// Each way the journal can be damaged, on its own machine: `down` still removes the lab's
/// namespaces, machine links, NAT table, forwarding and processes, and exits 0 only then.
fn damaged_journals() -> Result<(), String> {
    type Damage = fn(&str) -> std::io::Result<()>;
    let cases: Vec<(&str, Damage, Option<&str>)> = vec![
        (
            "emptied",
            |j| std::fs::write(j, b""),
            Some("the journal is empty"),
        ),
        (
            "to-header",
            |j| {
                let text = std::fs::read_to_string(j)?;
                let head = text.lines().next().unwrap_or_default().to_owned();
                std::fs::write(j, head + "\n")
            },
            None,
        ),
        (
            "deleted",
            |j| std::fs::remove_file(j),
            Some("there is no journal"),
        ),
        (
            "random",
            |j| std::fs::write(j, [0x9a, 0x00, 0xff, 0x17, b'\n', 0x80, 0x81, b'\n']),
            Some("line 1 is not the journal's header"),
        ),
        (
            "symlink",
            |j| {
                let other = elsewhere(j);
                std::fs::write(&other, b"someone else's file\n")?;
                std::fs::remove_file(j)?;
                std::os::unix::fs::symlink(&other, j)
            },
            Some("symbolic link"),
        ),
        (
            "no-header",
            |j| {
                let text = std::fs::read_to_string(j)?;
                let rest: String = text.split_inclusive('\n').skip(1).collect();
                std::fs::write(j, rest)
            },
            Some("line 1 is not the journal's header"),
        ),
        (
            "other-lab",
            |j| {
                let text = std::fs::read_to_string(j)?;
                std::fs::write(
                    j,
                    text.replacen("\"lab\":\"dmg-other-lab\"", "\"lab\":\"crash\"", 1),
                )
            },
            Some("its header names lab `crash`"),
        ),
        (
            "middle",
            |j| {
                let text = std::fs::read_to_string(j)?;
                let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                let mid = lines.len() / 2;
                lines[mid] = "{\"step\":{\"op\":\"add-netns\",\"ns\":".into();
                std::fs::write(j, lines.join("\n") + "\n")
            },
            Some("is not a journal entry"),
        ),
        (
            "directory",
            |j| {
                std::fs::remove_file(j)?;
                std::fs::create_dir(j)?;
                std::fs::write(format!("{j}/inside"), b"someone's")
            },
            Some("Is a directory"),
        ),
    ];
    for (i, (case, damage, said)) in cases.into_iter().enumerate() {
        let name = format!("dmg-{case}");
        let sleep = 4710 + i as u32;
        let m = Machine::with_private_run()?;
        sow(&m)?;
        m.sh("echo 0 > /proc/sys/net/ipv4/ip_forward")?;
        let (_d, file) = lab(&name, sleep);
        m.run(&["up", &file, "--allow-machine-nat"], 0)?;
        wait_for("the exec: process", || !sleeping(sleep).is_empty())?;
        let journal = m.path(&format!("/run/vnet/{name}/journal.jsonl"));
        damage(&journal).map_err(|e| format!("{case}: {e}"))?;
        let out = m
            .run(&["down", &name], 0)
            .map_err(|e| format!("{case}: {e}"))?;
        if let Some(said) = said {
            check(text(&out).contains(said), || {
                format!("{case}: `down` should say {said:?}:\n{}", text(&out))
            })?;
        }
        nothing_left(&m, &name, sleep).map_err(|e| format!("{case}: {e}\n{}", text(&out)))?;
        let state = tree(&m, "/run/vnet");
        match case {
            "directory" => check(
                state.contains_key(&format!("{name}/journal.jsonl/inside")),
                || format!("{case}: the directory put there is someone's: {state:?}"),
            )?,
            _ => check(
                !state.keys().any(|k| k.starts_with(&format!("{name}/"))),
                || format!("{case}: state left: {state:?}"),
            )?,
        }
        if case == "symlink" {
            check(
                std::fs::read(elsewhere(&journal)).is_ok_and(|b| b == b"someone else's file\n"),
                || "the symlink's target was changed".into(),
            )?;
        }
        // A second `down` finds nothing and says so.
        m.run(&["down", &name], 0)?;
        check(!text(&m.run(&["status"], 0)?).contains(&name), || {
            format!("{case}: status still lists the lab")
        })?;
    }
    // The header gone and the record too: nothing proves the directory vnet's, so it is left,
    // yet `down --all` removes everything of the lab found by its mark.
    let m = Machine::with_private_run()?;
    m.sh("echo 0 > /proc/sys/net/ipv4/ip_forward")?;
    let (_d, file) = lab("dmg-all", 4730);
    m.run(&["up", &file, "--allow-machine-nat"], 0)?;
    std::fs::write(m.path("/run/vnet/dmg-all/journal.jsonl"), b"garbage\n")
        .map_err(|e| e.to_string())?;
    std::fs::remove_file(m.path("/run/vnet/dmg-all/lab.json")).map_err(|e| e.to_string())?;
    let out = m.run(&["down", "--all"], 0)?;
    check(
        text(&out).contains("lab `dmg-all` had no state left")
            && text(&out).contains("left /run/vnet/dmg-all untouched"),
        || text(&out),
    )?;
    nothing_left(&m, "dmg-all", 4730)
}

/// A file outside vnet's state, on the same machine as the journal `j`.
fn elsewhere(j: &str) -> String {
    let root = j.split("/run/vnet/").next().unwrap_or_default();
    format!("{root}/run/x/elsewhere")
}

fn odd_state_dir() -> Result<(), String> {
    let m = Machine::with_private_run()?;
    sow(&m)?;
    let (_d, file) = lab("odd", 4740);
    for bad in ["", "relative/state", "./x", "/run/x/../vnet", "/"] {
        for args in [
            vec!["down", "odd"],
            vec!["status"],
            vec!["up", file.as_str()],
            vec!["down", "--all"],
        ] {
            let out = m
                .vnet(&args)
                .env("VNET_STATE_DIR", bad)
                .output()
                .map_err(|e| e.to_string())?;
            check(
                out.status.code() == Some(2) && text(&out).contains("VNET_STATE_DIR"),
                || format!("VNET_STATE_DIR={bad:?} {args:?}:\n{}", text(&out)),
            )?;
        }
    }
    check(m.namespaces().is_empty(), || {
        format!("a refused state directory built {:?}", m.namespaces())
    })?;
    // A directory where the lock file belongs does not keep the lab from going up and down.
    std::fs::create_dir(m.path("/run/vnet/odd.lock")).map_err(|e| e.to_string())?;
    m.run(&["up", &file, "--allow-machine-nat"], 0)?;
    m.run(&["down", "odd"], 0)?;
    nothing_left(&m, "odd", 4740)?;
    // A symbolic link there is refused, and what it points at is left alone.
    std::fs::remove_dir(m.path("/run/vnet/odd.lock")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink("/run/x/keep", m.path("/run/vnet/odd.lock"))
        .map_err(|e| e.to_string())?;
    let out = m.run(&["up", &file, "--allow-machine-nat"], 4)?;
    check(text(&out).contains("symbolic link"), || text(&out))?;
    check(
        std::fs::read(m.path("/run/x/keep")).is_ok_and(|b| b == b"beside a state directory"),
        || "the lock's symlink target changed".into(),
    )?;
    nothing_left(&m, "odd", 4740)
}

fn escaped_processes() -> Result<(), String> {
    let m = Machine::with_private_run()?;
    let (_d, file) = lab("escape", 4750);
    m.run(&["up", &file, "--allow-machine-nat"], 0)?;
    for (node, script) in [
        ("h1", "unshare -n sleep T1 >/dev/null 2>&1 &"),
        ("h1", "unshare -n -p -f sleep T2 >/dev/null 2>&1 &"),
        (
            "sw",
            "unshare -n -p -f --mount-proc sleep T3 >/dev/null 2>&1 &",
        ),
        ("h2", "setsid sh -c 'unshare -n sleep T4' >/dev/null 2>&1 &"),
    ] {
        let script = &(1..=4).fold(script.to_owned(), |s, i| {
            s.replace(&format!("T{i}"), &tag(4750 + i).to_string())
        });
        let status = m
            .vnet(&["exec", "escape", node, "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        check(status.success(), || {
            format!("`{script}` in {node}: {status}")
        })?;
    }
    for tag in [4751, 4752, 4753, 4754] {
        wait_for(&format!("sleep {tag}"), || !sleeping(tag).is_empty())?;
        // Really outside the node's namespace.
        let pid = sleeping(tag)[0];
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
        let h1 = std::fs::metadata(m.path("/run/netns/escape.h1")).ok();
        check(theirs.is_some() && h1.is_some(), || {
            "no namespaces to compare".into()
        })?;
    }
    let out = m.run(&["down", "escape"], 0)?;
    for tag in [4751, 4752, 4753, 4754] {
        wait_for(&format!("sleep {tag} to be gone"), || {
            sleeping(tag).is_empty()
        })
        .map_err(|e| format!("{e}: it escaped `down`\n{}", text(&out)))?;
    }
    nothing_left(&m, "escape", 4750)
}

/// A lab whose `exec:` command never ends.
fn forever(name: &str, sleep: u32, timeout: &str) -> (tempfile::TempDir, String) {
    let (d, f) = topology(&format!(
        "name: {name}\nnodes:\n  a: {{interfaces: {{eth0: 10.78.0.1/24}}, exec: ['sleep {}']{timeout}}}\n  b: {{interfaces: {{eth0: 10.78.0.2/24}}}}\nlinks:\n  - [a:eth0, b:eth0]\n",
        tag(sleep)
    ));
    (d, f.to_string_lossy().into_owned())
}

fn exec_limits() -> Result<(), String> {
    let m = Machine::with_private_run()?;
    // Past its time the command is killed and `up` rolls back.
    let (_d, file) = forever("slow", 4760, ", exec_timeout: 1s");
    let started = Instant::now();
    let out = m.run(&["up", &file], 4)?;
    check(started.elapsed() < Duration::from_secs(8), || {
        format!("took {:?}", started.elapsed())
    })?;
    check(
        text(&out).contains("still running after 1 s")
            && text(&out).contains("everything vnet created was removed again"),
        || text(&out),
    )?;
    check(
        sleeping(4760).is_empty() && m.namespaces().is_empty(),
        || format!("left {:?} {:?}", sleeping(4760), m.namespaces()),
    )?;
    // A signal to vnet alone (not to its process group) while the command runs rolls back
    // at once, for `up` and for `test`.
    for (i, (command, signal)) in [
        ("up", nix::sys::signal::SIGTERM),
        ("up", nix::sys::signal::SIGHUP),
        ("test", nix::sys::signal::SIGINT),
    ]
    .into_iter()
    .enumerate()
    {
        let sleep = 4761 + i as u32;
        let (_d, file) = forever(&format!("sig{i}"), sleep, "");
        let mut child = m
            .vnet(&[command, &file, "--progress", "never"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        wait_for("the exec: command", || !sleeping(sleep).is_empty())?;
        let sent = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal)
            .map_err(|e| e.to_string())?;
        let until = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
                break s;
            }
            if Instant::now() > until {
                let _ = child.kill();
                return Err(format!("`vnet {command}` ignored {signal} for 5 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check(
            status.code() == Some(4) && said.contains("interrupted"),
            || format!("`vnet {command}` after {signal}: {status}\n{said}"),
        )?;
        check(sent.elapsed() < Duration::from_secs(3), || {
            format!("rolled back in {:?}", sent.elapsed())
        })?;
        check(
            sleeping(sleep).is_empty() && m.namespaces().is_empty(),
            || {
                format!(
                    "after {signal}: left {:?} {:?}",
                    sleeping(sleep),
                    m.namespaces()
                )
            },
        )?;
    }
    Ok(())
}
