//! The kernel features a lab needs, each with the line of the topology that needs it, so that
//! `up` can refuse before creating anything and say where and why.

use crate::model::feature::Feature;
use crate::model::{At, Lab, LinkKind, NodeKind};

/// One need: the feature, where the topology asks for it, and what asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub feature: Feature,
    pub at: At,
    pub what: String,
}

/// Everything the lab needs beyond namespaces, veth pairs and bridges (which every lab needs).
/// `native_vlans`: whether 802.1Q switches are to be built natively.
pub fn needs(lab: &Lab, native_vlans: bool) -> Vec<Need> {
    let mut out = Vec::new();
    let mut need = |feature, at: At, what: String| {
        if !out.iter().any(|n: &Need| n.feature == feature) {
            out.push(Need { feature, at, what });
        }
    };
    for l in &lab.links {
        match l.kind {
            LinkKind::Macvlan { .. } => need(Feature::Macvlan, l.at, "this macvlan link".into()),
            LinkKind::Vxlan { .. } => need(Feature::Vxlan, l.at, "this VXLAN link".into()),
            LinkKind::Veth => {}
        }
        if let Some(i) = &l.impair {
            let ends = [&i.a, &i.b];
            if ends
                .iter()
                .any(|e| e.as_ref().is_some_and(|x| x.needs_netem()))
            {
                need(
                    Feature::Netem,
                    i.at,
                    "this link's impairment (delay, jitter, loss, duplicate, reorder or corrupt)"
                        .into(),
                );
            }
            if ends
                .iter()
                .any(|e| e.as_ref().is_some_and(|x| x.rate_bps.is_some()))
            {
                need(Feature::Tbf, i.at, "this link's rate limit".into());
            }
        }
    }
    let staged = lab.stages.iter().flat_map(|s| &s.actions);
    for (impair, at) in staged.filter_map(|a| match a {
        crate::model::Action::Impair {
            impair: Some(i),
            at,
            ..
        } => Some((i, *at)),
        _ => None,
    }) {
        if impair.needs_netem() {
            need(
                Feature::Netem,
                at,
                "this stage's impairment (delay, jitter, loss, duplicate, reorder or corrupt)"
                    .into(),
            );
        }
        if impair.rate_bps.is_some() {
            need(Feature::Tbf, at, "this stage's rate limit".into());
        }
    }
    for t in &lab.taps {
        need(Feature::Tap, t.at, format!("TAP device `{}`", t.name));
    }
    for n in &lab.nodes {
        if n.nat.is_some() {
            need(Feature::NftNat, n.at, format!("the NAT of `{}`", n.name));
        }
        if n.ports.iter().any(|p| !p.allow.is_empty()) {
            need(
                Feature::NftNat,
                n.at,
                format!("the port security of `{}`", n.name),
            );
        }
        if native_vlans {
            if n.kind == NodeKind::Switch {
                need(
                    Feature::BridgeVlanFiltering,
                    n.at,
                    format!("802.1Q switch `{}`", n.name),
                );
            }
            if let Some(i) = n.interfaces.iter().find(|i| i.vlan.is_some()) {
                need(
                    Feature::Vlan,
                    i.at,
                    format!("sub-interface `{}:{}`", n.name, i.name),
                );
            }
        }
        if let Some(i) = n
            .interfaces
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.addr().is_ipv6()))
        {
            need(
                Feature::Ipv6,
                i.at,
                format!("the IPv6 address of `{}:{}`", n.name, i.name),
            );
        }
    }
    out
}
