//! Field-level decoding helpers: reading a map's keys once each, and converting scalars with
//! Concourse's type rules (no silent coercion: a number is not a string, `"yes"` is not a bool).

use std::collections::BTreeMap;

use crate::decode::{Decoder, UnknownKeys};
use crate::model::{JsonMap, VersionMap};
use crate::node::{Location, Node, Value};

/// Reads the entries of one YAML map, remembering which keys were consumed.
pub(crate) struct MapReader<'a> {
    entries: &'a [(Node, Node)],
    consumed: Vec<bool>,
    /// The config path of the map, used to build field paths.
    pub path: String,
    /// Where the map starts.
    pub location: Location,
}

impl<'a> MapReader<'a> {
    /// Starts reading `node` as a map; reports an error and returns `None` if it is not one.
    pub fn new(decoder: &mut Decoder, node: &'a Node, path: &str) -> Option<MapReader<'a>> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                entries,
                consumed: vec![false; entries.len()],
                path: path.to_owned(),
                location: node.location,
            }),
            _ => {
                decoder.error(
                    path,
                    node,
                    format!("expected a map, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// Whether any key has been consumed.
    pub fn has_consumed(&self) -> bool {
        self.consumed.iter().any(|done| *done)
    }

    /// Whether `key` is present and not yet consumed.
    pub fn has_unconsumed_key(&self, key: &str) -> bool {
        self.index_of(key)
            .is_some_and(|index| !self.consumed[index])
    }

    /// Consumes `key` and returns its value; `null` counts as absent, as in JSON decoding.
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let index = self.index_of(key)?;
        self.consumed[index] = true;
        let value = &self.entries[index].1;
        if matches!(value.value, Value::Null) {
            None
        } else {
            Some(value)
        }
    }

    /// The path of a field of this map.
    pub fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The unconsumed keys, sorted, as strings.
    pub fn unconsumed_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .entries
            .iter()
            .zip(&self.consumed)
            .filter(|(_, done)| !**done)
            .map(|((key, _), _)| {
                key.key_string()
                    .unwrap_or_else(|| "<non-scalar key>".to_owned())
            })
            .collect();
        keys.sort();
        keys
    }

    /// Ends reading a plain struct: unknown keys are an error when the decoder rejects them.
    pub fn finish(self, decoder: &mut Decoder) {
        if decoder.unknown_keys == UnknownKeys::Reject {
            for ((key, _), done) in self.entries.iter().zip(&self.consumed) {
                if !done {
                    let name = key.key_string().unwrap_or_default();
                    let path = self.path.clone();
                    decoder.error(&path, key, format!("unknown field \"{name}\""));
                }
            }
        }
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(
            |(entry_key, _)| matches!(&entry_key.value, Value::String(text) if text == key),
        )
    }

    /// Reads an optional string field.
    pub fn string(&mut self, decoder: &mut Decoder, key: &str) -> Option<String> {
        let node = self.take(key)?;
        expect_string(decoder, node, &self.field_path(key))
    }

    /// Reads an optional bool field, `false` when absent.
    pub fn bool(&mut self, decoder: &mut Decoder, key: &str) -> bool {
        let Some(node) = self.take(key) else {
            return false;
        };
        match node.value {
            Value::Bool(flag) => flag,
            _ => {
                decoder.error(
                    &self.field_path(key),
                    node,
                    format!("expected a boolean, found {}", node.kind_name()),
                );
                false
            }
        }
    }

    /// Reads an optional integer field.
    pub fn int(&mut self, decoder: &mut Decoder, key: &str) -> Option<i64> {
        let node = self.take(key)?;
        expect_int(decoder, node, &self.field_path(key))
    }

    /// Reads an optional list of strings, empty when absent.
    pub fn strings(&mut self, decoder: &mut Decoder, key: &str) -> Vec<String> {
        let Some(node) = self.take(key) else {
            return Vec::new();
        };
        let path = self.field_path(key);
        expect_strings(decoder, node, &path)
    }

    /// Reads an optional free-form object.
    pub fn object(&mut self, decoder: &mut Decoder, key: &str) -> Option<JsonMap> {
        let node = self.take(key)?;
        let path = self.field_path(key);
        match node_to_json(node) {
            serde_json::Value::Object(map) => Some(map),
            _ => {
                decoder.error(
                    &path,
                    node,
                    format!("expected a map, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// Reads an optional free-form value.
    pub fn any(&mut self, key: &str) -> Option<serde_json::Value> {
        self.take(key).map(node_to_json)
    }

    /// Reads an optional map of strings to strings (input/output mappings).
    pub fn string_map(
        &mut self,
        decoder: &mut Decoder,
        key: &str,
    ) -> Option<BTreeMap<String, String>> {
        let node = self.take(key)?;
        let path = self.field_path(key);
        let Value::Map(entries) = &node.value else {
            decoder.error(
                &path,
                node,
                format!("expected a map, found {}", node.kind_name()),
            );
            return None;
        };
        let mut map = BTreeMap::new();
        for (entry_key, entry_value) in entries {
            let name = entry_key.key_string().unwrap_or_default();
            if let Some(text) = expect_string(decoder, entry_value, &format!("{path}.{name}")) {
                map.insert(name, text);
            }
        }
        Some(map)
    }

    /// Reads an optional version map, whose values must be strings.
    pub fn version(&mut self, decoder: &mut Decoder, key: &str) -> Option<VersionMap> {
        let node = self.take(key)?;
        let path = self.field_path(key);
        decode_version_map(decoder, node, &path)
    }
}

/// A version map: every value must be a string ("the value 1 of ref is not a string").
pub(crate) fn decode_version_map(
    decoder: &mut Decoder,
    node: &Node,
    path: &str,
) -> Option<VersionMap> {
    let Value::Map(entries) = &node.value else {
        decoder.error(
            path,
            node,
            format!("expected a map, found {}", node.kind_name()),
        );
        return None;
    };
    let mut version = VersionMap::new();
    for (key, value) in entries {
        let name = key.key_string().unwrap_or_default();
        match &value.value {
            Value::String(text) => {
                version.insert(name, text.clone());
            }
            _ => {
                let shown = json_text(&node_to_json(value));
                decoder.error(
                    path,
                    value,
                    format!("the value {shown} of {name} is not a string"),
                );
            }
        }
    }
    Some(version)
}

/// A string, or an error naming what was found instead.
pub(crate) fn expect_string(decoder: &mut Decoder, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::String(text) => Some(text.clone()),
        _ => {
            decoder.error(
                path,
                node,
                format!("expected a string, found {}", node.kind_name()),
            );
            None
        }
    }
}

/// An integer, or an error naming what was found instead.
pub(crate) fn expect_int(decoder: &mut Decoder, node: &Node, path: &str) -> Option<i64> {
    match node.value {
        Value::Int(number) => Some(number),
        _ => {
            decoder.error(
                path,
                node,
                format!("expected an integer, found {}", node.kind_name()),
            );
            None
        }
    }
}

/// A list of strings, or errors for each element that is not one.
pub(crate) fn expect_strings(decoder: &mut Decoder, node: &Node, path: &str) -> Vec<String> {
    let Value::Seq(items) = &node.value else {
        decoder.error(
            path,
            node,
            format!("expected a list, found {}", node.kind_name()),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| expect_string(decoder, item, &format!("{path}[{index}]")))
        .collect()
}

/// Converts a node to JSON, with map keys turned into strings as Concourse does.
pub fn node_to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Int(number) => serde_json::Value::from(*number),
        Value::UInt(number) => serde_json::Value::from(*number),
        Value::Float(number) => serde_json::Number::from_f64(*number).map_or_else(
            || serde_json::Value::String(number.to_string()),
            serde_json::Value::Number,
        ),
        Value::String(text) => serde_json::Value::String(text.clone()),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(node_to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(key, value)| (key.key_string().unwrap_or_default(), node_to_json(value)))
                .collect(),
        ),
    }
}

/// A JSON value written as Go's `%v` would show a scalar.
fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
