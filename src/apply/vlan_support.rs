//! What this kernel can do, found by trying it in a throwaway namespace.

use std::io;

use nix::sched::{CloneFlags, unshare};
use rtnetlink::{LinkBridge, LinkVeth, LinkVlan};

/// Why 802.1Q switches cannot be built natively here, or `None` when they can: a bridge with
/// VLAN filtering and an 802.1Q device are both needed.
pub fn native_vlans_missing() -> Option<String> {
    match std::thread::spawn(try_native_vlans).join() {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some("the probe thread panicked".into()),
    }
}

/// Runs on its own thread: the namespace it makes vanishes when the thread ends.
fn try_native_vlans() -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot make a namespace to probe in: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (conn, h, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let err = |what: &str, option: &str, e: rtnetlink::Error| {
            let io = match e {
                rtnetlink::Error::NetlinkError(m) => m.to_io(),
                other => io::Error::other(other.to_string()),
            };
            format!("{what} failed ({io}): the kernel lacks {option}")
        };
        h.link()
            .add(LinkBridge::new("probe").vlan_filtering(true).build())
            .execute()
            .await
            .map_err(|e| err("a VLAN-filtering bridge", "CONFIG_BRIDGE_VLAN_FILTERING", e))?;
        h.link()
            .add(LinkVeth::new("pv0", "pv1").build())
            .execute()
            .await
            .map_err(|e| err("a veth pair", "CONFIG_VETH", e))?;
        let idx = if_index("pv0").map_err(|e| e.to_string())?;
        h.link()
            .add(LinkVlan::new("pv0.10", idx, 10).build())
            .execute()
            .await
            .map_err(|e| err("an 802.1Q sub-interface", "CONFIG_VLAN_8021Q", e))?;
        Ok(())
    })
}

fn if_index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}
