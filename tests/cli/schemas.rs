//! The JSON Schemas: the topology format's (`vnet schema`, `schema/vnet.schema.json`) against
//! the bundled labs and the broken corpus, and every `--json` document against its own.

use serde_json::Value;

use crate::{repo, stderr, vnet};

fn schema(path: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo(path)).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&value).unwrap_or_else(|e| panic!("{path} is no schema: {e}"))
}

/// The errors of `doc` against `validator`, one per line; empty when it is valid.
pub(crate) fn errors(validator: &jsonschema::Validator, doc: &Value) -> String {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A topology as a JSON Schema sees it: YAML read the way vnet reads it, as data.
fn as_json(path: &std::path::Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    vnet::topology::yaml::parse(&text).ok().map(|n| n.to_json())
}

fn json_out(args: &[&str]) -> (Value, Option<i32>) {
    let o = vnet(args);
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "`vnet {}`: stdout is not one JSON document ({e}):\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        )
    });
    (doc, o.status.code())
}

#[test]
fn the_checked_in_schema_is_what_vnet_schema_prints() {
    let o = vnet(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let stored = std::fs::read_to_string(repo("schema/vnet.schema.json")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&o.stdout) == stored,
        "schema/vnet.schema.json is stale: run `vnet schema > schema/vnet.schema.json` and commit it"
    );
    for (of, file) in [
        ("validate", "validate"),
        ("plan", "plan"),
        ("up", "up"),
        ("down", "down"),
        ("verify", "verify"),
        ("test", "verify"),
        ("status", "status"),
        ("doctor", "doctor"),
        ("gen", "gen"),
        ("error", "error"),
    ] {
        let o = vnet(&["schema", of]);
        let path = format!("schema/output/{file}.schema.json");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            std::fs::read_to_string(repo(&path)).unwrap()
        );
        schema(&path);
    }
}

#[test]
fn every_bundled_topology_names_the_schema_and_validates_against_it() {
    let validator = schema("schema/vnet.schema.json");
    let modeline = vnet::topology::format::modeline();
    let mut n = 0;
    for e in std::fs::read_dir(repo("topologies")).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(modeline.as_str()),
            "{}: first line",
            p.display()
        );
        let doc = as_json(&p).unwrap();
        let wrong = errors(&validator, &doc);
        assert!(wrong.is_empty(), "{}:\n{wrong}", p.display());
        n += 1;
    }
    assert!(n >= 8);
}

/// What a JSON Schema can say about a topology: unknown keys, wrong types, values outside
/// an enum or a range, names that cannot be names. Cross-references (an unknown node in a
/// link, a duplicate address, a gateway off the subnet) it cannot; nor YAML syntax.
const SCHEMA_REJECTS: &[&str] = &[
    "bad-endpoint.yaml",
    "bad-lab-name.yaml",
    "bridge-interfaces.yaml",
    "check-layer.yaml",
    "duration-bare.yaml",
    "empty.yaml",
    "escape-name.yaml",
    "gateway-cidr.yaml",
    "ifname-16.yaml",
    "ifname-all-default.yaml",
    "ifname-lo.yaml",
    "impair-nothing.yaml",
    "kind-typo-cascade.yaml",
    "kind-typo.yaml",
    "link-three.yaml",
    "long-ifname.yaml",
    "mac-bad.yaml",
    "machine-gateway.yaml",
    "macvlan-no-parent.yaml",
    "mtu-small.yaml",
    "mtu-type.yaml",
    "name-dotdot.yaml",
    "name-long-node.yaml",
    "name-slash.yaml",
    "name-space.yaml",
    "no-nodes-null.yaml",
    "no-nodes.yaml",
    "no-prefix.yaml",
    "not-a-map.yaml",
    "number-strings.yaml",
    "publish-port-zero.yaml",
    "reach-word.yaml",
    "route-incomplete.yaml",
    "stp-word.yaml",
    "trunk-duplicate-vlan.yaml",
    "unknown-link-key.yaml",
    "unknown-top-key.yaml",
    "vlan-zero.yaml",
    "wrong-type.yaml",
];

