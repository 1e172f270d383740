//! The probes themselves. Each runs on a thread that has unshared into a fresh network
//! namespace of its own (see [`super::isolated`]), so whatever it creates is gone with the
//! thread and nothing ever touches the machine's own namespace.

use std::future::Future;
use std::io;
use std::process::{Command, Stdio};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::MacVlanMode;
use rtnetlink::{Handle, LinkBridge, LinkMacVlan, LinkUnspec, LinkVeth, LinkVlan, LinkVxlan};

use super::Refusal;
use super::tc;

/// Interface names inside the throwaway namespace; nothing else lives there.
const VETH: &str = "vd0";
const PEER: &str = "vd1";

fn nl(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// Runs `f` with a netlink handle opened in this thread's namespace, on a runtime that lives
/// on this thread only: a shared runtime's workers would be in some other namespace.
pub(super) fn with_netlink<F, Fut>(f: F) -> Result<String, Refusal>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<String, Refusal>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Refusal::setup("starting a runtime", e))?;
    rt.block_on(async {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Refusal::setup("opening netlink", e))?;
        tokio::spawn(conn);
        f(handle).await
    })
}

async fn add_veth(h: &Handle) -> io::Result<u32> {
    h.link()
        .add(LinkVeth::new(VETH, PEER).build())
        .execute()
        .await
        .map_err(nl)?;
    let link = h
        .link()
        .get()
        .match_name(VETH.to_owned())
        .execute()
        .try_next()
        .await
        .map_err(nl)?;
    link.map(|l| l.header.index)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

/// A veth pair the feature under test builds on; its failure is not the feature's fault.
async fn base_veth(h: &Handle) -> Result<u32, Refusal> {
    add_veth(h)
        .await
        .map_err(|e| Refusal::setup("creating a veth pair to build on", e))
}

pub(super) async fn veth(h: Handle) -> Result<String, Refusal> {
    add_veth(&h)
        .await
        .map_err(|e| Refusal::feature("creating a veth pair", e))?;
    Ok("created a veth pair".into())
}

pub(super) async fn bridge(h: Handle) -> Result<String, Refusal> {
    h.link()
        .add(LinkBridge::new("vdbr0").build())
        .execute()
        .await
        .map_err(|e| Refusal::feature("creating a bridge", nl(e)))?;
    Ok("created a bridge".into())
}

pub(super) async fn bridge_vlan_filtering(h: Handle) -> Result<String, Refusal> {
    // A plain bridge first, so that a kernel without bridges at all is not reported as one
    // without VLAN filtering: both fail with EOPNOTSUPP.
    h.link()
        .add(LinkBridge::new("vdbr0").build())
        .execute()
        .await
        .map_err(|e| Refusal::setup("creating a bridge", nl(e)))?;
    h.link()
        .add(LinkBridge::new("vdbr1").vlan_filtering(true).build())
        .execute()
        .await
        .map_err(|e| Refusal::feature("creating a bridge with vlan_filtering 1", nl(e)))?;
    Ok("created a VLAN-filtering bridge".into())
}

pub(super) async fn vlan(h: Handle) -> Result<String, Refusal> {
    let base = base_veth(&h).await?;
    let name = format!("{VETH}.10");
    h.link()
        .add(LinkVlan::new(&name, base, 10).build())
        .execute()
        .await
        .map_err(|e| Refusal::feature("creating VLAN 10 on a veth", nl(e)))?;
    Ok("created VLAN 10 on a veth".into())
}

pub(super) async fn macvlan(h: Handle) -> Result<String, Refusal> {
    let base = base_veth(&h).await?;
    h.link()
        .add(LinkMacVlan::new("vdmv0", base, MacVlanMode::Bridge).build())
        .execute()
        .await
        .map_err(|e| Refusal::feature("creating a bridge-mode macvlan on a veth", nl(e)))?;
    Ok("created a bridge-mode macvlan on a veth".into())
}

pub(super) async fn vxlan(h: Handle) -> Result<String, Refusal> {
    h.link()
        .add(LinkVxlan::new("vdvx0", 42).port(4789).build())
        .execute()
        .await
        .map_err(|e| Refusal::feature("creating VXLAN 42", nl(e)))?;
    Ok("created VXLAN 42 (port 4789)".into())
}

pub(super) async fn ipv6(h: Handle) -> Result<String, Refusal> {
    // `lo` is index 1 in every fresh namespace.
    h.link()
        .set(LinkUnspec::new_with_index(1).up().build())
        .execute()
        .await
        .map_err(|e| Refusal::setup("bringing lo up", nl(e)))?;
    let addr = std::net::Ipv6Addr::new(0xfd00, 0, 0, 0x76, 0, 0, 0, 1);
    let mut req = h.address().add(1, addr.into(), 64);
    // No duplicate address detection: nothing else can hold the address here.
    req.message_mut()
        .attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    req.execute()
        .await
        .map_err(|e| Refusal::feature("adding fd00:0:0:76::1/64 to lo", nl(e)))?;
    Ok("added an IPv6 address to lo".into())
}

/// netem or TBF as the root qdisc of `lo`: a qdisc needs a device, and `lo` always exists.
pub(super) async fn qdisc(h: Handle, qdisc: tc::Qdisc) -> Result<String, Refusal> {
    let what = format!("adding a {} root qdisc to lo", qdisc.kind);
    tc::add(h, 1, &qdisc)
        .await
        .map_err(|e| Refusal::feature(&what, e))?;
    Ok(format!("added a {} root qdisc", qdisc.kind))
}

/// `struct ifreq` as TUNSETIFF reads it: a name and the flags; the rest of the union unused.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// A TAP device, as a VM or a userspace switch would open one. It is not persistent: closing
/// the file descriptor removes it.
pub(super) fn tap() -> Result<String, Refusal> {
    use std::os::fd::AsRawFd;
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| Refusal::feature("opening /dev/net/tun", e))?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _rest: [0; 22],
    };
    req.name[..6].copy_from_slice(b"vdtap0");
    // SAFETY: `tun` is an open descriptor of the TUN driver and `req` is a live, writable
    // `struct ifreq` (name, flags, padding to its full size) for the duration of the call.
    let rc = unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(Refusal::feature(
            "TUNSETIFF IFF_TAP",
            io::Error::last_os_error(),
        ));
    }
    Ok("opened a TAP device through /dev/net/tun".into())
}

