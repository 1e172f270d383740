//! The engine on the file's world alone: no kernel, no root.

use super::*;

fn lab(yaml: &str) -> Lab {
    match crate::topology::parse("lab.yaml", "lab", yaml.as_bytes()) {
        Ok(l) => l.lab,
        Err(_) => panic!("the test's topology is valid"),
    }
}

fn why(lab: &Lab, from: &str, to: &str) -> Explanation {
    let w = World::planned(lab);
    let f = lab.node_index(from).expect("from");
    let (label, addr) = match to.parse::<IpAddr>() {
        Ok(a) => (to.to_owned(), a),
        Err(_) => {
            let t = lab.node_index(to).expect("to");
            (to.to_owned(), address_of(lab, f, t).expect("an address"))
        }
    };
    explain(&w, f, &label, addr, Proto::Icmp, None)
}

const ROUTED: &str = "
name: t
nodes:
  pc1: {interfaces: {eth0: 10.0.1.11/24}, gateway: 10.0.1.1}
  pc2: {interfaces: {eth0: 10.0.1.12/24}, gateway: 10.0.1.254}
  lone: {interfaces: {eth0: 10.0.1.13/24}}
  sw: {kind: bridge}
  r1:
    kind: router
    interfaces: {lan: 10.0.1.1/24, wan: 203.0.113.1/24}
    nat: {masquerade: [wan]}
  srv: {interfaces: {eth0: 203.0.113.80/24}}
  far: {interfaces: {eth0: 198.51.100.9/24}}
links:
  - [pc1:eth0, sw:p1]
  - [pc2:eth0, sw:p2]
  - [lone:eth0, sw:p4]
  - [r1:lan, sw:p3]
  - [r1:wan, srv:eth0]
";

#[test]
fn a_routed_path_through_a_bridge_and_masquerade_arrives() {
    let l = lab(ROUTED);
    let e = why(&l, "pc1", "srv");
    assert!(e.arrives, "{}", words::text(&e));
    assert_eq!(words::line(&e), "arrives: pc1 → r1 → srv (2 hops)");
    assert_eq!(e.there[0].through, vec!["sw".to_owned()]);
    // srv has no gateway: only masquerading brings the reply back.
    assert_eq!(e.seen_as, Some("203.0.113.1".parse().unwrap()));
    assert_eq!(e.source, "file");
}

#[test]
fn a_node_reaches_itself() {
    let l = lab(ROUTED);
    let e = why(&l, "pc1", "pc1");
    assert!(e.arrives, "{}", words::text(&e));
    assert_eq!(words::line(&e), "arrives: pc1 (0 hops)");
}

#[test]
fn a_gateway_nobody_has_is_named() {
    let l = lab(ROUTED);
    let e = why(&l, "pc2", "srv");
    assert!(!e.arrives);
    let s = e.stop.expect("a stop");
    assert_eq!(s.node, "pc2");
    assert!(
        s.reason
            .contains("no node on pc2:eth0's segment has 10.0.1.254 (pc2's gateway)"),
        "{}",
        s.reason
    );
}

#[test]
fn no_route_lists_the_routes_and_a_reply_without_a_way_back_is_said() {
    let l = lab(ROUTED);
    let e = why(&l, "lone", "srv");
    let s = e.stop.expect("a stop");
    assert_eq!(
        s.reason,
        "lone has no route to 203.0.113.80 (its routes: 10.0.1.0/24 dev eth0)"
    );
    let e = why(&l, "srv", "pc1");
    let s = e.stop.expect("a stop");
    assert!(
        s.reason.starts_with("srv has no route to 10.0.1.11"),
        "{}",
        s.reason
    );
    let e = why(&l, "pc1", "far");
    assert!(
        e.stop
            .expect("a stop")
            .reason
            .starts_with("r1 has no route to 198.51.100.9")
    );
}

#[test]
fn different_vlans_are_named() {
    let l = lab("
name: v
nodes:
  pc1: {interfaces: {eth0: 10.0.10.11/24}}
  pc3: {interfaces: {eth0: 10.0.10.13/24}}
  sw:
    kind: switch
    ports: {p1: {vlan: 10}, p3: {vlan: 20}}
links:
  - [pc1:eth0, sw:p1]
  - [pc3:eth0, sw:p3]
");
    let e = why(&l, "pc3", "pc1");
    let r = e.stop.expect("a stop").reason;
    assert!(r.contains("pc3 and pc1 are in different VLANs"), "{r}");
    assert!(
        r.contains("VLAN 20 of sw") && r.contains("VLAN 10 of sw"),
        "{r}"
    );
}

#[test]
fn isolation_and_trunks_and_svis() {
    let l = lab("
name: d
nodes:
  c1: {interfaces: {eth0: 172.17.0.2/16}, gateway: 172.17.0.1}
  app1: {interfaces: {eth0: 172.18.0.2/16}, gateway: 172.18.0.1}
  docker0: {kind: bridge, in: h, addresses: 172.17.0.1/16}
  br-app: {kind: bridge, in: h, addresses: 172.18.0.1/16}
  h: {kind: router, interfaces: {eth0: 192.0.2.2/24}, isolate: [docker0, br-app]}
  pc1: {interfaces: {eth0: 10.0.10.11/24}, gateway: 10.0.10.1}
  pc2: {interfaces: {eth0: 10.0.20.12/24}, gateway: 10.0.20.1}
  acc:
    kind: switch
    ports: {p1: {vlan: 10}, p2: {vlan: 20}, up: {trunk: [10, 20]}}
  core:
    kind: switch
    ports: {a1: {trunk: [10, 20]}}
    svi: {10: 10.0.10.1/24, 20: 10.0.20.1/24}
links:
  - [c1:eth0, docker0:veth-c1]
  - [app1:eth0, br-app:veth-app1]
  - [pc1:eth0, acc:p1]
  - [pc2:eth0, acc:p2]
  - [acc:up, core:a1]
");
    let e = why(&l, "app1", "c1");
    assert_eq!(
        e.stop.expect("a stop").reason,
        "h isolates br-app from docker0 (`isolate:`, table inet vnet_filter)"
    );
    let e = why(&l, "c1", "h");
    assert!(e.arrives, "{}", words::text(&e));
    let e = why(&l, "pc1", "pc2");
    assert!(e.arrives, "{}", words::text(&e));
    assert_eq!(words::line(&e), "arrives: pc1 → core → pc2 (2 hops)");
    assert_eq!(e.there[0].through, vec!["acc".to_owned()]);
}

#[test]
fn every_pair_of_every_bundled_topology_is_explained_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    for f in std::fs::read_dir(dir).expect("topologies").flatten() {
        let Ok(loaded) = crate::topology::load(&f.path()) else {
            continue;
        };
        let l = loaded.lab;
        let w = World::planned(&l);
        for a in 0..l.nodes.len() {
            for b in 0..l.nodes.len() {
                if let Some(addr) = address_of(&l, a, b) {
                    let e = explain(&w, a, &l.nodes[b].name, addr, Proto::Icmp, None);
                    assert!(!words::text(&e).is_empty());
                }
            }
        }
    }
}
