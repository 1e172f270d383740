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

pub const TOP: [Field; 5] = [
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
    field(
        "stages",
        "A scenario run after `expect:`, stage by stage: things done to the running lab (`do:`), then what must hold (`expect:`).",
        "[{\"name\": \"the attacker claims the gateway\", \"do\": [{\"arp_spoof\": {\"from\": \"mallory\", \"claim\": \"10.0.1.1\", \"to\": \"alice\"}}], \"expect\": [{\"on\": \"alice\", \"neighbour\": \"10.0.1.1\", \"is\": \"mallory\"}]}]",
        || list_of("stage"),
    ),
];

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
pub const HOST: [Field; 8] = [
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
pub const BRIDGE: [Field; 7] = [
    KIND,
    STP,
    PRIORITY,
    BRIDGE_ADDRESSES,
    INSIDE,
    EXEC,
    EXEC_TIMEOUT,
];
pub const SWITCH: [Field; 10] = [
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

pub const KINDS: [&str; 5] = ["host", "router", "bridge", "hub", "switch"];

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

pub const LINK: [Field; 6] = [
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
    field(
        "impair",
        "What the link does to packets on purpose (netem, TBF): settings for both directions, or under an end's node name for what that end sends.",
        "{\"delay\": \"40ms\", \"jitter\": \"5ms\", \"loss\": \"1%\", \"rate\": \"10mbit\"}",
        || json!({"$ref": "#/definitions/impair"}),
    ),
];

/// An impairment's settings (of both directions, or of one under the sending end's name).
pub const IMPAIR: [Field; 8] = [
    field(
        "delay",
        "One-way delay added to every packet sent (netem): `40ms`, `250us`, `1s`. A round trip crosses it twice.",
        "\"40ms\"",
        || json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*(ns|us|µs|ms|s)\\s*$"}),
    ),
    field(
        "jitter",
        "Random variation of the delay, optionally with its correlation: `5ms` or `5ms 25%`.",
        "\"5ms\"",
        || json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*(ns|us|µs|ms|s)(\\s+[0-9.]+%)?\\s*$"}),
    ),
    field(
        "distribution",
        "How the jitter is spread: `uniform` (default) or `normal`.",
        "\"normal\"",
        || json!({"enum": crate::model::impair::Distribution::NAMES}),
    ),
    field(
        "loss",
        "Packets dropped at random, optionally with a correlation to the previous packet: `1%` or `1% 25%`.",
        "\"1%\"",
        chance,
    ),
    field(
        "duplicate",
        "Packets sent twice: `1%` (with an optional correlation).",
        "\"0.5%\"",
        chance,
    ),
    field(
        "reorder",
        "Packets sent at once, overtaking the delayed others (needs `delay`): `25%` (with an optional correlation).",
        "\"25%\"",
        chance,
    ),
    field(
        "corrupt",
        "Packets with a flipped bit: `0.1%` (with an optional correlation).",
        "\"0.1%\"",
        chance,
    ),
    field(
        "rate",
        "A rate limit (TBF, with a bucket and queue sized from the rate): `10mbit`, `500kbit`, `1gbit`.",
        "\"10mbit\"",
        || json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*([kmgKMG]?(bit|bps))(/s)?\\s*$"}),
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

pub const CHECK: [Field; 14] = [
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
    field(
        "seen_by",
        "Nodes that must see the probe's frames on the wire (a hub repeats them to every port).",
        "[\"eve\"]",
        || json!({"anyOf": [node_name(), {"type": "array", "items": node_name()}]}),
    ),
    field(
        "unseen_by",
        "Nodes that must not see the probe's frames (a learning bridge sends them one way).",
        "[\"eve\"]",
        || json!({"anyOf": [node_name(), {"type": "array", "items": node_name()}]}),
    ),
    field(
        "rtt",
        "A bound on the median round trip of 10 echo requests: `< 60ms` (`<`, `<=`, `>`, `>=`; `<` if left out).",
        "\"< 60ms\"",
        || json!({"type": "string", "pattern": "^\\s*(<=|>=|<|>)?\\s*[0-9.]+\\s*(ns|us|µs|ms|s)\\s*$"}),
    ),
    field(
        "loss",
        "A bound on the share of 10 echo requests that go unanswered: `< 5%` (`<=` if left out).",
        "\"< 5%\"",
        || json!({"type": "string", "pattern": "^\\s*(<=|>=|<|>)?\\s*[0-9.]+%\\s*$"}),
    ),
    field(
        "rate",
        "With `proto: tcp`: a bound on the throughput of vnet's own 1.5 s bulk TCP transfer to its own listener: `>= 9mbit` (`>=` if left out); no port needed.",
        "\">= 9mbit\"",
        || json!({"type": "string", "pattern": "^\\s*(<=|>=|<|>)?\\s*[0-9.]+\\s*([kmgKMG]?(bit|bps))(/s)?\\s*$"}),
    ),
    field(
        "within",
        "Retry the check until it holds, for at most this long (`30s`, `500ms`): convergence after a fault; the report says when it first held.",
        "\"30s\"",
        exec_timeout,
    ),
];

/// A neighbour-cache check: which MAC a node has for an address.
pub const NEIGHBOUR: [Field; 4] = [
    field(
        "on",
        "The node whose neighbour cache (ARP table) is read.",
        "\"alice\"",
        node_name,
    ),
    field(
        "neighbour",
        "The address looked up in it.",
        "\"10.0.1.1\"",
        address,
    ),
    field(
        "is",
        "The node (or MAC) the address must resolve to.",
        "\"gw\"",
        string,
    ),
    field(
        "is_not",
        "The node (or MAC) it must not resolve to.",
        "\"mallory\"",
        string,
    ),
];

pub const STAGE: [Field; 3] = [
    field(
        "name",
        "What happens in this stage, in words; reports name it.",
        "\"the attacker claims the gateway\"",
        string,
    ),
    field(
        "do",
        "Actions, in order: `arp_spoof: {from, claim, to}`, `link_down: NODE:IFACE`, `link_up: NODE:IFACE`, `impair: {on: NODE:IFACE, delay, loss, rate, ...}`, `clear: NODE:IFACE`, `exec: {on, run}`.",
        "[{\"link_down\": \"r1:eth1\"}]",
        || json!({"anyOf": [{"$ref": "#/definitions/action"}, {"type": "array", "items": {"$ref": "#/definitions/action"}}]}),
    ),
    field(
        "expect",
        "What must hold after the actions, checks as in the top-level `expect:`.",
        "[{\"from\": \"h1\", \"to\": \"h2\", \"reach\": false}]",
        || list_of("check"),
    ),
];

/// The actions a stage may take, each one key.
pub const ACTIONS: [Field; 6] = [
    field(
        "arp_spoof",
        "The attacker sends forged ARP replies claiming an address, to the victim.",
        "{\"from\": \"mallory\", \"claim\": \"10.0.1.1\", \"to\": \"alice\"}",
        || json!({"$ref": "#/definitions/arp_spoof"}),
    ),
    field(
        "link_down",
        "Takes a node's interface down (`ip link set IFACE down`).",
        "\"r1:eth1\"",
        endpoint,
    ),
    field(
        "link_up",
        "Brings a node's interface back up.",
        "\"r1:eth1\"",
        endpoint,
    ),
    field(
        "impair",
        "Replaces what a node's interface sends with these impairments (`on: NODE:IFACE` and the settings of a link's `impair:`), as `vnet impair` does.",
        "{\"on\": \"r1:wan\", \"delay\": \"40ms\", \"loss\": \"1%\"}",
        || json!({"$ref": "#/definitions/impair_action"}),
    ),
    field(
        "clear",
        "Removes every impairment of a node's interface, the file's too (`vnet impair --clear`).",
        "\"r1:wan\"",
        endpoint,
    ),
    field(
        "exec",
        "Runs a command on a node (`sh -c`).",
        "{\"on\": \"h1\", \"run\": \"ip route del default\"}",
        || json!({"$ref": "#/definitions/exec_action"}),
    ),
];

pub const ARP_SPOOF: [Field; 3] = [
    field("from", "The attacker.", "\"mallory\"", node_name),
    field(
        "claim",
        "The address it claims is its own.",
        "\"10.0.1.1\"",
        address,
    ),
    field(
        "to",
        "The victim the forged replies go to.",
        "\"alice\"",
        node_name,
    ),
];

/// `impair:` as an action: the interface, besides the settings of [`IMPAIR`].
pub const IMPAIR_ACTION: [Field; 1] = [field(
    "on",
    "The interface whose sending is impaired, as NODE:IFACE (an end of a veth link).",
    "\"r1:wan\"",
    endpoint,
)];

pub const EXEC_ACTION: [Field; 2] = [
    field("on", "The node the command runs on.", "\"h1\"", node_name),
    field(
        "run",
        "The command (`sh -c`).",
        "\"ip route del default\"",
        string,
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
        ("impair", &IMPAIR),
        ("tap", &TAP),
        ("macvlan", &MACVLAN),
        ("check", &CHECK),
        ("neighbour check", &NEIGHBOUR),
        ("stage", &STAGE),
        ("action", &ACTIONS),
        ("arp_spoof", &ARP_SPOOF),
        ("impair action", &IMPAIR_ACTION),
        ("exec action", &EXEC_ACTION),
        ("port", &PORT),
        ("allow", &ALLOW),
        ("nat", &NAT_FIELDS),
        ("publish", &PUBLISH),
    ]
}
