//! Nodes: hosts, routers, bridges, switches, their interfaces, routes, ports and NAT.

use serde_json::json;

use super::*;

const KIND: Field = field(
    "kind",
    "host (default): an end system; router: forwards IPv4 and IPv6, may have `nat:`; bridge: a learning bridge unaware of VLANs; hub: a bridge that learns nothing, so every frame reaches every port; switch: an 802.1Q switch with access and trunk ports.",
    "\"router\"",
    || json!({"enum": KINDS}),
);
const INTERFACES: Field = field(
    "interfaces",
    "The node's interfaces by name (at most 15 bytes; `eth0.10` is an 802.1Q sub-interface of `eth0` in VLAN 10): one address, a list, `[]` for none, or the long form with `addresses`, `mac` and `mtu`.",
    "{\"eth0\": \"10.0.1.11/24\", \"eth1\": [\"10.0.2.11/24\", \"fd00:2::11/64\"]}",
    || {
        json!({
            "type": "object",
            "propertyNames": {"$ref": "#/definitions/interface_name"},
            "additionalProperties": {"anyOf": [cidrs(), {"$ref": "#/definitions/interface"}]}
        })
    },
);
const GATEWAY: Field = field(
    "gateway",
    "The default route: a neighbour's address, or one per IP version.",
    "[\"10.0.1.1\", \"fd00:1::1\"]",
    addresses,
);
const ROUTES: Field = field(
    "routes",
    "Static routes: `{to: PREFIX or default, via: NEXT_HOP}`; the next hop must be a neighbour.",
    "[{\"to\": \"10.9.0.0/16\", \"via\": \"10.0.1.254\"}]",
    || list_of("route"),
);
const NAT: Field = field(
    "nat",
    "Address translation on a router (or on `host`, with `--allow-machine-nat`): masquerade out of interfaces, publish ports.",
    "{\"masquerade\": [\"wan\"], \"publish\": [{\"on\": \"wan\", \"proto\": \"tcp\", \"port\": 49153, \"to\": \"172.17.0.2:8080\"}]}",
    || json!({"$ref": "#/definitions/nat"}),
);
const EXEC: Field = field(
    "exec",
    "Shell commands run inside the node once the lab is up (`sh -c`, in order); `cmd &` keeps a daemon running.",
    "[\"sleep 1000 &\"]",
    exec,
);
const EXEC_TIMEOUT: Field = field(
    "exec_timeout",
    "How long each `exec:` command may run: 500ms, 30s, 2m, 1h (always with its unit); default 60s.",
    "\"2m\"",
    duration,
);
const STP: Field = field(
    "stp",
    "Spanning tree: lets bridges form a loop on purpose.",
    "true",
    boolean,
);
const PRIORITY: Field = field(
    "priority",
    "With `stp: true`: the bridge's spanning-tree priority, 0 to 65535 in steps of 4096 (default 32768); the lowest becomes the root, so the loop is cut where you expect.",
    "4096",
    || json!({"type": "integer", "minimum": 0, "maximum": 65535, "multipleOf": 4096}),
);
const BRIDGE_ADDRESSES: Field = field(
    "addresses",
    "The bridge device's own addresses, in CIDR form.",
    "[\"172.17.0.1/16\"]",
    cidrs,
);
const PORTS: Field = field(
    "ports",
    "A switch's ports by name: access (`vlan:`) or trunk (`trunk:`, `native:`), with port security (`allow:`). A port left out is an access port in VLAN 1.",
    "{\"p1\": {\"vlan\": 10}, \"up\": {\"trunk\": [10, 20], \"native\": 1}}",
    || {
        json!({
            "type": "object",
            "propertyNames": {"$ref": "#/definitions/interface_name"},
            "additionalProperties": {"anyOf": [{"$ref": "#/definitions/port"}, {"type": "null"}]}
        })
    },
);
const SVI: Field = field(
    "svi",
    "A layer-3 switch's interfaces into its VLANs (named `vlanN`): VLAN id to address(es).",
    "{\"10\": \"10.0.10.1/24\", \"20\": \"10.0.20.1/24\"}",
    || {
        json!({
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]+$"},
            "additionalProperties": cidrs()
        })
    },
);

const MAC_VLANS: Field = field(
    "mac_vlans",
    "MAC-based VLANs: an access port without `vlan:` takes the VLAN of the MAC of the interface plugged into it.",
    "{\"02:00:00:00:00:31\": 10, \"02:00:00:00:00:32\": 20}",
    || {
        json!({
            "type": "object",
            "propertyNames": {"pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"},
            "additionalProperties": vlan_id()
        })
    },
);

