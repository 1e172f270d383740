//! A YAML document as a tree of values that remember where they were written.
//!
//! The topology is read in two passes: serde-saphyr turns the text into this tree (syntax
//! errors stop here), then `schema` walks the tree and collects *every* problem at once,
//! which serde's derive cannot do (it stops at the first unknown key or wrong type).

use std::fmt;

use miette::SourceSpan;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};

/// A value and the bytes of the file it came from.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: SourceSpan,
    /// An explicit YAML tag (`!foo`, `!!binary`), resolved (`tag:yaml.org,2002:binary`).
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The word a diagnostic uses for this kind of value ("expected a mapping, found a list").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The scalar as text, the way it is used as a name or an address.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// This node and every node below it, keys included, depth first.
    pub(crate) fn walk<'n>(&'n self, visit: &mut impl FnMut(&'n Node)) {
        visit(self);
        match &self.value {
            Value::Seq(items) => items.iter().for_each(|n| n.walk(visit)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.walk(visit);
                v.walk(visit);
            }),
            _ => {}
        }
    }
}

impl Node {
    /// The tree as JSON data, the way a JSON Schema sees the file: keys become strings
    /// (`svi: {10: ...}` has the key `"10"`), a float that is not finite becomes null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn span_of<T>(s: &Spanned<T>) -> SourceSpan {
    let sp = s.referenced.span();
    let off = sp.byte_offset().unwrap_or(sp.offset()) as usize;
    let len = sp.byte_len().unwrap_or(sp.len()) as usize;
    (off, len).into()
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Tagged<Value>>::deserialize(d)?;
        let span = span_of(&spanned);
        let Tagged(value, tag) = spanned.value;
        Ok(Node { value, span, tag })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

/// Parses YAML text into a spanned tree; the error is serde-saphyr's, rendered by the caller.
pub fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
    // Without the crate's own snippet the miette report is labelled with our file name.
    // YAML 1.2 booleans only: `on:` (a published port's interface) and `no` (Norway) are
    // words, not `true` and `false`.
    let options = serde_saphyr::options! { with_snippet: false, strict_booleans: true };
    serde_saphyr::from_str_with_options::<Node>(text, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_at(src: &str, span: SourceSpan) -> &str {
        &src[span.offset()..span.offset() + span.len()]
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let src = "name: lab\nnodes:\n  h1:\n    interfaces: {eth0: 10.0.0.1/24}\n";
        let root = parse(src).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("root is a map")
        };
        assert_eq!(text_at(src, entries[0].0.span), "name");
        assert_eq!(text_at(src, entries[0].1.span), "lab");
        let Value::Map(nodes) = &entries[1].1.value else {
            panic!("nodes is a map")
        };
        assert_eq!(text_at(src, nodes[0].0.span), "h1");
        let Value::Map(h1) = &nodes[0].1.value else {
            panic!("h1 is a map")
        };
        let Value::Map(ifs) = &h1[0].1.value else {
            panic!("interfaces is a map")
        };
        assert_eq!(text_at(src, ifs[0].1.span), "10.0.0.1/24");
    }

    #[test]
    fn scalars_keep_their_types() {
        let root = parse("[1, true, x, ~, 1.5]").unwrap();
        let Value::Seq(items) = root.value else {
            panic!("a list")
        };
        let kinds: Vec<_> = items.iter().map(|n| n.value.kind()).collect();
        assert_eq!(
            kinds,
            ["a number", "a boolean", "a string", "nothing", "a number"]
        );
    }
}
