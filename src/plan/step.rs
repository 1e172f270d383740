//! One kernel operation, as data: what `up` does, what the journal stores, what `plan` prints.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One end of a veth pair: the namespace it lives in, its name, and an optional MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub ns: String,
    pub dev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Step {
    /// `ip netns add NS`
    AddNetns { ns: String },
    /// `ip -n NS link set lo up alias TAG`: the tag marks the namespace as the lab's.
    LoopbackUp { ns: String, tag: String },
    /// `ip netns exec NS sysctl -w KEY=VALUE`
    Sysctl {
        ns: String,
        key: String,
        value: String,
    },
    /// `ip -n NS link add NAME type bridge mcast_snooping 0 [stp_state 1 forward_delay 200]
    /// [vlan_filtering 1 vlan_default_pvid 0]`
    AddBridge {
        ns: String,
        name: String,
        stp: bool,
        /// `priority N`: the spanning-tree bridge priority, if not the kernel's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u16>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        vlan_filtering: bool,
        /// A hub: `ageing_time 0`, it forgets every MAC at once and so floods every frame.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hub: bool,
    },
    /// `ip netns exec NS bridge vlan add dev DEV vid VID [pvid untagged] [self]`
    BridgeVlan {
        ns: String,
        dev: String,
        vid: u16,
        /// Untagged frames in, and out untagged: an access port or a trunk's native VLAN.
        untagged: bool,
        /// The entry is for the bridge device itself (for an SVI).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        bridge_self: bool,
    },
    /// `ip -n NS link add link PARENT name NAME type vlan id VID`
    AddVlan {
        ns: String,
        parent: String,
        name: String,
        vid: u16,
    },
    /// `ip -n PARENT_NS link add link PARENT name CHILD netns CHILD_NS type macvlan mode MODE`
    AddMacvlan {
        parent: End,
        child: End,
        mode: String,
    },
    /// `ip -n UNDERLAY_NS link add NAME netns NS type vxlan id VNI local L remote R dstport 4789`:
    /// the tunnel's socket stays in the underlay namespace, its device goes where it is bridged.
    AddVxlan {
        underlay_ns: String,
        end: End,
        vni: u32,
        local: IpAddr,
        remote: IpAddr,
    },
    /// `ip netns exec NS ip tuntap add dev NAME mode tap [user U] [group G]`, persistent.
    AddTap {
        ns: String,
        dev: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<u32>,
    },
    /// `ip netns exec NS nft -f FILE`: one table, applied atomically.
    Nft { ns: String, ruleset: String },
    /// `nft -f FILE` on the machine, then `sysctl -w net.ipv4.ip_forward=1`: the lab's own
    /// table `TABLE`, its comment the lab's mark and what forwarding was before any lab
    /// turned it on. Only with `--allow-machine-nat`.
    MachineNat {
        table: String,
        tag: String,
        /// The table's chains; the table itself is written when applied.
        chains: String,
    },
    /// `ip link add A netns NS_A type veth peer B netns NS_B`: each end born in its namespace.
    AddVeth {
        a: End,
        b: End,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
    },
    /// `ip -n NS link set DEV master BRIDGE`
    SetMaster {
        ns: String,
        dev: String,
        master: String,
    },
    /// `ip -n NS addr add ADDR dev DEV`
    AddAddress {
        ns: String,
        dev: String,
        addr: IpNet,
    },
    /// `ip -n NS link set DEV up`
    LinkUp { ns: String, dev: String },
    /// `tc -n NS qdisc add dev DEV root handle 1: netem ...` and/or `... tbf ...`: an
    /// impairment of what DEV sends.
    Impair {
        ns: String,
        dev: String,
        shape: super::shape::Shape,
    },
    /// `tc -n NS qdisc del dev DEV root`: back to the device's default queue. Only `vnet
    /// impair` and stages change a running lab's impairments.
    Unimpair { ns: String, dev: String },
    /// `ip -n NS route add TO via VIA`
    AddRoute { ns: String, to: IpNet, via: IpAddr },
    /// `ip netns exec NS timeout SECONDS sh -c CMD`
    Exec {
        ns: String,
        cmd: String,
        #[serde(default = "default_exec_timeout")]
        timeout_ms: u64,
    },
    /// `ip -n NS link set DEV alias TAG` then `ip -n NS link set DEV netns <machine> name NAME`:
    /// a link's end moves to the machine only once it carries the lab's mark.
    MoveLink {
        ns: String,
        dev: String,
        name: String,
        tag: String,
    },
    /// `ip link del DEV` on the machine, if it still carries the lab's mark. Only ever an undo.
    DelLink {
        ns: String,
        dev: String,
        tag: String,
    },
    /// `nft delete table inet TABLE` on the machine if it carries the lab's mark; forwarding
    /// back to what it was once no lab's table is left. Only ever an undo.
    DelMachineNat {
        table: String,
        tag: String,
        /// What forwarding was, as learned when the table was made: used should the table be
        /// gone (`nft flush ruleset`) and its comment with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<String>,
    },
    /// Kills every process of the lab, wherever it went (its cgroup, its environment mark,
    /// its namespaces), and removes the lab's cgroup. Only ever an undo.
    StopProcesses { lab: String },
    /// `ip netns del NS`, after stopping every process inside it. Only ever an undo.
    DelNetns {
        ns: String,
        /// The namespace's inode when vnet made it: proof that it is the lab's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inode: Option<u64>,
        tag: String,
    },
}

