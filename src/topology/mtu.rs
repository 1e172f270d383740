//! MTUs: a veth pair has one, so its ends and its link must agree on it; and an `mtu:` that
//! `up` would not apply (macvlan, VXLAN, 802.1Q sub-interfaces) is refused, not ignored.

use std::collections::HashMap;

use super::diag::Problems;
use super::schema::{RawEndpoint, RawIface, RawLab, RawLinkKind, Sp};

pub(crate) fn mtus(p: &mut Problems, raw: &RawLab) {
    // Looked up once per link end: a scan of every node would be quadratic in a large lab.
    let declared: HashMap<(&str, &str), &RawIface> = raw
        .nodes
        .iter()
        .flat_map(|n| {
            n.interfaces
                .iter()
                .map(move |i| ((n.name.v.as_str(), i.name.v.as_str()), i))
        })
        .collect();
    let iface = |e: &RawEndpoint| declared.get(&(e.node.as_str(), e.iface.as_str())).copied();
    for rl in &raw.links {
        match &rl.kind {
            RawLinkKind::Veth => veth(p, rl.mtu.as_ref(), [&rl.a, &rl.b].map(|e| (e, iface(e)))),
            RawLinkKind::Macvlan { .. } => {
                ignored(
                    p,
                    &rl.a,
                    iface(&rl.a),
                    "a macvlan child takes its parent's MTU",
                );
            }
            RawLinkKind::Vxlan { .. } => {
                for e in [&rl.a, &rl.b] {
                    ignored(p, e, iface(e), "vnet does not set a VXLAN device's MTU");
                }
                if let Some(m) = &rl.mtu {
                    p.error(
                        "mtu",
                        "vnet does not set a VXLAN link's MTU",
                        m.at,
                        "this MTU would not be applied",
                        Some("remove `mtu:` here; the MTU of the underlay's veth links limits the tunnel".into()),
                    );
                }
            }
        }
    }
    for rn in &raw.nodes {
        for i in rn.interfaces.iter().filter(|i| i.vlan.is_some()) {
            let e = RawEndpoint {
                node: rn.name.v.clone(),
                iface: i.name.v.clone(),
                at: i.name.at,
            };
            ignored(
                p,
                &e,
                Some(i),
                "an 802.1Q sub-interface takes its parent's MTU",
            );
        }
    }
}

/// Each end's `mtu:` and the link's are one number: `up` gives the pair one MTU (the link's,
/// else the first end's), so any other would be dropped without a word.
fn veth<'r>(
    p: &mut Problems,
    link: Option<&Sp<u32>>,
    ends: [(&'r RawEndpoint, Option<&'r RawIface>); 2],
) {
    let [a, b] = ends.map(|(e, i)| i.and_then(|i| i.mtu.as_ref()).map(|m| (e, m)));
    if let Some(l) = link {
        for (e, m) in [a, b].into_iter().flatten().filter(|(_, m)| m.v != l.v) {
            let problem = p
                .new_problem(
                    "mtu",
                    format!(
                        "interface `{}:{}` has MTU {} but its link has MTU {}",
                        e.node, e.iface, m.v, l.v
                    ),
                )
                .label(m.at, format!("MTU {} for the interface", m.v))
                .label(l.at, format!("MTU {} for the link", l.v))
                .help(
                    "a veth pair has one MTU: give it on the link, or the same on both interfaces",
                );
            p.push(problem);
        }
    } else if let (Some((ea, ma)), Some((eb, mb))) = (a, b)
        && ma.v != mb.v
    {
        let problem = p
            .new_problem(
                "mtu",
                format!(
                    "the ends of link `{}:{}` - `{}:{}` have different MTUs ({} and {})",
                    ea.node, ea.iface, eb.node, eb.iface, ma.v, mb.v
                ),
            )
            .label(ma.at, format!("MTU {}", ma.v))
            .label(mb.at, format!("MTU {}", mb.v))
            .help("a veth pair has one MTU: give the same on both ends, or `mtu:` on the link");
        p.push(problem);
    }
}

fn ignored(p: &mut Problems, e: &RawEndpoint, iface: Option<&RawIface>, why: &str) {
    let Some(m) = iface.and_then(|i| i.mtu.as_ref()) else {
        return;
    };
    p.error(
        "mtu",
        format!("the MTU of `{}:{}` would not be set", e.node, e.iface),
        m.at,
        why,
        Some("remove `mtu:` here; set the MTU on the veth link underneath".into()),
    );
}
