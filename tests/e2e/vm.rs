//! A real virtual machine on a lab's TAP port: qemu boots the stock kernel with a busybox
//! initramfs built here, on the TAP device vnet made, and the two sides reach each other.
//!
//! The assets come from `scripts/kernel-lane.sh --prepare-only` (the kernel lane's cache):
//! without them the test is skipped, by name, with the reason.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vnet::model::feature::Feature as Kernel;

use crate::harness::{Feature, Lab, Test, assert_clean, check, expect_code, text, topology};

const LAB: &str = "e2e-vm";
const HOST_IP: &str = "10.79.0.1";
const VM_IP: &str = "10.79.0.50";
/// An address nobody has: its probe must fail, or a passing probe to the VM proves nothing.
const NOBODY_IP: &str = "10.79.0.51";
/// The VM's NIC (qemu's locally administered prefix).
const VM_MAC: &str = "52:54:00:79:00:50";
/// How long the VM may take to boot and reach the host. Under TCG on the project's 2-core
/// machines it needs 10-20 s; the margin is for a CI machine busy with the other tests.
const BOOT_LIMIT: Duration = Duration::from_secs(120);
const REACHED: &str = "VNET-VM-REACHED";
const FAILED: &str = "VNET-VM-FAILED";
/// Followed by the guest's network interfaces: the lab's TAP must be its only NIC.
const NICS: &str = "VNET-VM-NICS";

pub(crate) fn trials() -> Vec<Test> {
    vec![
        Test::new(
            "vm::a_real_vm_on_a_tap_port_reaches_and_is_reached",
            a_real_vm,
        )
        .needs(Feature::Kernel(Kernel::Tap))
        .needs(Feature::Asset("VNET_VM_KERNEL", "the VM's kernel"))
        .needs(Feature::Asset("VNET_VM_BUSYBOX", "a static busybox"))
        .needs(Feature::Asset(
            "VNET_VM_MODULES",
            "the e1000 driver's modules",
        ))
        .needs(Feature::Asset("VNET_VM_QEMU", "qemu-system-x86_64"))
        // The lane's guest is itself emulated (TCG): a VM in it is emulated twice (measured:
        // 460 s to boot instead of 10 s), and the lane would have to carry qemu, its
        // libraries and firmware, and a second kernel.
        .host_lane_only_because("a VM inside the lane's emulated guest would be nested TCG"),
    ]
}

fn asset(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_default()
}

