//! What this machine can do: each [`Feature`] is tried for real, in a throwaway network
//! namespace that vanishes with the thread that made it, and the answer is a [`Probe`].
//!
//! `vnet doctor` prints them all; `up` can call [`missing`] with the features a topology
//! needs and refuse before it creates anything.

use std::io;

use nix::sched::{CloneFlags, unshare};
use serde::Serialize;

mod kernel;

use super::tc;

pub use crate::model::feature::Feature;

use super::netns;

/// The answer for one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub available: bool,
    /// What was tried, and what the kernel said.
    pub detail: String,
    /// What to do about it; only when the feature is not available.
    pub hint: Option<String>,
}

/// Why a probe failed: the step, and the error the kernel (or the system) gave.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub what: String,
    pub error: io::Error,
    /// The refused step is the feature itself, so the errno says the kernel lacks it; a
    /// failed preparation step (unshare, a veth to build on) says nothing about the feature.
    pub decisive: bool,
    /// Said instead of the errno when there is something better to say (a tool's message).
    pub output: Option<String>,
    /// Overrides the feature's own hint.
    pub hint: Option<String>,
}

impl Refusal {
    pub(crate) fn feature(what: &str, error: io::Error) -> Self {
        Refusal {
            what: what.to_owned(),
            error,
            decisive: true,
            output: None,
            hint: None,
        }
    }

    pub(crate) fn setup(what: &str, error: io::Error) -> Self {
        Refusal {
            decisive: false,
            ..Refusal::feature(what, error)
        }
    }
}

/// Tries one feature. Safe to call from any thread: the kernel work happens on threads of
/// its own, never in the caller's namespace.
pub(crate) fn probe(feature: Feature) -> Probe {
    use kernel::with_netlink;
    let outcome = match feature {
        Feature::Privileges => privileges(),
        Feature::NetnsDir => netns_dir(),
        Feature::Veth => isolated(|| with_netlink(kernel::veth)),
        Feature::Bridge => isolated(|| with_netlink(kernel::bridge)),
        Feature::BridgeVlanFiltering => isolated(|| with_netlink(kernel::bridge_vlan_filtering)),
        Feature::Vlan => isolated(|| with_netlink(kernel::vlan)),
        Feature::Macvlan => isolated(|| with_netlink(kernel::macvlan)),
        Feature::Vxlan => isolated(|| with_netlink(kernel::vxlan)),
        Feature::Tap => isolated(kernel::tap),
        Feature::Netem => isolated(|| with_netlink(|h| kernel::qdisc(h, tc::netem(1000)))),
        // 1 Mbit/s; any valid rate proves the qdisc exists. The 128 KiB bucket and queue exceed
        // lo's 64 KiB MTU, below which the kernel logs a warning for every probe.
        Feature::Tbf => {
            isolated(|| with_netlink(|h| kernel::qdisc(h, tc::tbf(125_000, 128 << 10, 128 << 10))))
        }
        Feature::NftNat => isolated(kernel::nft_nat),
        Feature::Ipv6 => isolated(|| with_netlink(kernel::ipv6)),
    };
    verdict(feature, outcome, modules_supported())
}

/// A kernel built without module support has no `/proc/modules`; `modprobe` cannot help there.
fn modules_supported() -> bool {
    std::path::Path::new("/proc/modules").exists()
}

/// Tries the features concurrently; the answers come back in the order asked.
pub(crate) fn probe_each(features: &[Feature]) -> Vec<(Feature, Probe)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = features
            .iter()
            .map(|f| {
                let f = *f;
                (f, thread().spawn_scoped(s, move || probe(f)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(f, h)| match h {
                Ok(h) => (f, h.join().unwrap_or_else(|_| panicked(f))),
                // Out of threads: probe here instead; `probe` never changes our namespace.
                Err(_) => (f, probe(f)),
            })
            .collect()
    })
}

/// Every feature vnet knows, as `vnet doctor` shows them.
pub(crate) fn probe_all() -> Vec<(Feature, Probe)> {
    probe_each(&Feature::ALL)
}

/// Those of `features` this machine lacks, with why.
pub fn missing(features: &[Feature]) -> Vec<(Feature, Probe)> {
    probe_each(features)
        .into_iter()
        .filter(|(_, p)| !p.available)
        .collect()
}