const ISOLATE: Field = field(
    "isolate",
    "A router's interfaces (or bridges inside it) between which nothing is forwarded, as Docker isolates its networks from each other.",
    "[\"docker0\", \"br-app\"]",
    strings,
);
const INSIDE: Field = field(
    "in",
    "The host or router whose namespace the bridge lives in, as docker0 lives in the Docker host; the bridge's `addresses:` are then that node's.",
    "\"dockerhost\"",
    node_name,
);

/// Hosts and routers (and `host`, the machine).
pub(crate) const HOST: [Field; 8] = [
    KIND,
    INTERFACES,
    GATEWAY,
    ROUTES,
    NAT,
    ISOLATE,
    EXEC,
    EXEC_TIMEOUT,
];
/// Bridges and hubs.
pub(crate) const BRIDGE: [Field; 7] = [
    KIND,
    STP,
    PRIORITY,
    BRIDGE_ADDRESSES,
    INSIDE,
    EXEC,
    EXEC_TIMEOUT,
];
pub(crate) const SWITCH: [Field; 10] = [
    KIND,
    PORTS,
    SVI,
    GATEWAY,
    ROUTES,
    STP,
    PRIORITY,
    EXEC,
    EXEC_TIMEOUT,
    MAC_VLANS,
];

pub(crate) const KINDS: [&str; 5] = ["host", "router", "bridge", "hub", "switch"];

pub(crate) const INTERFACE: [Field; 3] = [
    field(
        "addresses",
        "The interface's addresses in CIDR form, unique in the lab.",
        "[\"10.0.3.11/24\"]",
        cidrs,
    ),
    field(
        "mac",
        "A unicast MAC address, unique in its layer-2 segment.",
        "\"02:00:00:00:03:11\"",
        || json!({"type": "string", "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"}),
    ),
    field(
        "mtu",
        "The MTU, 68 to 65535; both ends of a veth pair have the same.",
        "9000",
        mtu,
    ),
];

pub(crate) const ROUTE: [Field; 2] = [
    field(
        "to",
        "The destination prefix, or `default` (also `0.0.0.0/0`, `::/0`).",
        "\"10.9.0.0/16\"",
        || json!({"anyOf": [{"const": "default"}, cidr()]}),
    ),
    field(
        "via",
        "The next hop: a neighbour's address.",
        "\"10.0.1.254\"",
        address,
    ),
];

pub(crate) const PORT: [Field; 4] = [
    field(
        "vlan",
        "An access port: untagged frames are in this VLAN.",
        "10",
        vlan_id,
    ),
    field(
        "trunk",
        "A trunk: the tagged VLANs it carries.",
        "[10, 20, 30]",
        || json!({"anyOf": [vlan_id(), {"type": "array", "items": vlan_id(), "uniqueItems": true}]}),
    ),
    field("native", "A trunk's untagged (native) VLAN.", "1", vlan_id),
    field(
        "allow",
        "Port security: the only source MAC (and IP) bindings let in through this port.",
        "[{\"mac\": \"02:00:00:00:00:03\", \"ip\": \"10.0.10.3\"}]",
        || list_of("allow"),
    ),
];

pub(crate) const ALLOW: [Field; 2] = [
    field(
        "mac",
        "A source MAC address allowed in.",
        "\"02:00:00:00:00:03\"",
        || json!({"type": "string", "pattern": "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"}),
    ),
    field(
        "ip",
        "The IP address that MAC may use (ARP and IP).",
        "\"10.0.10.3\"",
        address,
    ),
];

pub(crate) const NAT_FIELDS: [Field; 2] = [
    field(
        "masquerade",
        "Interfaces to masquerade out of (like `POSTROUTING -o wan -j MASQUERADE`).",
        "[\"wan\"]",
        strings,
    ),
    field(
        "publish",
        "Published ports (DNAT, like `docker run -p 49153:8080`).",
        "[{\"on\": \"wan\", \"proto\": \"tcp\", \"port\": 49153, \"to\": \"172.17.0.2:8080\"}]",
        || list_of("publish"),
    ),
];

pub(crate) const PUBLISH: [Field; 4] = [
    field(
        "on",
        "The interface the port is published on.",
        "\"wan\"",
        string,
    ),
    field(
        "proto",
        "`tcp` (default) or `udp`.",
        "\"tcp\"",
        || json!({"enum": ["tcp", "udp"]}),
    ),
    field(
        "port",
        "The published port, 1 to 65535.",
        "49153",
        || json!({"type": "integer", "minimum": 1, "maximum": 65535}),
    ),
    field(
        "to",
        "Where it leads: `ADDRESS:PORT` (`[IPv6]:PORT`).",
        "\"172.17.0.2:8080\"",
        string,
    ),
];
