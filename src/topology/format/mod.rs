//! The topology format, described once: every key of every object, what it means, an example,
//! and the JSON Schema of its value.
//!
//! The reader in [`super::schema`] is hand-written over the spanned tree (it reports every
//! problem at once), so the schema cannot be derived from its types. Instead both come from
//! here: the reader's lists of known keys are [`keys`] of these field lists, and
//! [`json_schema`] builds `schema/vnet.schema.json` (printed by `vnet schema`) from them.

use serde_json::{Value, json};

mod json_schema;
#[cfg(test)]
mod tests;

pub use json_schema::json_schema;
use json_schema::*;

/// Where editors fetch the schema from (`# yaml-language-server: $schema=...`); also its `$id`.
/// A placeholder until the project has a public home: the raw file on GitHub.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/vnet-lab/vnet/main/schema/vnet.schema.json";

/// The first line of a topology file that makes yaml-language-server (VS Code's YAML
/// extension, Neovim's yamlls, Helix) use the schema. To vnet it is a comment.
pub fn modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_URL}")
}

/// Files a schema catalog (SchemaStore) would match to the schema without a modeline.
pub const FILE_MATCH: &[&str] = &["*.vnet.yaml", "*.vnet.yml"];

/// One key of an object in the topology.
#[derive(Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    /// What an editor shows on hover.
    pub doc: &'static str,
    /// An example value, as JSON text.
    pub example: &'static str,
    /// The JSON Schema of the value.
    pub value: fn() -> Value,
}

/// The keys of a list of fields, in order: the reader's lists of known keys.
pub const fn keys<const N: usize>(fields: &[Field; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = fields[i].key;
        i += 1;
    }
    out
}

const fn field(
    key: &'static str,
    doc: &'static str,
    example: &'static str,
    value: fn() -> Value,
) -> Field {
    Field {
        key,
        doc,
        example,
        value,
    }
}

// --- the objects

pub const TOP: [Field; 4] = [
    field(
        "name",
        "The lab's name, the prefix of every namespace (`office.pc1`): lowercase letters, digits and `-`, at most 24 characters. Defaults to the file name.",
        "\"office\"",
        || json!({"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$"}),
    ),
    field(
        "nodes",
        "The nodes by name: hosts, routers, bridges and 802.1Q switches; `host` is the machine itself.",
        "{\"pc1\": {\"interfaces\": {\"eth0\": \"10.0.1.11/24\"}}, \"sw1\": {\"kind\": \"bridge\"}}",
        || {
            json!({
                "type": "object",
                "minProperties": 1,
                "propertyNames": node_name(),
                "properties": {"host": {"$ref": "#/definitions/machine"}},
                "additionalProperties": {"$ref": "#/definitions/node"}
            })
        },
    ),
    field(
        "links",
        "The links: veth pairs (`[a:eth0, b:eth0]`), macvlan children, VXLAN overlays and TAP devices.",
        "[[\"pc1:eth0\", \"sw1:p1\"]]",
        || list_of("link"),
    ),
    field(
        "expect",
        "What must reach and what must not: the checks `vnet verify` and `vnet test` probe.",
        "[{\"from\": \"pc1\", \"to\": \"gw\"}, {\"from\": \"pc1\", \"to\": \"10.0.9.9\", \"reach\": false}]",
        || list_of("check"),
    ),
];

