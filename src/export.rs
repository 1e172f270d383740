//! `vnet export --script`: a lab's plan as a plain shell script of `ip`, `bridge`, `sysctl` and
//! `nft` commands that builds the same lab, or removes it. Pure: text out.
//!
//! The lines are the plan's own steps (they print in iproute2 syntax), so the script is what
//! `vnet up` does, one command per step; it teaches what vnet does and is the fair baseline
//! for its speed. The `--batch` form hands `ip -batch` whole groups of steps: one `ip` for all
//! steps done from the machine's namespace (`netns add`, veth pairs), one per namespace for the
//! rest (`ip -n NS -batch -`: iproute2 takes no `-n` inside a batch), shell lines for what `ip`
//! cannot do (sysctls, nft, `exec:`).

use std::fmt::Write as _;

use crate::model::name::LabName;
use crate::plan::{Plan, Step};
use crate::teardown;

/// Which kind of script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// One command per step.
    Plain,
    /// Steps grouped into `ip -batch` runs.
    Batch,
}

/// The script that builds the lab.
pub(crate) fn up(plan: &Plan, lab: &str, form: Form) -> String {
    let mut out = header(lab, "builds", form);
    match form {
        Form::Plain => plain(plan, &mut out),
        Form::Batch => batch(plan, &mut out),
    }
    let _ = writeln!(out, "echo 'lab {lab} is up' >&2");
    out
}

/// The script that removes the lab: exactly what `vnet down` undoes, as
/// [`teardown::undo_steps`] lists it for this plan, in the order `down` goes: the machine's
/// NAT, the machine's links (when they carry the lab's mark), the processes started inside,
/// the namespaces (newest first), the lab's cgroup.
pub(crate) fn down(plan: &Plan, lab: &str, form: Form) -> String {
    let mut out = header(lab, "removes", form);
    let undo = match LabName::new(lab) {
        Ok(name) => {
            let journal = crate::journal::Contents {
                steps: plan.steps().cloned().collect(),
                ..Default::default()
            };
            teardown::undo_steps(&journal, &name)
        }
        Err(_) => Vec::new(),
    };
    for s in &undo {
        if let Step::DelMachineNat { table, .. } = s {
            let _ = writeln!(
                out,
                "# the machine's NAT table, and forwarding back to what its comment says it was
before=$(nft list table inet {table} 2>/dev/null | sed -n 's/.*ip_forward=\\([01]\\).*/\\1/p')
nft delete table inet {table} 2>/dev/null || true
if [ -n \"$before\" ]; then sysctl -qw net.ipv4.ip_forward=\"$before\"; fi"
            );
        }
    }
    for s in &undo {
        if let Step::DelLink { dev, tag, .. } = s {
            // Only a link that carries the lab's mark is the lab's.
            let _ = writeln!(
                out,
                "if ip link show {dev} 2>/dev/null | grep -q ' alias {tag}$'; then ip link del {dev}; fi"
            );
        }
    }
    let namespaces: Vec<&str> = undo
        .iter()
        .filter_map(|s| match s {
            Step::DelNetns { ns, .. } => Some(ns.as_str()),
            _ => None,
        })
        .collect();
    let stops: Vec<&str> = undo
        .iter()
        .filter_map(|s| match s {
            Step::StopProcesses { lab } => Some(lab.as_str()),
            _ => None,
        })
        .collect();
    for lab in &stops {
        let _ = writeln!(
            out,
            "# processes started inside the lab: its cgroup, and what runs in its namespaces
cg=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n1)/vnet/{lab}@$(stat -Lc %i /proc/self/ns/net)
if [ -e \"$cg/cgroup.kill\" ]; then echo 1 > \"$cg/cgroup.kill\"; fi"
        );
        // Only `exec:` starts processes in a namespace (and `vnet exec`, which a script
        // cannot know of): without it, a thousand `ip netns pids` would find nothing.
        if plan.steps().any(|s| matches!(s, Step::Exec { .. })) {
            for ns in &namespaces {
                let _ = writeln!(out, "ip netns pids {ns} 2>/dev/null | xargs -r kill -KILL");
            }
        }
    }
    let _ = writeln!(out, "# namespaces ({})", namespaces.len());
    match form {
        Form::Plain => {
            for ns in &namespaces {
                let _ = writeln!(out, "ip netns del {ns}");
            }
        }
        Form::Batch => {
            let lines: Vec<String> = namespaces
                .iter()
                .map(|ns| format!("netns del {ns}"))
                .collect();
            heredoc(&mut out, "ip -batch -", &lines);
        }
    }
    if !stops.is_empty() {
        let _ = writeln!(
            out,
            "if [ -d \"$cg\" ]; then rmdir \"$cg\" 2>/dev/null || true; rmdir \"$(dirname \"$cg\")\" 2>/dev/null || true; fi"
        );
    }
    let _ = writeln!(out, "echo 'lab {lab} is down' >&2");
    out
}

fn header(lab: &str, what: &str, form: Form) -> String {
    let mut out = String::from("#!/bin/sh\n");
    let how = match form {
        Form::Plain => "one command per step",
        Form::Batch => "steps grouped into `ip -batch` runs",
    };
    let _ = writeln!(
        out,
        "# {} lab `{lab}` as vnet does, {how}: written by `vnet export`.",
        capitalised(what)
    );
    let _ = writeln!(
        out,
        "# Run it as root. Unlike vnet it keeps no journal and checks no ownership."
    );
    let _ = writeln!(out, "set -e");
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn plain(plan: &Plan, out: &mut String) {
    for stage in &plan.stages {
        let _ = writeln!(
            out,
            "# {} ({})",
            stage.name,
            crate::terminal::count(stage.steps.len(), "step")
        );
        shell_lines(&stage.steps, out);
    }
}

/// Steps as shell lines, a namespace's consecutive sysctls in one `sysctl` run.
fn shell_lines<'a>(steps: impl IntoIterator<Item = &'a Step>, out: &mut String) {
    let mut sysctls = Sysctls::default();
    for s in steps {
        if let Step::Sysctl { ns, key, value } = s {
            sysctls.push(out, ns, key, value);
            continue;
        }
        sysctls.flush(out);
        let _ = writeln!(out, "{}", shell_line(s));
    }
    sysctls.flush(out);
}

/// A namespace's sysctls in one `sysctl` run, as one would write them by hand.
/// Keys whose module may not be loaded go in a run of their own with `-e` (unknown keys are
/// not an error there, and only there).
#[derive(Default)]
struct Sysctls {
    ns: String,
    optional: bool,
    pairs: Vec<String>,
}

impl Sysctls {
    fn push(&mut self, out: &mut String, ns: &str, key: &str, value: &str) {
        let optional = crate::plan::optional_sysctl(key);
        if self.ns != ns || self.optional != optional {
            self.flush(out);
            self.ns = ns.to_owned();
            self.optional = optional;
        }
        self.pairs.push(format!("{key}={value}"));
    }

    fn flush(&mut self, out: &mut String) {
        if self.pairs.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "ip netns exec {} sysctl -q{}w {}",
            self.ns,
            if self.optional { "e" } else { "" },
            self.pairs.join(" ")
        );
        self.pairs.clear();
    }
}

