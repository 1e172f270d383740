//! What an errno means when the kernel refuses a step, and what the user can do about it.

use std::io;

use super::super::plan::Step;

pub(crate) fn hint(step: &Step, err: &io::Error) -> Option<String> {
    let errno = err.raw_os_error()?;
    let text = match (errno, step) {
        (libc::EPERM | libc::EACCES, _) => {
            "vnet needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN): run it with sudo"
        }
        (libc::EEXIST, Step::AddNetns { .. }) => {
            "a namespace of that name already exists; if it is left from an earlier run, `vnet down LAB` removes it"
        }
        (libc::EEXIST, Step::AddRoute { .. }) => {
            "the node already has a route to that destination (a gateway and a route may overlap)"
        }
        (libc::EEXIST, _) => "the object already exists in that namespace",
        (libc::ENETUNREACH, Step::AddRoute { .. }) => {
            "the next hop is not on a subnet the node is attached to"
        }
        (libc::EOPNOTSUPP, _) => {
            "this kernel lacks the feature; `vnet doctor` lists what it supports"
        }
        (libc::ENOENT, Step::Impair { .. }) => {
            "this kernel lacks the qdisc (netem: CONFIG_NET_SCH_NETEM, TBF: CONFIG_NET_SCH_TBF); `vnet doctor` lists what it supports"
        }
        (libc::EINVAL, Step::Impair { .. }) => {
            "the kernel refused the qdisc's settings (some netem settings need a newer kernel)"
        }
        (libc::ENOENT, Step::Exec { .. }) => "the command's program was not found",
        (libc::ENODEV, _) => "the interface does not exist (was it created by an earlier step?)",
        (libc::ERANGE | libc::EINVAL, Step::AddVeth { mtu: Some(_), .. }) => {
            "the MTU is outside what a veth accepts (68 to 65535)"
        }
        (libc::EADDRNOTAVAIL, _) => "the address is not available on that interface",
        (libc::ENOSPC | libc::ENOMEM | libc::ENOBUFS, _) => {
            "the kernel ran out of a resource; a smaller lab or a higher limit may help"
        }
        _ => return None,
    };
    Some(text.to_owned())
}
