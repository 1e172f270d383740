//! The JSON Schema of the format, built from its description: the shapes of values, and
//! objects made of fields.

use serde_json::{Value, json};

use super::*;

// --- value shapes

pub(super) fn string() -> Value {
    json!({"type": "string"})
}

pub(super) fn boolean() -> Value {
    json!({"type": "boolean"})
}

pub(super) fn strings() -> Value {
    json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
}

pub(super) fn cidr() -> Value {
    json!({"$ref": "#/definitions/cidr"})
}

pub(super) fn cidrs() -> Value {
    json!({"anyOf": [cidr(), {"type": "array", "items": cidr()}, {"type": "null"}]})
}

pub(super) fn address() -> Value {
    json!({"$ref": "#/definitions/address"})
}

pub(super) fn addresses() -> Value {
    json!({"anyOf": [address(), {"type": "array", "items": address()}]})
}

pub(super) fn vlan_id() -> Value {
    json!({"$ref": "#/definitions/vlan_id"})
}

pub(super) fn mtu() -> Value {
    json!({"type": "integer", "minimum": 68, "maximum": 65535})
}

pub(super) fn endpoint() -> Value {
    json!({"$ref": "#/definitions/endpoint"})
}

pub(super) fn node_name() -> Value {
    json!({"$ref": "#/definitions/node_name"})
}

pub(super) fn exec() -> Value {
    strings()
}

pub(super) fn duration() -> Value {
    json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*(ms|s|m|min|h)\\s*$"})
}

pub(super) fn chance() -> Value {
    json!({"type": "string", "pattern": "^\\s*[0-9.]+\\s*%(\\s+[0-9.]+\\s*%)?\\s*$"})
}

pub(super) fn list_of(def: &str) -> Value {
    json!({"anyOf": [{"type": "array", "items": {"$ref": format!("#/definitions/{def}")}}, {"type": "null"}]})
}

/// An object's properties: each key with its description, example and value schema.
fn properties(fields: &[Field]) -> serde_json::Map<String, Value> {
    let mut props = serde_json::Map::new();
    for f in fields {
        if props.contains_key(f.key) {
            continue;
        }
        let mut schema = (f.value)();
        if let Value::Object(m) = &mut schema {
            m.insert("description".into(), f.doc.into());
            if let Ok(example) = serde_json::from_str::<Value>(f.example) {
                m.insert("examples".into(), json!([example]));
            }
        }
        props.insert(f.key.into(), schema);
    }
    props
}

/// An impairment that sets nothing is refused, by vnet and so by the schema.
fn non_empty(mut o: Value) -> Value {
    o["minProperties"] = json!(1);
    o
}

fn object(doc: &str, fields: &[Field], required: &[&str]) -> Value {
    let mut o = json!({
        "type": "object",
        "description": doc,
        "properties": properties(fields),
        "additionalProperties": false,
    });
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// A node: the keys of every kind, each kind allowing only its own.
fn node() -> Value {
    let all: Vec<Field> = HOST.iter().chain(&BRIDGE).chain(&SWITCH).copied().collect();
    let only = |kind: &str, fields: &[Field]| {
        json!({
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"propertyNames": {"enum": fields.iter().map(|f| f.key).collect::<Vec<_>>()}}
        })
    };
    let host_like = json!({
        "if": {"properties": {"kind": {"enum": ["bridge", "hub", "switch"]}}, "required": ["kind"]},
        "else": {"propertyNames": {"enum": HOST.iter().map(|f| f.key).collect::<Vec<_>>()}}
    });
    json!({
        "description": "A node: a host (the default), a router, a bridge, a hub or an 802.1Q switch, each in its own network namespace `<lab>.<node>`.",
        "anyOf": [
            {
                "type": "object",
                "properties": properties(&all),
                "additionalProperties": false,
                "allOf": [only("bridge", &BRIDGE), only("hub", &BRIDGE), only("switch", &SWITCH), host_like]
            },
            {"type": "null"}
        ]
    })
}

/// The node named `host`: the machine itself, which takes no kind but `host` and no gateway.
fn machine() -> Value {
    let fields: Vec<Field> = HOST
        .iter()
        .filter(|f| f.key != "gateway" && f.key != "isolate")
        .copied()
        .collect();
    let mut o = object(
        "The machine itself (its own network namespace): the machine's ends of links (`interfaces:`), routes to the lab, and NAT with `--allow-machine-nat`.",
        &fields,
        &[],
    );
    o["properties"]["kind"] = json!({"const": "host", "description": "`host` is the machine: it is no router, bridge or switch here."});
    o
}

