//! What vnet can ask of a kernel, as plain data: no kernel work happens here, so the planner
//! can name the features a topology needs and check them before anything is created.

use serde::Serialize;

/// A capability of the machine vnet may depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Root, or CAP_NET_ADMIN + CAP_SYS_ADMIN.
    Privileges,
    /// Named namespaces under `/run/netns`, as `ip netns` keeps them.
    NetnsDir,
    Veth,
    Bridge,
    BridgeVlanFiltering,
    /// 802.1Q sub-interfaces (`eth0.10`).
    Vlan,
    Macvlan,
    Vxlan,
    Tap,
    Netem,
    Tbf,
    NftNat,
    Ipv6,
}

impl Feature {
    /// Every feature, in the order `vnet doctor` reports them.
    pub const ALL: [Feature; 13] = [
        Feature::Privileges,
        Feature::NetnsDir,
        Feature::Veth,
        Feature::Bridge,
        Feature::BridgeVlanFiltering,
        Feature::Vlan,
        Feature::Macvlan,
        Feature::Vxlan,
        Feature::Tap,
        Feature::Netem,
        Feature::Tbf,
        Feature::NftNat,
        Feature::Ipv6,
    ];

    /// The name a user reads in `vnet doctor`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Privileges => "root",
            Feature::NetnsDir => "/run/netns",
            Feature::Veth => "veth",
            Feature::Bridge => "bridge",
            Feature::BridgeVlanFiltering => "bridge VLAN filtering",
            Feature::Vlan => "802.1Q VLAN",
            Feature::Macvlan => "macvlan",
            Feature::Vxlan => "VXLAN",
            Feature::Tap => "TAP",
            Feature::Netem => "netem qdisc",
            Feature::Tbf => "TBF qdisc",
            Feature::NftNat => "nftables NAT",
            Feature::Ipv6 => "IPv6",
        }
    }

    /// The kernel build option that provides the feature.
    pub fn config(self) -> Option<&'static str> {
        Some(match self {
            Feature::Privileges => return None,
            Feature::NetnsDir => "CONFIG_NET_NS",
            Feature::Veth => "CONFIG_VETH",
            Feature::Bridge => "CONFIG_BRIDGE",
            Feature::BridgeVlanFiltering => "CONFIG_BRIDGE_VLAN_FILTERING",
            Feature::Vlan => "CONFIG_VLAN_8021Q",
            Feature::Macvlan => "CONFIG_MACVLAN",
            Feature::Vxlan => "CONFIG_VXLAN",
            Feature::Tap => "CONFIG_TUN",
            Feature::Netem => "CONFIG_NET_SCH_NETEM",
            Feature::Tbf => "CONFIG_NET_SCH_TBF",
            Feature::NftNat => "CONFIG_NFT_NAT",
            Feature::Ipv6 => "CONFIG_IPV6",
        })
    }

    /// The module that provides the feature when the kernel builds it as one. Bridge VLAN
    /// filtering is a build option of the bridge module, not a module of its own.
    pub fn module(self) -> Option<&'static str> {
        Some(match self {
            Feature::Veth => "veth",
            Feature::Bridge => "bridge",
            Feature::Vlan => "8021q",
            Feature::Macvlan => "macvlan",
            Feature::Vxlan => "vxlan",
            Feature::Tap => "tun",
            Feature::Netem => "sch_netem",
            Feature::Tbf => "sch_tbf",
            Feature::NftNat => "nft_nat",
            Feature::Ipv6 => "ipv6",
            Feature::Privileges | Feature::NetnsDir | Feature::BridgeVlanFiltering => {
                return None;
            }
        })
    }

    /// Without these vnet cannot build any lab at all; `vnet doctor` fails when one is missing.
    pub fn essential(self) -> bool {
        matches!(
            self,
            Feature::Privileges | Feature::NetnsDir | Feature::Veth | Feature::Bridge
        )
    }

    /// What to do when the feature is missing. `modules`: whether this kernel can load
    /// modules at all; when it cannot, only another kernel helps.
    pub fn hint(self, modules: bool) -> String {
        match self {
            Feature::Privileges => {
                "run vnet as root (sudo), or give it CAP_NET_ADMIN and CAP_SYS_ADMIN".into()
            }
            Feature::NetnsDir => "vnet keeps namespaces in /run/netns like `ip netns`: \
                 /run must be writable and vnet allowed to mount there"
                .into(),
            Feature::Ipv6 => "boot without ipv6.disable=1 and with net.ipv6.conf.*.disable_ipv6 \
                 = 0, or use a kernel with CONFIG_IPV6; IPv4-only labs still work"
                .into(),
            _ => {
                let config = match self {
                    Feature::NftNat => "CONFIG_NFT_NAT and CONFIG_NFT_MASQ",
                    _ => self.config().unwrap_or("the option"),
                };
                let kernel = format!("a kernel with {config} (stock distribution kernels have it)");
                match self.module() {
                    Some(m) if modules => format!("`modprobe {m}`, or use {kernel}"),
                    _ => format!("use {kernel}"),
                }
            }
        }
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_is_listed_once() {
        let mut all = Feature::ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Feature::ALL.len());
    }

    #[test]
    fn only_privileges_has_no_kernel_option() {
        for f in Feature::ALL {
            assert_eq!(f.config().is_none(), f == Feature::Privileges, "{f:?}");
            assert!(!f.hint(true).is_empty(), "{f:?}");
        }
    }

    #[test]
    fn essentials_are_what_every_lab_needs() {
        let essential: Vec<_> = Feature::ALL.into_iter().filter(|f| f.essential()).collect();
        assert_eq!(
            essential,
            [
                Feature::Privileges,
                Feature::NetnsDir,
                Feature::Veth,
                Feature::Bridge
            ]
        );
    }

    #[test]
    fn hints_name_the_module_and_the_option() {
        assert_eq!(
            Feature::Vlan.hint(true),
            "`modprobe 8021q`, or use a kernel with CONFIG_VLAN_8021Q \
             (stock distribution kernels have it)"
        );
        assert_eq!(
            Feature::Vlan.hint(false),
            "use a kernel with CONFIG_VLAN_8021Q (stock distribution kernels have it)"
        );
        assert!(
            Feature::BridgeVlanFiltering
                .hint(true)
                .contains("CONFIG_BRIDGE_VLAN_FILTERING")
        );
        assert!(Feature::NftNat.hint(false).contains("CONFIG_NFT_MASQ"));
        assert_eq!(
            serde_json::to_string(&Feature::BridgeVlanFiltering).ok(),
            Some("\"bridge-vlan-filtering\"".into())
        );
    }
}
