//! What a namespace holds beside its interfaces, compared with what vnet built there: the
//! addresses, the routes of the main table, forwarding, and which bridge each port is in.
//!
//! Only what depends on an interface that is up is compared: an interface set down takes its
//! routes (and its IPv6 addresses) with it, and that is said once, as the link's state.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Difference;
use crate::apply::live::{Route, RouteKind, Space};

/// One namespace to compare: who it is in the sentences, and what may change in it on purpose.
pub(super) struct Place<'a> {
    /// The node whose namespace it is.
    pub node: &'a str,
    /// An `exec:` command runs there: it may add addresses, routes and forwarding of its own
    /// (`ip route add blackhole ...`), which are then not drift.
    pub runs_exec: bool,
    /// A plain bridge is there, whose ports are compared (an 802.1Q switch's ports sit in
    /// bridges of their own when VLANs are emulated).
    pub bridges: &'a [String],
}

/// Addresses, routes, forwarding and bridge ports: each difference between `want` (what vnet
/// built) and `have` (the kernel's), in `p`'s words.
pub(super) fn compare(p: &Place, want: &Space, have: &Space, out: &mut Vec<Difference>) {
    let up = |name: &str| have.dev(name).is_some_and(|d| d.admin_up);
    let end = |name: &str| format!("{}:{name}", p.node);
    let mut say = |kind: &'static str, text: String| {
        out.push(Difference {
            kind,
            node: p.node.to_owned(),
            text,
        })
    };

    let wanted_addrs: BTreeSet<(String, IpNet)> = want
        .addrs
        .iter()
        .map(|(i, a)| (want.name_of(*i), *a))
        .collect();
    let have_addrs: BTreeSet<(String, IpNet)> = have
        .addrs
        .iter()
        .filter(|(_, a)| !link_local(a.addr()))
        .map(|(i, a)| (have.name_of(*i), *a))
        .collect();
    // An address gone takes its subnet's route with it: said once, as the address.
    let mut gone_subnets = BTreeSet::new();
    for (dev, a) in wanted_addrs.difference(&have_addrs) {
        if up(dev) {
            gone_subnets.insert(a.trunc());
            say(
                "address_missing",
                format!("address {a} is missing on {}", end(dev)),
            );
        }
    }
    if !p.runs_exec {
        for (dev, a) in have_addrs.difference(&wanted_addrs) {
            if want.dev(dev).is_some() {
                say(
                    "address_added",
                    format!("address {a} on {} is not the file's", end(dev)),
                );
            }
        }
    }

    let wanted_routes: BTreeSet<Key> = want
        .routes
        .iter()
        .filter(|r| compared(r))
        .filter(|r| r.dev.is_none_or(|i| up(&want.name_of(i))))
        .filter(|r| r.via.is_some() || !gone_subnets.contains(&r.to))
        .map(key)
        .collect();
    let have_routes: BTreeSet<Key> = have
        .routes
        .iter()
        .filter(|r| compared(r))
        .map(key)
        .collect();
    for r in wanted_routes.difference(&have_routes) {
        say(
            "route_missing",
            format!("route {} is missing in {}", route_text(r), p.node),
        );
    }
    if !p.runs_exec {
        for r in have.routes.iter().filter(|r| compared(r)) {
            let on_lab_dev = r.dev.is_none_or(|i| want.dev(&have.name_of(i)).is_some());
            if on_lab_dev && !want.routes.iter().any(|w| key(w) == key(r)) {
                say(
                    "route_added",
                    format!(
                        "route {} in {} is not the file's",
                        route_text(&key(r)),
                        p.node
                    ),
                );
            }
        }
    }

    // vnet sets IPv6 forwarding only where it gives IPv6 addresses.
    let v6 = want.addrs.iter().any(|(_, a)| a.addr().is_ipv6());
    if !p.runs_exec {
        for (family, want_f, have_f) in [
            ("IPv4", want.forward_v4, have.forward_v4),
            ("IPv6", want.forward_v6.filter(|_| v6), have.forward_v6),
        ] {
            if let (Some(w), Some(h)) = (want_f, have_f)
                && w != h
            {
                say(
                    "forwarding_changed",
                    if w {
                        format!("{} no longer forwards {family}", p.node)
                    } else {
                        format!("{} forwards {family}, which vnet did not turn on", p.node)
                    },
                );
            }
        }
    }

    for d in &want.devs {
        let Some(master) = d.master.map(|m| want.name_of(m)) else {
            continue;
        };
        if !p.bridges.contains(&master) {
            continue;
        }
        let Some(live) = have.dev(&d.name) else {
            continue;
        };
        match live.master.map(|m| have.name_of(m)) {
            Some(m) if m == master => {}
            Some(other) => say(
                "port_moved",
                format!(
                    "{} is a port of {other}, not of bridge {master}",
                    end(&d.name)
                ),
            ),
            None => say(
                "port_detached",
                format!("{} is no longer a port of bridge {master}", end(&d.name)),
            ),
        }
    }
}

/// A route as compared: where to, through which gateway, of which kind (the interface is
/// the kernel's to choose, and its index differs between the two sides).
type Key = (IpNet, Option<IpAddr>, u8);

