//! `format-pipeline`: the canonical YAML of a pipeline, keys sorted as fly sorts them.

use crate::encode::pipeline_to_json;
use crate::model::Pipeline;

/// Why a value could not be written as YAML.
#[derive(Debug, thiserror::Error)]
#[error("could not write YAML: {0}")]
pub struct FormatError(String);

/// The canonical YAML text of a pipeline: decoded, re-encoded with Concourse's field names,
/// keys sorted alphabetically at every level. Comments and unknown keys are dropped.
pub fn format_pipeline(pipeline: &Pipeline) -> Result<String, FormatError> {
    json_to_yaml(&sort_keys(pipeline_to_json(pipeline)))
}

/// Writes any JSON value as YAML, keeping key order.
pub fn json_to_yaml(value: &serde_json::Value) -> Result<String, FormatError> {
    serde_saphyr::to_string(value).map_err(|err| FormatError(err.to_string()))
}

/// Sorts object keys at every level.
pub fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}