const KIND: Field = field(
    "kind",
    "host (default): an end system; router: forwards IPv4 and IPv6, may have `nat:`; bridge: a learning bridge unaware of VLANs; switch: an 802.1Q switch with access and trunk ports.",
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
    "How long each `exec:` command may run: 500ms, 30s, 2m, 1h, or a number of seconds; default 60s.",
    "\"2m\"",
    exec_timeout,
);
const STP: Field = field(
    "stp",
    "Spanning tree: lets bridges form a loop on purpose.",
    "true",
    boolean,
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

/// Hosts and routers (and `host`, the machine).
pub const HOST: [Field; 7] = [KIND, INTERFACES, GATEWAY, ROUTES, NAT, EXEC, EXEC_TIMEOUT];
pub const BRIDGE: [Field; 5] = [KIND, STP, BRIDGE_ADDRESSES, EXEC, EXEC_TIMEOUT];
pub const SWITCH: [Field; 8] = [KIND, PORTS, SVI, GATEWAY, ROUTES, STP, EXEC, EXEC_TIMEOUT];

pub const KINDS: [&str; 4] = ["host", "router", "bridge", "switch"];

pub const INTERFACE: [Field; 3] = [
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

pub const ROUTE: [Field; 2] = [
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

pub const LINK: [Field; 5] = [
    field(
        "endpoints",
        "The two ends, `node:interface`.",
        "[\"gw:wan\", \"isp:down\"]",
        || json!({"type": "array", "items": endpoint(), "minItems": 2, "maxItems": 2}),
    ),
    field("mtu", "The link's MTU (a veth pair has one).", "9000", mtu),
    field(
        "type",
        "`veth` (the default) or `vxlan`.",
        "\"vxlan\"",
        || json!({"enum": ["veth", "vxlan"]}),
    ),
    field(
        "vni",
        "The VXLAN network identifier, 1 to 16777215.",
        "42",
        || json!({"type": "integer", "minimum": 1, "maximum": 16_777_215}),
    ),
    field(
        "underlay",
        "The two nodes whose first IPv4 addresses carry the VXLAN tunnel (UDP 4789).",
        "[\"host1\", \"host2\"]",
        || json!({"type": "array", "items": node_name(), "minItems": 2, "maxItems": 2}),
    ),
];

pub const TAP: [Field; 3] = [
    field(
        "tap",
        "A persistent TAP device on a bridge or switch, `node:name`, for a virtual machine.",
        "\"access:vm1\"",
        endpoint,
    ),
    field(
        "owner",
        "The user that may open the TAP device (a name or a number).",
        "\"alice\"",
        || json!({"type": ["string", "integer"]}),
    ),
    field(
        "group",
        "The group that may open the TAP device (a name or a number).",
        "\"kvm\"",
        || json!({"type": ["string", "integer"]}),
    ),
];

pub const MACVLAN: [Field; 3] = [
    field(
        "macvlan",
        "The macvlan child, `node:interface` (declared on that node).",
        "\"c1:eth0\"",
        endpoint,
    ),
    field(
        "parent",
        "The parent interface, `node:interface`, made by another link.",
        "\"dockerhost:eth0\"",
        endpoint,
    ),
    field(
        "mode",
        "The macvlan mode; `bridge` by default.",
        "\"bridge\"",
        || json!({"enum": ["bridge", "private", "vepa", "passthru"]}),
    ),
];

pub const CHECK: [Field; 8] = [
    field(
        "from",
        "The node the probe is sent from.",
        "\"pc1\"",
        node_name,
    ),
    field(
        "to",
        "A node (every address of it answers), an address, or with `proto: tcp|udp` `node:port`, `address:port` or `[ipv6]:port`.",
        "\"web:8080\"",
        string,
    ),
    field(
        "reach",
        "`false`: it must NOT be reachable. Default `true`.",
        "false",
        boolean,
    ),
    field(
        "layer",
        "3 (default): ICMP echo, routed; 2: an ARP request (or IPv6 neighbour solicitation) answered within the broadcast domain.",
        "2",
        || json!({"enum": [2, 3]}),
    ),
    field(
        "proto",
        "`icmp` (default), or `tcp`/`udp` to a port.",
        "\"tcp\"",
        || json!({"enum": ["icmp", "tcp", "udp"]}),
    ),
    field(
        "seen_as",
        "The source address (or node) the far end must see: proves masquerading, or its absence.",
        "\"192.0.2.2\"",
        string,
    ),
    field(
        "listen",
        "`false`: a service you started must answer; vnet opens no listener of its own.",
        "false",
        boolean,
    ),
    field(
        "via",
        "Nodes the path must pass, in order (traceroute).",
        "[\"r1\", \"r2\"]",
        || json!({"anyOf": [node_name(), {"type": "array", "items": node_name()}]}),
    ),
];

pub const PORT: [Field; 4] = [
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

pub const ALLOW: [Field; 2] = [
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

pub const NAT_FIELDS: [Field; 2] = [
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

pub const PUBLISH: [Field; 4] = [
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

/// Every object of the format with its fields, for tests that hold the reader to them.
pub fn objects() -> Vec<(&'static str, &'static [Field])> {
    vec![
        ("the topology", &TOP),
        ("host", &HOST),
        ("bridge", &BRIDGE),
        ("switch", &SWITCH),
        ("interface", &INTERFACE),
        ("route", &ROUTE),
        ("link", &LINK),
        ("tap", &TAP),
        ("macvlan", &MACVLAN),
        ("check", &CHECK),
        ("port", &PORT),
        ("allow", &ALLOW),
        ("nat", &NAT_FIELDS),
        ("publish", &PUBLISH),
    ]
}