fn key(r: &Route) -> Key {
    let kind = match r.kind {
        RouteKind::Unicast => 0,
        RouteKind::Blackhole => 1,
        RouteKind::Unreachable => 2,
        RouteKind::Prohibit => 3,
    };
    (r.to, r.via, kind)
}

/// A host address's own route (/32, /128) is in the local table, not the main one: neither
/// side is held to it.
fn compared(r: &Route) -> bool {
    r.via.is_some() || r.kind != RouteKind::Unicast || r.to.prefix_len() < r.to.max_prefix_len()
}

fn route_text((to, via, kind): &Key) -> String {
    let to = if to.prefix_len() == 0 {
        "default".to_string()
    } else {
        to.to_string()
    };
    let kind = ["", "blackhole ", "unreachable ", "prohibit "][usize::from(*kind).min(3)];
    match via {
        Some(v) => format!("{kind}{to} via {v}"),
        None => format!("{kind}{to}"),
    }
}

fn link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(v4) => v4.is_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::live::Dev;

    fn dev(index: u32, name: &str, master: Option<u32>) -> Dev {
        Dev {
            index,
            name: name.into(),
            admin_up: true,
            carrier: true,
            lacks_carrier: false,
            master,
            port: None,
            vlans: Vec::new(),
            mac: None,
            vlan_filtering: false,
        }
    }

    fn host() -> Space {
        Space {
            devs: vec![dev(1, "eth0", None)],
            addrs: vec![(1, "10.0.1.10/24".parse().unwrap())],
            routes: vec![
                Route {
                    to: "10.0.1.0/24".parse().unwrap(),
                    via: None,
                    dev: Some(1),
                    kind: RouteKind::Unicast,
                },
                Route {
                    to: "0.0.0.0/0".parse().unwrap(),
                    via: Some("10.0.1.1".parse().unwrap()),
                    dev: Some(1),
                    kind: RouteKind::Unicast,
                },
            ],
            forward_v4: Some(false),
            ..Space::default()
        }
    }

    fn diff(runs_exec: bool, want: &Space, have: &Space) -> Vec<String> {
        let mut out = Vec::new();
        let p = Place {
            node: "pc1",
            runs_exec,
            bridges: &["br".to_string()],
        };
        compare(&p, want, have, &mut out);
        out.into_iter()
            .map(|d| format!("{}: {}", d.kind, d.text))
            .collect()
    }

    #[test]
    fn the_same_namespace_differs_in_nothing() {
        let mut have = host();
        // The kernel's indexes are its own, and IPv6 link-local addresses come by themselves.
        have.devs[0].index = 7;
        have.addrs = vec![
            (7, "10.0.1.10/24".parse().unwrap()),
            (7, "fe80::1/64".parse().unwrap()),
        ];
        for r in &mut have.routes {
            r.dev = Some(7);
        }
        assert_eq!(diff(false, &host(), &have), Vec::<String>::new());
    }

    #[test]
    fn each_change_is_said_in_words() {
        let mut have = host();
        have.routes.remove(1);
        have.routes.push(Route {
            to: "10.66.0.0/16".parse().unwrap(),
            via: None,
            dev: None,
            kind: RouteKind::Blackhole,
        });
        have.addrs = vec![(1, "10.0.1.99/24".parse().unwrap())];
        have.forward_v4 = Some(true);
        assert_eq!(
            diff(false, &host(), &have),
            [
                "address_missing: address 10.0.1.10/24 is missing on pc1:eth0",
                "address_added: address 10.0.1.99/24 on pc1:eth0 is not the file's",
                "route_missing: route default via 10.0.1.1 is missing in pc1",
                "route_added: route blackhole 10.66.0.0/16 in pc1 is not the file's",
                "forwarding_changed: pc1 forwards IPv4, which vnet did not turn on",
            ]
        );
        // Where `exec:` runs, what it may have added is its own; what went missing is not.
        assert_eq!(
            diff(true, &host(), &have),
            [
                "address_missing: address 10.0.1.10/24 is missing on pc1:eth0",
                "route_missing: route default via 10.0.1.1 is missing in pc1",
            ]
        );
    }

    #[test]
    fn an_interface_set_down_takes_its_routes_without_a_second_word() {
        let mut have = host();
        have.devs[0].admin_up = false;
        have.routes.clear();
        have.addrs.clear();
        assert_eq!(diff(false, &host(), &have), Vec::<String>::new());
    }

    #[test]
    fn a_port_out_of_its_bridge_is_said() {
        let want = Space {
            devs: vec![
                dev(1, "br", None),
                dev(2, "p1", Some(1)),
                dev(3, "p2", Some(1)),
            ],
            ..Space::default()
        };
        let mut have = want.clone();
        have.devs[1].master = None;
        have.devs.push(dev(4, "other", None));
        have.devs[2].master = Some(4);
        assert_eq!(
            diff(false, &want, &have),
            [
                "port_detached: pc1:p1 is no longer a port of bridge br",
                "port_moved: pc1:p2 is a port of other, not of bridge br",
            ]
        );
    }
}
