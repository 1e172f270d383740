use super::*;

/// The problems the reader reports for a topology, as `code: message` lines.
fn problems(text: &str) -> Vec<String> {
    match crate::topology::parse("lab.yaml", "lab", text.as_bytes()) {
        Ok(l) => l
            .warnings
            .iter()
            .map(|p| format!("{}: {}", p.code, p.message))
            .collect(),
        Err(crate::topology::LoadError::Invalid(i)) => i
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.code, p.message))
            .collect(),
        Err(other) => vec![format!("{other:?}")],
    }
}

/// Every key of the object, with its example value, and `extra` keys, as a JSON object
/// (JSON is YAML's flow style).
fn every_key(fields: &[Field], overrides: &[(&str, &str)], extra: &[&str]) -> String {
    let mut parts: Vec<String> = fields
        .iter()
        .map(|f| {
            let value = overrides
                .iter()
                .find(|(k, _)| *k == f.key)
                .map_or(f.example, |(_, v)| v);
            format!("\"{}\": {value}", f.key)
        })
        .collect();
    parts.extend(extra.iter().map(|k| format!("\"{k}\": 1")));
    format!("{{{}}}", parts.join(", "))
}

/// Each object of the format put where the reader reads it.
fn placed(object: &str, body: &str) -> String {
    let node = "{\"interfaces\": {\"eth0\": \"10.0.1.11/24\"}}";
    match object {
        "the topology" => body.to_owned(),
        "host" | "bridge" | "switch" => format!("{{\"nodes\": {{\"n1\": {body}}}}}"),
        "interface" => {
            format!("{{\"nodes\": {{\"n1\": {{\"interfaces\": {{\"eth0\": {body}}}}}}}}}")
        }
        "route" => format!("{{\"nodes\": {{\"n1\": {{\"routes\": [{body}]}}}}}}"),
        "link" | "tap" | "macvlan" => {
            format!("{{\"nodes\": {{\"n1\": {node}}}, \"links\": [{body}]}}")
        }
        "impair" => format!(
            "{{\"nodes\": {{\"n1\": {node}, \"n2\": {node}}}, \"links\": [{{\"endpoints\": [\"n1:eth0\", \"n2:eth0\"], \"impair\": {body}}}]}}"
        ),
        "check" | "neighbour check" => {
            format!("{{\"nodes\": {{\"n1\": {node}}}, \"expect\": [{body}]}}")
        }
        "stage" => format!("{{\"nodes\": {{\"n1\": {node}}}, \"stages\": [{body}]}}"),
        "arp_spoof" | "exec action" | "impair action" => {
            let action = match object {
                "arp_spoof" => "arp_spoof",
                "impair action" => "impair",
                _ => "exec",
            };
            format!(
                "{{\"nodes\": {{\"n1\": {node}}}, \"stages\": [{{\"name\": \"s\", \"do\": [{{\"{action}\": {body}}}]}}]}}"
            )
        }
        "port" => format!(
            "{{\"nodes\": {{\"s1\": {{\"kind\": \"switch\", \"ports\": {{\"p1\": {body}}}}}}}}}"
        ),
        "allow" => format!(
            "{{\"nodes\": {{\"s1\": {{\"kind\": \"switch\", \"ports\": {{\"p1\": {{\"allow\": [{body}]}}}}}}}}}}"
        ),
        "nat" => {
            format!("{{\"nodes\": {{\"r1\": {{\"kind\": \"router\", \"nat\": {body}}}}}}}")
        }
        "publish" => format!(
            "{{\"nodes\": {{\"r1\": {{\"kind\": \"router\", \"nat\": {{\"publish\": [{body}]}}}}}}}}"
        ),
        other => panic!("no place for {other}"),
    }
}

fn overrides(object: &str) -> Vec<(&'static str, &'static str)> {
    match object {
        "bridge" => vec![("kind", "\"bridge\"")],
        "switch" => vec![("kind", "\"switch\"")],
        "host" => vec![("kind", "\"router\"")],
        _ => Vec::new(),
    }
}

/// The reader takes every key the format has for an object, and refuses one it has not:
/// the schema and the reader cannot drift apart.
#[test]
fn the_reader_knows_exactly_the_keys_of_the_format() {
    for (object, fields) in objects() {
        if object == "action" {
            // An action is one key; each is tried alone below.
            continue;
        }
        let text = placed(object, &every_key(fields, &overrides(object), &[]));
        let unknown: Vec<String> = problems(&text)
            .into_iter()
            .filter(|p| p.starts_with("unknown_key"))
            .collect();
        assert!(unknown.is_empty(), "{object}: {unknown:?}\n{text}");
        let text = placed(
            object,
            &every_key(fields, &overrides(object), &["zz_not_a_key"]),
        );
        let unknown: Vec<String> = problems(&text)
            .into_iter()
            .filter(|p| p.starts_with("unknown_key"))
            .collect();
        assert!(
            unknown.len() == 1 && unknown[0].contains("`zz_not_a_key`"),
            "{object}: {unknown:?}\n{text}"
        );
    }
}

/// Each action of the format is one the reader knows, and an unknown one is refused.
#[test]
fn the_reader_knows_exactly_the_actions_of_the_format() {
    let stage = |action: &str| {
        format!(
            "{{\"nodes\": {{\"n1\": {{}}}}, \"stages\": [{{\"name\": \"s\", \"do\": [{action}]}}]}}"
        )
    };
    for f in &ACTIONS {
        let text = stage(&format!("{{\"{}\": {}}}", f.key, f.example));
        let wrong: Vec<String> = problems(&text)
            .into_iter()
            .filter(|p| p.starts_with("action") || p.starts_with("unknown_key"))
            .collect();
        assert!(wrong.is_empty(), "{}: {wrong:?}\n{text}", f.key);
    }
    let text = stage("{\"zz_not_an_action\": 1}");
    assert!(
        problems(&text)
            .iter()
            .any(|p| p.starts_with("action") && p.contains("`zz_not_an_action`")),
        "{:?}",
        problems(&text)
    );
}

/// Every key the reader asks for by name (`f.get("…")`) is a key of the format: a new
/// key read but not described would be missing from the schema.
#[test]
fn every_key_the_reader_reads_is_in_the_format() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/topology/schema");
    let known: Vec<&str> = objects()
        .iter()
        .flat_map(|(_, fields)| fields.iter().map(|f| f.key))
        .collect();
    let mut read = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for (i, _) in text.match_indices(".get(\"") {
            let key: String = text[i + 6..].chars().take_while(|c| *c != '"').collect();
            assert!(
                known.contains(&key.as_str()),
                "{} reads `{key}`, which the format does not describe",
                entry.path().display()
            );
            read += 1;
        }
    }
    assert!(read > 40, "found only {read} keys read");
}

#[test]
fn every_field_has_a_description_and_an_example_that_is_json() {
    for (object, fields) in objects() {
        for f in fields {
            assert!(f.doc.len() > 10, "{object}.{}", f.key);
            assert!(
                serde_json::from_str::<Value>(f.example).is_ok(),
                "{object}.{}: {}",
                f.key,
                f.example
            );
        }
    }
}

#[test]
fn the_modeline_is_a_comment_to_the_reader() {
    let text = format!("{}\nnodes:\n  h1: {{}}\n", modeline());
    assert_eq!(problems(&text), Vec::<String>::new());
}