/// A step as a shell command: its plan line, except where the plan's line is not one.
fn shell_line(s: &Step) -> String {
    match s {
        // `netns 1` in the plan means "the machine"; in a script that may itself run in a
        // namespace, the shell's own namespace is the one meant.
        Step::MoveLink { ns, dev, name, tag } => format!(
            "ip -n {ns} link set {dev} alias {tag}\nip -n {ns} link set {dev} netns $$ name {name}"
        ),
        _ => s.to_string(),
    }
}

/// Where a step can run in the batch form.
enum Place {
    /// In the `ip -batch` of the machine's namespace: the line without `ip `.
    Root(String),
    /// In the namespace's own `ip -n NS -batch`: the line without `ip -n NS `.
    Netns(String, String),
    /// Not an `ip` command: a shell line.
    Shell,
}

fn place(s: &Step) -> Place {
    if matches!(
        s,
        Step::Sysctl { .. }
            | Step::Exec { .. }
            | Step::Nft { .. }
            | Step::MachineNat { .. }
            | Step::BridgeVlan { .. }
            | Step::AddTap { .. }
            | Step::MoveLink { .. }
    ) {
        return Place::Shell;
    }
    let line = s.to_string();
    let ns = s.ns();
    if !crate::model::Netns::of(ns).is_machine()
        && let Some(rest) = line.strip_prefix(&format!("ip -n {ns} "))
    {
        return Place::Netns(ns.to_owned(), rest.to_owned());
    }
    match line.strip_prefix("ip ") {
        Some(rest) if !rest.starts_with("netns exec ") && !rest.starts_with("-n ") => {
            Place::Root(rest.to_owned())
        }
        _ => Place::Shell,
    }
}

/// Steps of one namespace waiting for its `ip -n NS -batch`, namespaces in first-seen order.
#[derive(Default)]
struct Pending {
    order: Vec<String>,
    lines: std::collections::HashMap<String, Vec<String>>,
}

impl Pending {
    fn push(&mut self, ns: String, line: String) {
        let entry = self.lines.entry(ns.clone()).or_default();
        if entry.is_empty() {
            self.order.push(ns);
        }
        entry.push(line);
    }