impl Step {
    /// The namespace the step works in (for a veth, the first end's).
    pub fn ns(&self) -> &str {
        match self {
            Step::AddNetns { ns }
            | Step::LoopbackUp { ns, .. }
            | Step::Sysctl { ns, .. }
            | Step::AddBridge { ns, .. }
            | Step::BridgeVlan { ns, .. }
            | Step::AddVlan { ns, .. }
            | Step::Nft { ns, .. }
            | Step::AddTap { ns, .. }
            | Step::SetMaster { ns, .. }
            | Step::AddAddress { ns, .. }
            | Step::LinkUp { ns, .. }
            | Step::AddRoute { ns, .. }
            | Step::Impair { ns, .. }
            | Step::Unimpair { ns, .. }
            | Step::Exec { ns, .. }
            | Step::DelNetns { ns, .. }
            | Step::DelLink { ns, .. }
            | Step::MoveLink { ns, .. } => ns,
            Step::MachineNat { .. } | Step::DelMachineNat { .. } | Step::StopProcesses { .. } => {
                crate::model::Netns::Machine.as_str()
            }
            Step::AddVeth { a, .. } => &a.ns,
            Step::AddMacvlan { parent, .. } => &parent.ns,
            Step::AddVxlan { underlay_ns, .. } => underlay_ns,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddNetns { ns } => write!(f, "ip netns add {ns}"),
            Step::LoopbackUp { ns, tag } => write!(f, "{} link set lo up alias {tag}", ip(ns)),
            Step::Sysctl { ns, key, value } => {
                write!(f, "ip netns exec {ns} sysctl -w {key}={value}")
            }
            Step::AddBridge {
                ns,
                name,
                stp,
                priority,
                vlan_filtering,
                hub,
            } => {
                write!(
                    f,
                    "{} link add {} type bridge mcast_snooping 0",
                    ip(ns),
                    arg("name", name)
                )?;
                if *hub {
                    write!(f, " ageing_time 0")?;
                }
                if *stp {
                    // What vnet sets too: ports forward after 2 x 2 s, not 2 x 15 s.
                    write!(f, " stp_state 1 forward_delay 200")?;
                }
                if let Some(p) = priority {
                    write!(f, " priority {p}")?;
                }
                if *vlan_filtering {
                    write!(f, " vlan_filtering 1 vlan_default_pvid 0")?;
                }
                Ok(())
            }
            Step::BridgeVlan {
                ns,
                dev,
                vid,
                untagged,
                bridge_self,
            } => {
                write!(f, "ip netns exec {ns} bridge vlan add dev {dev} vid {vid}")?;
                if *untagged {
                    write!(f, " pvid untagged")?;
                }
                if *bridge_self {
                    write!(f, " self")?;
                }
                Ok(())
            }
            Step::AddVlan {
                ns,
                parent,
                name,
                vid,
            } => write!(
                f,
                "ip -n {ns} link add link {parent} name {name} type vlan id {vid}"
            ),
            Step::AddMacvlan {
                parent,
                child,
                mode,
            } => {
                write!(
                    f,
                    "ip -n {} link add link {} name {} netns {}",
                    parent.ns, parent.dev, child.dev, child.ns
                )?;
                if let Some(mac) = &child.mac {
                    write!(f, " address {mac}")?;
                }
                write!(f, " type macvlan mode {mode}")
            }
            Step::AddVxlan {
                underlay_ns,
                end,
                vni,
                local,
                remote,
            } => write!(
                f,
                "ip -n {underlay_ns} link add {} netns {} type vxlan id {vni} local {local} remote {remote} dstport 4789",
                arg("name", &end.dev),
                end.ns
            ),
            Step::AddTap {
                ns,
                dev,
                owner,
                group,
            } => {
                write!(f, "ip netns exec {ns} ip tuntap add dev {dev} mode tap")?;
                if let Some(u) = owner {
                    write!(f, " user {u}")?;
                }
                if let Some(g) = group {
                    write!(f, " group {g}")?;
                }
                Ok(())
            }
            Step::Nft { ns, ruleset } => {
                write!(f, "ip netns exec {ns} nft -f - <<'EOF'\n{}EOF", ruleset)
            }
            Step::MachineNat { table, tag, chains } => write!(
                f,
                "nft -f - <<'EOF'\n{}EOF\nsysctl -w net.ipv4.ip_forward=1",
                machine_table(table, tag, chains)
            ),
            Step::DelMachineNat { table, .. } => write!(f, "nft delete table inet {table}"),
            Step::AddVeth { a, b, mtu } => {
                write!(f, "ip link add {}{}", arg("name", &a.dev), netns_arg(&a.ns))?;
                if let Some(mac) = &a.mac {
                    write!(f, " address {mac}")?;
                }
                if let Some(mtu) = mtu {
                    write!(f, " mtu {mtu}")?;
                }
                write!(
                    f,
                    " type veth peer {}{}",
                    arg("name", &b.dev),
                    netns_arg(&b.ns)
                )?;
                if let Some(mac) = &b.mac {
                    write!(f, " address {mac}")?;
                }
                Ok(())
            }
            Step::SetMaster { ns, dev, master } => {
                write!(f, "{} link set {} master {master}", ip(ns), arg("dev", dev))
            }
            Step::AddAddress { ns, dev, addr } => write!(f, "{} addr add {addr} dev {dev}", ip(ns)),
            Step::LinkUp { ns, dev } => write!(f, "{} link set {} up", ip(ns), arg("dev", dev)),
            Step::Impair { ns, dev, shape } => f.write_str(&shape.tc_lines(ns, dev).join("\n")),
            Step::Unimpair { ns, dev } => {
                if crate::model::Netns::of(ns).is_machine() {
                    write!(f, "tc qdisc del dev {dev} root")
                } else {
                    write!(f, "tc -n {ns} qdisc del dev {dev} root")
                }
            }
            Step::AddRoute { ns, to, via } => {
                let is_default = to.prefix_len() == 0;
                if is_default {
                    write!(f, "{} route add default via {via}", ip(ns))
                } else {
                    write!(f, "{} route add {to} via {via}", ip(ns))
                }
            }
            Step::Exec {
                ns,
                cmd,
                timeout_ms,
            } => write!(
                f,
                "ip netns exec {ns} timeout {} sh -c {}",
                seconds(*timeout_ms),
                shell_quote(cmd)
            ),
            Step::StopProcesses { lab } => write!(
                f,
                "kill -KILL <every process of lab {lab}: its cgroup vnet/{lab}@…, {}={lab}@…, its namespaces>",
                crate::model::PROCESS_MARK
            ),
            Step::DelNetns { ns, .. } => write!(f, "ip netns del {ns}"),
            Step::DelLink { ns, dev, .. } => write!(f, "{} link del {}", ip(ns), arg("dev", dev)),
            Step::MoveLink { ns, dev, name, tag } => write!(
                f,
                "{} link set {dev} alias {tag} && {} link set {dev} netns 1 name {name}",
                ip(ns),
                ip(ns)
            ),
        }
    }
}

