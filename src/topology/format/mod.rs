//! The topology format, described once: every key of every object, what it means, an example,
//! and the JSON Schema of its value.
//!
//! The reader in [`super::schema`] is hand-written over the spanned tree (it reports every
//! problem at once), so the schema cannot be derived from its types. Instead both come from
//! here: the reader's lists of known keys are [`keys`] of these field lists, and
//! [`json_schema`] builds `schema/vnet.schema.json` (printed by `vnet schema`) from them.

use serde_json::{Value, json};

mod checks;
mod json_schema;
mod links;
mod nodes;
#[cfg(test)]
mod tests;

pub(crate) use checks::*;
pub(crate) use json_schema::json_schema;
use json_schema::*;
pub(crate) use links::*;
pub(crate) use nodes::*;

/// Where editors fetch the schema from (`# yaml-language-server: $schema=...`); also its `$id`.
/// A placeholder until the project has a public home: the raw file on GitHub.
pub(crate) const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/vnet-lab/vnet/main/schema/vnet.schema.json";

/// The first line of a topology file that makes yaml-language-server (VS Code's YAML
/// extension, Neovim's yamlls, Helix) use the schema. To vnet it is a comment.
pub fn modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_URL}")
}

/// One key of an object in the topology.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub key: &'static str,
    /// What an editor shows on hover.
    pub doc: &'static str,
    /// An example value, as JSON text.
    pub example: &'static str,
    /// The JSON Schema of the value.
    pub value: fn() -> Value,
}

/// The keys of a list of fields, in order: the reader's lists of known keys.
pub(crate) const fn keys<const N: usize>(fields: &[Field; N]) -> [&'static str; N] {
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

pub(crate) const TOP: [Field; 5] = [
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

/// Every object of the format with its fields, for tests that hold the reader to them.
#[cfg(test)]
pub(crate) fn objects() -> Vec<(&'static str, &'static [Field])> {
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