    fn flush(&mut self, out: &mut String) {
        if self.order.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "# the steps inside each namespace so far, one ip -batch per namespace"
        );
        for ns in self.order.drain(..) {
            let lines = self.lines.remove(&ns).unwrap_or_default();
            heredoc(out, &format!("ip -n {ns} -batch -"), &lines);
        }
    }
}

/// Stages run in order, as in the plan; within a stage the steps are independent, so each
/// stage's machine-side steps go into one `ip -batch`, and the steps inside a namespace wait
/// to be sent in one `ip -n NS -batch` together with those of later stages. They wait only
/// while what comes next cannot depend on them: namespaces and veth pairs need nothing a
/// namespace's own steps make; shell lines and other machine-side steps may.
fn batch(plan: &Plan, out: &mut String) {
    let mut pending = Pending::default();
    for stage in &plan.stages {
        let mut root = Vec::new();
        let mut shell = Vec::new();
        let mut inside = Vec::new();
        for s in &stage.steps {
            match place(s) {
                Place::Root(line) => root.push((s, line)),
                Place::Netns(ns, line) => inside.push((ns, line)),
                Place::Shell => shell.push(s),
            }
        }
        let independent = root
            .iter()
            .all(|(s, _)| matches!(s, Step::AddNetns { .. } | Step::AddVeth { .. }));
        if !shell.is_empty() || !independent {
            pending.flush(out);
        }
        let _ = writeln!(
            out,
            "# {} ({})",
            stage.name,
            crate::terminal::count(stage.steps.len(), "step")
        );
        if !root.is_empty() {
            let lines: Vec<String> = root.into_iter().map(|(_, l)| l).collect();
            heredoc(out, "ip -batch -", &lines);
        }
        shell_lines(shell, out);
        for (ns, line) in inside {
            pending.push(ns, line);
        }
    }
    pending.flush(out);
}

fn heredoc(out: &mut String, command: &str, lines: &[String]) {
    let _ = writeln!(out, "{command} <<'EOF'");
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out, "EOF");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{VlanMode, plan};

    fn bundled(file: &str) -> crate::model::Lab {
        let path = format!("{}/topologies/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read(&path).unwrap();
        crate::topology::parse(&path, "x", &text).unwrap().lab
    }

    #[test]
    fn the_office_script_has_every_step_as_a_command() {
        let lab = bundled("office-lan.yaml");
        let s = up(&plan(&lab, VlanMode::Native), &lab.name, Form::Plain);
        for line in [
            "#!/bin/sh",
            "set -e",
            "# namespaces (8 steps)",
            "ip netns add office.pc1",
            "ip netns exec office.gw sysctl -qw net.ipv4.conf.all.rp_filter=0 ",
            " net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
            "ip -n office.pc1 link set lo up alias vnet:office",
            "ip -n office.sw1 link add sw1 type bridge",
            "ip link add eth0 netns office.pc1 type veth peer p1 netns office.sw1",
            "ip -n office.sw1 link set p1 master sw1",
            "ip -n office.pc1 addr add 10.0.1.11/24 dev eth0",
            "ip -n office.pc1 addr add fd00:1::11/64 dev eth0",
            "ip -n office.pc1 link set eth0 up",
            "ip -n office.pc1 route add default via 10.0.1.1",
            "ip -n office.isp route add fd00:1::/64 via fd00:99::1",
        ] {
            assert!(s.contains(line), "missing `{line}` in:\n{s}");
        }
        // Every namespace's sysctls in one run, not one process each.
        assert_eq!(s.matches("ip netns exec office.pc1 sysctl").count(), 1);
        let d = down(&plan(&lab, VlanMode::Native), &lab.name, Form::Plain);
        assert!(d.contains("ip netns del office.web\n"), "{d}");
        assert!(
            d.find("ip netns del office.web").unwrap() < d.find("ip netns del office.pc1").unwrap(),
            "newest first"
        );
    }

    /// The down script removes what `vnet down` undoes for the same plan, nothing more or
    /// less: it is made from the same undo steps.
    #[test]
    fn the_down_script_is_what_down_undoes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if !file.ends_with(".yaml") {
                continue;
            }
            let lab = bundled(&file);
            for mode in [VlanMode::Native, VlanMode::Emulated] {
                let p = plan(&lab, mode);
                let journal = crate::journal::Contents {
                    steps: p.steps().cloned().collect(),
                    ..Default::default()
                };
                let name = LabName::new(&lab.name).unwrap();
                let undo = crate::teardown::undo_steps(&journal, &name);
                for form in [Form::Plain, Form::Batch] {
                    let script = down(&p, &lab.name, form);
                    let lines: Vec<&str> = script.lines().collect();
                    let mut expected = Vec::new();
                    for s in &undo {
                        expected.push(match s {
                            Step::DelNetns { ns, .. } if form == Form::Plain => {
                                format!("ip netns del {ns}")
                            }
                            Step::DelNetns { ns, .. } => format!("netns del {ns}"),
                            Step::DelLink { dev, .. } => {
                                format!("then ip link del {dev}; fi")
                            }
                            Step::DelMachineNat { table, .. } => {
                                format!("nft delete table inet {table} 2>/dev/null || true")
                            }
                            Step::StopProcesses { lab } => format!("/vnet/{lab}@"),
                            other => panic!("{file}: teardown makes {other}, the script lacks it"),
                        });
                    }
                    for want in &expected {
                        assert!(
                            lines.iter().any(|l| l.contains(want.as_str())),
                            "{file}: the down script lacks `{want}`:\n{script}"
                        );
                    }
                    // Nothing else is deleted.
                    let deletions = lines
                        .iter()
                        .filter(|l| {
                            l.contains("netns del ")
                                || l.contains(" link del ")
                                || l.contains("nft delete table")
                        })
                        .count();
                    let undone = undo
                        .iter()
                        .filter(|s| !matches!(s, Step::StopProcesses { .. }))
                        .count();
                    assert_eq!(deletions, undone, "{file}:\n{script}");
                }
            }
            n += 1;
        }
        assert!(n >= 9);
    }

    /// The office LAN without NAT: no shell step between its namespaces' `ip` steps.
    const ROUTED_OFFICE: &str = "name: office