fn default_exec_timeout() -> u64 {
    crate::model::EXEC_TIMEOUT_MS
}

/// Milliseconds as `timeout(1)` takes them: `60`, `0.5`.
fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    }
}

/// Words `ip link` reads as keywords; it takes any prefix of most of them (`m` for `mtu`).
const IP_LINK_WORDS: &[&str] = &[
    "add",
    "address",
    "addrgenmode",
    "alias",
    "allmulticast",
    "alt",
    "altname",
    "arp",
    "brd",
    "broadcast",
    "carrier",
    "del",
    "delete",
    "dev",
    "down",
    "dynamic",
    "gro_max_size",
    "gso_max_segs",
    "gso_max_size",
    "group",
    "help",
    "index",
    "link",
    "link-netns",
    "link-netnsid",
    "master",
    "mode",
    "mtu",
    "multicast",
    "name",
    "netns",
    "nomaster",
    "noqueue",
    "numrxqueues",
    "numtxqueues",
    "parentdev",
    "peer",
    "promisc",
    "protodown",
    "protodown_reason",
    "qlen",
    "set",
    "state",
    "trailers",
    "txqlen",
    "txqueuelen",
    "type",
    "up",
    "vf",
    "vrf",
    "xdp",
    "xdpdrv",
    "xdpgeneric",
    "xdpoffload",
];

