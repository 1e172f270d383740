//! Links: veth pairs, their impairments, TAP devices and macvlan children.

use serde_json::json;

use super::*;

pub(crate) const LINK: [Field; 6] = [
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
pub(crate) const IMPAIR: [Field; 8] = [
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
        || json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*(ns|us|µs|ms|s)(\\s+[0-9.]+\\s*%)?\\s*$"}),
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

pub(crate) const TAP: [Field; 3] = [
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

pub(crate) const MACVLAN: [Field; 3] = [
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