nodes:
  pc1: {interfaces: {eth0: [10.0.1.11/24, fd00:1::11/64]}, gateway: [10.0.1.1, fd00:1::1]}
  sw1: {kind: bridge}
  gw: {kind: router, interfaces: {lan: [10.0.1.1/24, fd00:1::1/64], wan: 203.0.113.1/24}}
links:
  - [pc1:eth0, sw1:p1]
  - [gw:lan, sw1:p3]
";

    #[test]
    fn the_batch_script_runs_one_ip_per_namespace() {
        let lab = crate::topology::parse("o.yaml", "o", ROUTED_OFFICE.as_bytes())
            .unwrap()
            .lab;
        let s = up(&plan(&lab, VlanMode::Native), &lab.name, Form::Batch);
        assert!(
            s.contains("ip -batch - <<'EOF'\nnetns add office.pc1\n"),
            "{s}"
        );
        assert!(
            s.contains("link add eth0 netns office.pc1 type veth peer p1 netns office.sw1\n"),
            "{s}"
        );
        assert!(
            s.contains(
                "ip -n office.pc1 -batch - <<'EOF'\nlink set lo up alias vnet:office\naddr add 10.0.1.11/24 dev eth0\n"
            ),
            "{s}"
        );
        assert_eq!(s.matches("ip -n office.pc1 -batch").count(), 1, "{s}");
        assert!(!s.contains("\n-n "), "ip takes no -n inside a batch:\n{s}");
        // The namespace's steps come after the links they use.
        assert!(s.find("type veth peer").unwrap() < s.find("ip -n office.pc1 -batch").unwrap());
        let d = down(&plan(&lab, VlanMode::Native), &lab.name, Form::Batch);
        assert!(
            d.contains("ip -batch - <<'EOF'\nnetns del office.gw\n"),
            "{d}"
        );
    }

    #[test]
    fn shell_steps_wait_for_what_comes_before_them() {
        let lab = bundled("docker-single-host.yaml");
        let s = up(&plan(&lab, VlanMode::Native), &lab.name, Form::Batch);
        let nft = s.find("nft -f -").expect("a NAT table");
        let first_batch = s.find(" -batch - <<'EOF'\nlink set lo up").unwrap();
        assert!(
            first_batch < nft,
            "addresses exist before NAT rules name them:\n{s}"
        );
        assert!(s.contains("'EOF'\ntable inet vnet_nat {"), "{s}");
    }

    #[test]
    fn the_machine_end_moves_to_the_scripts_own_namespace() {
        let step = Step::MoveLink {
            ns: "lab.a".into(),
            dev: "vnet-m0".into(),
            name: "lab0".into(),
            tag: "vnet:lab".into(),
        };
        assert_eq!(
            shell_line(&step),
            "ip -n lab.a link set vnet-m0 alias vnet:lab\nip -n lab.a link set vnet-m0 netns $$ name lab0"
        );
        let mut p = Plan::default();
        p.stages.push(crate::plan::Stage {
            name: "ports".into(),
            kind: crate::plan::StageKind::Netlink,
            steps: vec![step],
        });
        let d = down(&p, "lab", Form::Plain);
        assert!(
            d.contains("grep -q ' alias vnet:lab$'; then ip link del lab0; fi"),
            "{d}"
        );
    }
}