/// The JSON Schema of the topology format (draft-07, what editors read), as `vnet schema` prints it.
pub(crate) fn json_schema() -> Value {
    let link_forms = json!({
        "description": "A link: `[a:if, b:if]` (a veth pair), `{endpoints: ..., mtu: ...}`, `{type: vxlan, ...}`, `{macvlan: ..., parent: ...}` or `{tap: ...}`.",
        "anyOf": [
            {"type": "array", "items": endpoint(), "minItems": 2, "maxItems": 2},
            object("A veth pair or a VXLAN overlay in the long form.", &LINK, &["endpoints"]),
            object("A macvlan child on a parent interface.", &MACVLAN, &["macvlan", "parent"]),
            object("A TAP device on a bridge or switch port.", &TAP, &["tap"]),
        ]
    });
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_URL,
        "title": "vnet topology",
        "description": "A virtual network for vnet: nodes, links and the checks that prove it behaves (see the README's \"The topology file\").",
        "type": "object",
        "properties": properties(&TOP),
        "required": ["nodes"],
        "additionalProperties": false,
        "definitions": {
            "node": node(),
            "machine": machine(),
            "interface": object("An interface in the long form.", &INTERFACE, &[]),
            "route": object("A static route.", &ROUTE, &["to", "via"]),
            "link": link_forms,
            "impair": {
                "type": "object",
                "description": "An impairment: settings for both directions; a key naming an end of the link (its node, or `node:interface`) holds settings for what that end sends.",
                "properties": properties(&IMPAIR),
                "additionalProperties": non_empty(object("What one end sends: these settings over the link's.", &IMPAIR, &[])),
                "minProperties": 1,
            },
            "check": {"anyOf": [
                object("A check: from a node to a node, an address or a port; what must (or must not) answer.", &CHECK, &["from", "to"]),
                object("A neighbour-cache check: which MAC a node holds for an address.", &NEIGHBOUR, &["on", "neighbour"]),
            ]},
            "stage": object("A stage of the scenario: actions, then checks.", &STAGE, &["name"]),
            "action": {
                "description": "One action, one key.",
                "type": "object",
                "properties": properties(&ACTIONS),
                "additionalProperties": false,
                "minProperties": 1,
                "maxProperties": 1
            },
            "arp_spoof": object("Forged ARP replies.", &ARP_SPOOF, &["from", "claim", "to"]),
            "impair_action": {
                "type": "object",
                "description": "Impairments of what one interface sends, replacing its own.",
                "properties": properties(&[IMPAIR_ACTION.as_slice(), IMPAIR.as_slice()].concat()),
                "required": ["on"],
                "additionalProperties": false,
                "minProperties": 2
            },
            "exec_action": object("A command run on a node.", &EXEC_ACTION, &["on", "run"]),
            "port": object("A switch port's settings.", &PORT, &[]),
            "allow": object("A port security binding.", &ALLOW, &["mac"]),
            "nat": object("Address translation.", &NAT_FIELDS, &[]),
            "publish": object("A published port.", &PUBLISH, &["on", "port", "to"]),
            "node_name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
                "description": "Letters, digits, `-` and `_`, at most 32, starting with a letter or digit."
            },
            "interface_name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.-]{1,15}$",
                "not": {"enum": ["lo", "all", "default", ".", ".."]},
                "description": "At most 15 bytes of letters, digits, `-`, `_` and `.`; not `lo`, `all` or `default`."
            },
            "endpoint": {
                "type": "string",
                "pattern": "^[^:]+:[^:]+$",
                "description": "`node:interface`.",
                "examples": ["pc1:eth0"]
            },
            "cidr": {
                "type": "string",
                "pattern": "^[0-9A-Fa-f:.]+/[0-9]{1,3}$",
                "description": "An address with its prefix length: `10.0.1.11/24`, `fd00:1::11/64`.",
                "examples": ["10.0.1.11/24"]
            },
            "address": {
                "type": "string",
                "pattern": "^[0-9A-Fa-f:.]+$",
                "description": "An IPv4 or IPv6 address, without a prefix length.",
                "examples": ["10.0.1.1"]
            },
            "vlan_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": 4094,
                "description": "An 802.1Q VLAN id, 1 to 4094 (written as a number)."
            }
        }
    })
}