/// PID 1 of the guest: loads the NIC driver, takes the lab's address, pings the lab's host
/// and says on the serial console whether it answered, then stays up to be reached.
fn init_script() -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin
export PATH=/bin
for m in /lib/vm/*.ko; do [ -e "$m" ] && insmod "$m"; done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "{NICS}" $(ls /sys/class/net)
ip link set lo up
ip link set eth0 up
ip addr add {VM_IP}/24 dev eth0
n=0
while [ $n -lt 40 ]; do
    if ping -c 1 -W 1 {HOST_IP} >/dev/null 2>&1; then echo "{REACHED} {HOST_IP}"; break; fi
    n=$((n + 1))
    # An error (no route yet) returns at once: every try waits a second at least.
    sleep 1
done
if [ $n -ge 40 ]; then ip addr; dmesg | tail -n 20; echo "{FAILED} {HOST_IP}"; fi
while :; do sleep 3600; done
"#
    )
}

/// A newc cpio archive (what the kernel unpacks as an initramfs), written here so the test
/// needs no `cpio` on the machine.
#[derive(Default)]
struct Cpio {
    bytes: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040_755, (0, 0), &[]);
    }

    fn file(&mut self, name: &str, data: &[u8]) {
        self.entry(name, 0o100_755, (0, 0), data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.bytes
    }
}

fn initramfs(busybox: &Path, modules: &Path) -> Result<Vec<u8>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut cpio = Cpio::default();
    for d in ["bin", "dev", "proc", "sys", "lib", "lib/vm"] {
        cpio.dir(d);
    }
    // The kernel opens /dev/console for PID 1 before anything mounts devtmpfs.
    cpio.entry("dev/console", 0o020_600, (5, 1), &[]);
    cpio.file("bin/busybox", &read(busybox)?);
    cpio.file("init", init_script().as_bytes());
    let mut kos: Vec<PathBuf> = std::fs::read_dir(modules)
        .map_err(|e| format!("{}: {e}", modules.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ko"))
        .collect();
    kos.sort();
    for ko in kos {
        let name = ko.file_name().unwrap_or_default().to_string_lossy();
        cpio.file(&format!("lib/vm/{name}"), &read(&ko)?);
    }
    Ok(cpio.finish())
}

/// qemu, started by `vnet exec`; killed if the test ends before `down` stopped it.
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn console(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).replace('\r', "")
}

fn a_real_vm() -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let initrd = work.path().join("initrd.cpio");
    let serial = work.path().join("console.log");
    let qemu_out = work.path().join("qemu.out");
    let bytes = initramfs(&asset("VNET_VM_BUSYBOX"), &asset("VNET_VM_MODULES"))?;
    std::fs::write(&initrd, bytes).map_err(|e| format!("{}: {e}", initrd.display()))?;

    let yaml = format!(
        "name: {LAB}
nodes:
  access: {{kind: bridge}}
  hv: {{interfaces: {{eth0: {HOST_IP}/24}}}}
links:
  - {{tap: access:vm0}}
  - [hv:eth0, access:p0]
expect:
  - {{from: hv, to: {VM_IP}}}
  - {{from: hv, to: {NOBODY_IP}, reach: false}}
"
    );
    let (_d, file) = topology(&yaml);
    let _lab = Lab(LAB.into());
    expect_code(&["up", file.to_str().unwrap_or_default()], 0)?;

    // The TAP device lives in the bridge's namespace, so qemu runs there. Its one NIC is
    // that TAP: -nodefaults leaves out every default device, user-mode networking included.
    let out = std::fs::File::create(&qemu_out).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let qemu = asset("VNET_VM_QEMU");
    let args: Vec<String> = vec![
        "exec".into(),
        LAB.into(),
        "access".into(),
        "--".into(),
        qemu.to_string_lossy().into_owned(),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-accel".into(),
        "tcg".into(),
        "-cpu".into(),
        "max".into(),
        "-m".into(),
        "384".into(),
        "-smp".into(),
        "1".into(),
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-serial".into(),
        format!("file:{}", serial.display()),
        "-kernel".into(),
        asset("VNET_VM_KERNEL").to_string_lossy().into_owned(),
        "-initrd".into(),
        initrd.to_string_lossy().into_owned(),
        "-append".into(),
        "console=ttyS0 panic=-1 quiet".into(),
        "-netdev".into(),
        "tap,id=n0,ifname=vm0,script=no,downscript=no".into(),
        "-device".into(),
        format!("e1000,netdev=n0,mac={VM_MAC}"),
    ];
    let child = Command::new(crate::harness::vnet_bin())
        .args(&args)
        .env_remove("VNET_PAUSE_AFTER")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("vnet exec: {e}"))?;
    let mut vm = Vm(child);

    let started = Instant::now();
    let said = |what: &str| {
        format!(
            "{what}\n--- serial console\n{}--- qemu\n{}",
            console(&serial),
            console(&qemu_out)
        )
    };
    loop {
        let log = console(&serial);
        if log.lines().any(|l| l.starts_with(REACHED)) {
            break;
        }
        if log.lines().any(|l| l.starts_with(FAILED)) {
            return Err(said("the VM got no answer from the lab's host"));
        }
        if let Ok(Some(status)) = vm.0.try_wait() {
            return Err(said(&format!(
                "qemu ended before the VM reached the host: {status}"
            )));
        }
        if started.elapsed() > BOOT_LIMIT {
            return Err(said(&format!(
                "the VM did not reach the host within {BOOT_LIMIT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let log = console(&serial);
    let nics = log
        .lines()
        .find_map(|l| l.strip_prefix(NICS))
        .unwrap_or_default();
    check(nics.split_whitespace().eq(["eth0", "lo"]), || {
        said(&format!(
            "the VM must have one NIC, the lab's TAP; it has:{nics}"
        ))
    })?;

    // The other way: vnet's own probe from the lab's host answers from the VM.
    let verdict = expect_code(&["verify", LAB, "--json"], 0).map_err(|e| said(&e))?;
    let json: serde_json::Value =
        serde_json::from_slice(&verdict.stdout).map_err(|e| format!("{e}\n{}", text(&verdict)))?;
    let row = |address: &str| {
        json["checks"]["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["address"] == address)
            .cloned()
            .unwrap_or_default()
    };
    let (vm_row, nobody_row) = (row(VM_IP), row(NOBODY_IP));
    check(
        vm_row["expect"] == true && vm_row["got"] == "reply" && vm_row["pass"] == true,
        || format!("the probe of the VM did not pass:\n{}", text(&verdict)),
    )?;
    check(
        nobody_row["expect"] == false && nobody_row["pass"] == true,
        || format!("an address nobody has answered:\n{}", text(&verdict)),
    )?;
    // The answer came from the VM's NIC: the host learnt qemu's MAC for the VM's address.
    let arp = expect_code(&["exec", LAB, "hv", "--", "cat", "/proc/net/arp"], 0)?;
    check(
        String::from_utf8_lossy(&arp.stdout)
            .lines()
            .any(|l| l.starts_with(&format!("{VM_IP} ")) && l.contains(VM_MAC)),
        || format!("hv has no ARP entry {VM_IP} -> {VM_MAC}:\n{}", text(&arp)),
    )?;

    expect_code(&["down", LAB], 0)?;
    // `down` stops what `vnet exec` started in the lab: qemu must be gone soon after.
    let stopped = Instant::now();
    loop {
        match vm.0.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if stopped.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => return Err(said("qemu still runs after `vnet down`")),
        }
    }
    assert_clean(LAB)
}