fn thread() -> std::thread::Builder {
    std::thread::Builder::new().name("vnet-probe".into())
}

fn panicked(feature: Feature) -> Probe {
    Probe {
        available: false,
        detail: "the probe panicked (a bug in vnet)".into(),
        hint: Some(feature.hint(modules_supported())),
    }
}

/// Runs `f` on a new thread inside a new, unnamed network namespace. Nothing pins the
/// namespace: when the thread ends and its sockets close, the kernel frees it and everything
/// in it. The caller's thread never changes namespace.
fn isolated<F>(f: F) -> Result<String, Refusal>
where
    F: FnOnce() -> Result<String, Refusal> + Send,
{
    std::thread::scope(|s| {
        let worker = thread()
            .spawn_scoped(s, || {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Refusal::setup("unshare(CLONE_NEWNET)", e.into()))?;
                f()
            })
            .map_err(|e| Refusal::setup("starting a probe thread", e))?;
        worker.join().unwrap_or_else(|_| {
            Err(Refusal::setup(
                "probing",
                io::Error::other("the probe thread panicked"),
            ))
        })
    })
}

/// Errors with which the kernel says "I was built without this".
fn means_missing(feature: Feature, errno: i32) -> bool {
    match feature {
        Feature::Netem | Feature::Tbf => matches!(errno, libc::ENOENT | libc::EINVAL),
        Feature::Tap => matches!(errno, libc::ENOENT | libc::ENODEV | libc::ENXIO),
        Feature::Ipv6 => matches!(errno, libc::EAFNOSUPPORT | libc::EOPNOTSUPP | libc::EACCES),
        Feature::NetnsDir => errno == libc::EINVAL,
        Feature::Privileges => false,
        _ => errno == libc::EOPNOTSUPP,
    }
}

/// `EOPNOTSUPP` alone when the errno is explained by what follows it, with the C library's
/// description otherwise.
fn errno_text(e: &io::Error, explained: bool) -> String {
    match e.raw_os_error() {
        Some(n) if explained => format!("{:?}", nix::errno::Errno::from_raw(n)),
        Some(n) => nix::errno::Errno::from_raw(n).to_string(),
        None => e.to_string(),
    }
}

fn verdict(feature: Feature, outcome: Result<String, Refusal>, modules: bool) -> Probe {
    let r = match outcome {
        Ok(detail) => {
            return Probe {
                available: true,
                detail,
                hint: None,
            };
        }
        Err(r) => r,
    };
    let errno = r.error.raw_os_error().unwrap_or(0);
    let missing = r.decisive && means_missing(feature, errno);
    let said = r
        .output
        .unwrap_or_else(|| errno_text(&r.error, missing && feature.config().is_some()));
    let detail = match (missing, feature.config()) {
        (true, Some(config)) => format!("{}: {said}; kernel lacks {config}", r.what),
        _ => format!("{}: {said}", r.what),
    };
    let hint = r.hint.unwrap_or_else(|| {
        if !missing && matches!(errno, libc::EPERM | libc::EACCES) {
            Feature::Privileges.hint(modules)
        } else {
            feature.hint(modules)
        }
    });
    Probe {
        available: false,
        detail,
        hint: Some(hint),
    }
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// The capabilities vnet needs that `CapEff` (from `/proc/self/status`) lacks, by name.
fn missing_caps(status: &str) -> Option<Vec<&'static str>> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let eff = u64::from_str_radix(hex, 16).ok()?;
    Some(
        [
            (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
            (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
        ]
        .into_iter()
        .filter(|(bit, _)| eff & (1u64 << bit) == 0)
        .map(|(_, name)| name)
        .collect(),
    )
}

/// Capabilities, not the uid, decide: root in a container may lack them, and a non-root
/// user may have been given them.
fn privileges() -> Result<String, Refusal> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Refusal::setup("reading /proc/self/status", e))?;
    let uid = nix::unistd::geteuid();
    match missing_caps(&status) {
        None => Err(Refusal::setup(
            "reading CapEff in /proc/self/status",
            io::Error::from_raw_os_error(libc::EINVAL),
        )),
        Some(lacking) if lacking.is_empty() => Ok(format!(
            "uid {uid}; CAP_NET_ADMIN and CAP_SYS_ADMIN effective"
        )),
        Some(lacking) => Err(Refusal {
            what: format!("uid {uid}"),
            error: io::Error::from_raw_os_error(libc::EPERM),
            decisive: true,
            output: Some(format!("lacks {}", lacking.join(" and "))),
            hint: None,
        }),
    }
}