/// A device name where `ip link` expects one: bare, as people write it, unless `ip` would
/// read it as a keyword (a port named `up`, an interface named `down`): then after the
/// keyword that says it is a name (`dev up`, `name down`).
fn arg(keyword: &str, dev: &str) -> String {
    if IP_LINK_WORDS.iter().any(|w| w.starts_with(dev)) {
        format!("{keyword} {dev}")
    } else {
        dev.to_owned()
    }
}

/// The machine's NAT table as `nft -f` takes it: made new (an existing table of that name is
/// an error, never merged into), its comment the lab's mark and anything after it.
pub(crate) fn machine_table(table: &str, comment: &str, chains: &str) -> String {
    format!(
        "create table inet {table} {{ comment \"{comment}\"; }}\ntable inet {table} {{\n{chains}}}\n"
    )
}

/// `ip -n NS`, or plain `ip` in vnet's own namespace (the machine).
fn ip(ns: &str) -> String {
    if crate::model::Netns::of(ns).is_machine() {
        "ip".into()
    } else {
        format!("ip -n {ns}")
    }
}

fn netns_arg(ns: &str) -> String {
    if crate::model::Netns::of(ns).is_machine() {
        String::new()
    } else {
        format!(" netns {ns}")
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_like_iproute2() {
        let veth = Step::AddVeth {
            a: End {
                ns: "lab.h1".into(),
                dev: "eth0".into(),
                mac: None,
            },
            b: End {
                ns: "lab.br0".into(),
                dev: "p1".into(),
                mac: Some("02:00:00:00:00:01".into()),
            },
            mtu: Some(9000),
        };
        assert_eq!(
            veth.to_string(),
            "ip link add eth0 netns lab.h1 mtu 9000 type veth peer p1 netns lab.br0 address 02:00:00:00:00:01"
        );
        let exec = Step::Exec {
            ns: "lab.h1".into(),
            cmd: "echo 'hi'".into(),
            timeout_ms: 1500,
        };
        assert_eq!(
            exec.to_string(),
            r"ip netns exec lab.h1 timeout 1.5 sh -c 'echo '\''hi'\'''"
        );
        let route = Step::AddRoute {
            ns: "n".into(),
            to: "0.0.0.0/0".parse().unwrap(),
            via: "10.0.0.1".parse().unwrap(),
        };
        assert_eq!(route.to_string(), "ip -n n route add default via 10.0.0.1");
    }

    #[test]
    fn names_ip_would_read_as_keywords_are_marked_as_names() {
        let up = Step::LinkUp {
            ns: "n".into(),
            dev: "down".into(),
        };
        assert_eq!(up.to_string(), "ip -n n link set dev down up");
        let port = Step::SetMaster {
            ns: "n".into(),
            dev: "up".into(),
            master: "br".into(),
        };
        assert_eq!(port.to_string(), "ip -n n link set dev up master br");
        // `m` is a prefix of `mtu`, which `ip` would take it for.
        assert_eq!(arg("name", "m"), "name m");
        assert_eq!(arg("dev", "eth0"), "eth0");
        assert_eq!(arg("dev", "p1"), "p1");
    }

    #[test]
    fn steps_round_trip_through_json() {
        let s = Step::AddAddress {
            ns: "a".into(),
            dev: "eth0".into(),
            addr: "fd00::1/64".parse().unwrap(),
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"op":"add-address","ns":"a","dev":"eth0","addr":"fd00::1/64"}"#
        );
        assert_eq!(serde_json::from_str::<Step>(&text).unwrap(), s);
    }
}
