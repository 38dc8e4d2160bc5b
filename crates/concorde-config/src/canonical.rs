//! The one canonical form of JSON and the one digest over it. Every identity Concorde derives
//! from JSON (a version's digest, a resource config's identity, a resource cache's key, a
//! step's params hash, instance vars) goes through here, so the same document written with its
//! keys in another order is the same thing.

use sha2::{Digest, Sha256};

use crate::model::JsonMap;

/// `value` serialized with every object's keys sorted, at every depth, and no whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    sorted(value).to_string()
}

/// Hex SHA-256 of [`canonical_json`]: equal documents, in any key order, have equal digests.
pub fn json_digest(value: &serde_json::Value) -> String {
    sha256_hex(canonical_json(value).as_bytes())
}

/// Hex (lowercase) SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The identity of a resource config: its type and its source (laid over the type's
/// defaults). Resources with equal identities share a config and, without a private scope,
/// their version history.
pub fn resource_config_digest(kind: &str, source: &JsonMap) -> String {
    let identity = serde_json::json!({ "type": kind, "source": source });
    json_digest(&identity)
}

fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries
                .into_iter()
                .map(|(key, value)| (key.clone(), sorted(value)))
                .collect()
        }
        serde_json::Value::Array(items) => items.iter().map(sorted).collect(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_change_the_canonical_form_or_digest() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"uri":"x","branch":"main","nested":{"b":1,"a":[{"z":1,"y":2}]}}"#,
        )
        .expect("json");
        let b: serde_json::Value = serde_json::from_str(
            r#"{"nested":{"a":[{"y":2,"z":1}],"b":1},"branch":"main","uri":"x"}"#,
        )
        .expect("json");
        assert_eq!(
            canonical_json(&a),
            r#"{"branch":"main","nested":{"a":[{"y":2,"z":1}],"b":1},"uri":"x"}"#
        );
        assert_eq!(json_digest(&a), json_digest(&b));
        assert_ne!(
            json_digest(&a),
            json_digest(&serde_json::json!({"uri": "y"}))
        );
    }

    #[test]
    fn digests_are_lowercase_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn resource_config_identity_ignores_source_key_order() {
        let one: JsonMap = serde_json::from_str(r#"{"uri":"u","branch":"b"}"#).expect("json");
        let two: JsonMap = serde_json::from_str(r#"{"branch":"b","uri":"u"}"#).expect("json");
        assert_eq!(
            resource_config_digest("git", &one),
            resource_config_digest("git", &two)
        );
        assert_ne!(
            resource_config_digest("git", &one),
            resource_config_digest("hg", &one)
        );
    }
}