/// The ruleset a NAT router would load: a nat table with a masquerading postrouting chain.
const NAT_RULESET: &str = "table ip vnet_doctor {
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    masquerade
  }
}
";

/// Where `nft` usually lives, for when `sudo` or a service leaves `/usr/sbin` out of PATH.
fn find_nft() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(Into::into))
        .map(|dir| dir.join("nft"))
        .find(|p| p.is_file())
}

/// Why the NAT probe failed when `nft` is missing: a tool to install, not a kernel to change.
pub(super) const NO_NFT: &str = "install the nftables package (it provides `nft`)";

/// Loads [`NAT_RULESET`] with `nft -f -`. The child inherits this thread's namespace, so the
/// table is made, and dropped, inside the throwaway namespace.
pub(super) fn nft_nat() -> Result<String, Refusal> {
    let Some(nft) = find_nft() else {
        return Err(Refusal {
            what: "looking for the `nft` program".into(),
            error: io::Error::from_raw_os_error(libc::ENOENT),
            decisive: false,
            output: Some("`nft` is not installed".into()),
            hint: Some(NO_NFT.into()),
        });
    };
    let mut child = Command::new(&nft)
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Refusal::setup("starting nft", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // A write error shows up as nft's own failure below.
        let _ = stdin.write_all(NAT_RULESET.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Refusal::setup("waiting for nft", e))?;
    if out.status.success() {
        return Ok(format!("loaded a masquerade rule with {}", nft.display()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr
        .lines()
        .find(|l| l.starts_with("Error"))
        .or_else(|| stderr.lines().next())
        .unwrap_or("no output")
        .trim()
        .to_owned();
    // nft reports the kernel's errno only as text; these two mean the kernel lacks the part.
    let missing = ["No such file or directory", "Operation not supported"]
        .iter()
        .any(|m| stderr.contains(m));
    let errno = if missing {
        libc::EOPNOTSUPP
    } else if stderr.contains("Operation not permitted") {
        libc::EPERM
    } else {
        libc::EINVAL
    };
    Err(Refusal {
        what: "nft -f - (nat table, masquerade)".into(),
        error: io::Error::from_raw_os_error(errno),
        decisive: missing,
        output: Some(format!("nft: {first}")),
        hint: None,
    })
}