/// A named namespace, made and deleted exactly as `vnet up` and `vnet down` do it.
fn netns_dir() -> Result<String, Refusal> {
    let name = format!("vnet-doctor-{}", std::process::id());
    netns::prepare_dir()
        .map_err(|e| Refusal::feature("making /run/netns a shared mount point", e))?;
    let made = netns::create_all(std::slice::from_ref(&name))
        .into_iter()
        .next()
        .map(|(_, made)| made)
        .unwrap_or_else(|| Err(io::Error::other("no namespace was made")));
    let created = match made {
        // Nothing of ours stays open in it, so nothing keeps the namespace alive.
        Ok(_) => Ok(()),
        // The name belongs to someone else: never delete what vnet did not make.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Refusal::setup(&format!("creating {name}"), e));
        }
        Err(e) => Err(Refusal::feature(&format!("creating {name}"), e)),
    };
    // Also after a failure: creation may have got as far as the bind mount.
    let deleted =
        netns::delete(&name).map_err(|e| Refusal::feature(&format!("deleting {name}"), e));
    created?;
    deleted?;
    if netns::path(&name).exists() || netns::is_mounted(&name) {
        return Err(Refusal::feature(
            &format!("deleting {name}"),
            io::Error::from_raw_os_error(libc::EBUSY),
        ));
    }
    Ok(format!(
        "created and deleted {}",
        netns::path(&name).display()
    ))
}

/// Why 802.1Q switches cannot be built natively here (a VLAN-filtering bridge and 802.1Q
/// devices are both needed), or `None` when they can.
pub fn native_vlans_missing() -> Option<String> {
    let gaps = missing(&[Feature::BridgeVlanFiltering, Feature::Vlan]);
    (!gaps.is_empty()).then(|| {
        gaps.into_iter()
            .map(|(_, p)| p.detail)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_from_cap_eff() {
        let root = "Name:\tvnet\nCapPrm:\t000001ffffffffff\nCapEff:\t000001fffeffffff\n";
        assert_eq!(missing_caps(root), Some(vec![]));
        let user = "CapEff:\t0000000000000000\n";
        assert_eq!(
            missing_caps(user),
            Some(vec!["CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
        );
        let net_only = format!("CapEff:\t{:016x}\n", 1u64 << CAP_NET_ADMIN);
        assert_eq!(missing_caps(&net_only), Some(vec!["CAP_SYS_ADMIN"]));
        assert_eq!(missing_caps("Name:\tvnet\n"), None);
    }

    #[test]
    fn a_missing_link_kind_names_the_kernel_option() {
        let p = verdict(
            Feature::Vlan,
            Err(Refusal::feature(
                "creating VLAN 10 on a veth",
                io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            )),
            false,
        );
        assert!(!p.available);
        assert_eq!(
            p.detail,
            "creating VLAN 10 on a veth: EOPNOTSUPP; kernel lacks CONFIG_VLAN_8021Q"
        );
        assert_eq!(p.hint, Some(Feature::Vlan.hint(false)));
    }

    #[test]
    fn a_failed_setup_step_is_not_blamed_on_the_feature() {
        let p = verdict(
            Feature::Macvlan,
            Err(Refusal::setup(
                "unshare(CLONE_NEWNET)",
                io::Error::from_raw_os_error(libc::EPERM),
            )),
            false,
        );
        assert_eq!(
            p.detail,
            "unshare(CLONE_NEWNET): EPERM: Operation not permitted"
        );
        assert_eq!(p.hint, Some(Feature::Privileges.hint(false)));
    }

    #[test]
    fn success_has_no_hint() {
        let p = verdict(Feature::Veth, Ok("created a veth pair".into()), true);
        assert_eq!(
            p,
            Probe {
                available: true,
                detail: "created a veth pair".into(),
                hint: None
            }
        );
    }
}