#[test]
fn the_schema_rejects_the_broken_files_it_can_judge() {
    let validator = schema("schema/vnet.schema.json");
    let mut accepted = Vec::new();
    let mut wrong = Vec::new();
    for e in std::fs::read_dir(repo("tests/broken")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Not YAML a schema could see (syntax, tabs, tags, duplicate keys): vnet's to refuse.
        let Some(doc) = as_json(&e.path()) else {
            assert!(
                !SCHEMA_REJECTS.contains(&name.as_str()),
                "{name} does not parse"
            );
            continue;
        };
        let valid = validator.is_valid(&doc);
        if SCHEMA_REJECTS.contains(&name.as_str()) {
            if valid {
                wrong.push(name);
            }
        } else if valid {
            accepted.push(name);
        }
    }
    assert!(
        wrong.is_empty(),
        "the schema accepts what it must refuse: {wrong:?}"
    );
    // The rest need the whole file to judge (references, addresses, segments): vnet's.
    assert!(accepted.len() < 60, "{accepted:?}");
    for must in SCHEMA_REJECTS {
        assert!(repo("tests/broken").join(must).exists(), "{must} is gone");
    }
}

#[test]
fn validate_json_validates_against_its_schema() {
    let validator = schema("schema/output/validate.schema.json");
    let good = repo("topologies/office-lan.yaml");
    let (doc, code) = json_out(&["validate", good.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(errors(&validator, &doc), "");
    assert_eq!(
        (doc["valid"].clone(), doc["lab"].clone()),
        (Value::Bool(true), "office".into())
    );
    let bad = repo("tests/broken/many-problems.yaml");
    let (doc, code) = json_out(&["validate", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(3));
    assert_eq!(errors(&validator, &doc), "");
    let problems = doc["problems"].as_array().unwrap();
    let gatway = problems
        .iter()
        .find(|p| p["code"] == "vnet::unknown_key")
        .unwrap();
    assert_eq!(
        (gatway["line"].as_u64(), gatway["column"].as_u64()),
        (Some(11), Some(5))
    );
    assert_eq!(gatway["help"], "did you mean `gateway`?");
    assert_eq!(doc["exit"], 3);
}

#[test]
fn plan_gen_status_and_errors_validate_against_their_schemas() {
    let office = repo("topologies/office-lan.yaml");
    let (doc, _) = json_out(&["plan", office.to_str().unwrap(), "--json"]);
    assert_eq!(errors(&schema("schema/output/plan.schema.json"), &doc), "");
    assert_eq!(
        doc["stages"][0]["steps"][0]["command"],
        "ip netns add office.pc1"
    );

    let (doc, _) = json_out(&["gen", "single", "3", "--json"]);
    assert_eq!(errors(&schema("schema/output/gen.schema.json"), &doc), "");
    assert_eq!(
        errors(&schema("schema/vnet.schema.json"), &doc["topology"]),
        ""
    );
    // JSON is YAML: the topology as data is a topology vnet reads.
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("single-3.json");
    std::fs::write(&lab, doc["topology"].to_string()).unwrap();
    let o = vnet(&["validate", lab.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let (doc, code) = json_out(&["status", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        errors(&schema("schema/output/status.schema.json"), &doc),
        ""
    );

    let error = schema("schema/output/error.schema.json");
    let (doc, code) = json_out(&["verify", "no-such-lab", "--json"]);
    assert_eq!(code, Some(4));
    assert_eq!(errors(&error, &doc), "");
    assert_eq!(doc["error"]["code"], "vnet::not_running");
    let broken = repo("tests/broken/kind-typo.yaml");
    let (doc, code) = json_out(&["plan", broken.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(3));
    assert_eq!(errors(&error, &doc), "");
    assert_eq!(doc["error"]["problems"][0]["line"], 5);
}
