//! Checks, and the stages of a scenario with their actions.

use serde_json::json;

use super::*;

pub(crate) const CHECK: [Field; 14] = [
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
        || json!({"type": "string", "pattern": "^\\s*(<=|>=|<|>)?\\s*[0-9.]+\\s*%\\s*$"}),
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
        duration,
    ),
];

/// A neighbour-cache check: which MAC a node has for an address.
pub(crate) const NEIGHBOUR: [Field; 5] = [
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
        "The node whose MAC (of its interface facing the address) the entry must hold.",
        "\"gw\"",
        string,
    ),
    field(
        "is_not",
        "The node whose MAC the entry must not hold.",
        "\"mallory\"",
        string,
    ),
    field(
        "within",
        "Read the cache again until the entry is as said, for at most this long (`5s`): a cache that changes after a fault; the report says when it first held.",
        "\"5s\"",
        duration,
    ),
];

pub(crate) const STAGE: [Field; 3] = [
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
pub(crate) const ACTIONS: [Field; 6] = [
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

pub(crate) const ARP_SPOOF: [Field; 3] = [
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
pub(crate) const IMPAIR_ACTION: [Field; 1] = [field(
    "on",
    "The interface whose sending is impaired, as NODE:IFACE (an end of a veth link).",
    "\"r1:wan\"",
    endpoint,
)];

pub(crate) const EXEC_ACTION: [Field; 2] = [
    field("on", "The node the command runs on.", "\"h1\"", node_name),
    field(
        "run",
        "The command (`sh -c`).",
        "\"ip route del default\"",
        string,
    ),
];
