//! Decoding a [`Node`] tree into the typed [`crate::model`], with Concourse's leniency rules.
//!
//! Plain sections (resources, jobs, ...) decode strictly or leniently depending on the caller:
//! the web node and `--strict` reject unknown keys, `validate-pipeline` without `--strict` drops
//! them. Steps and inline task configs keep their unknown keys for the validator to report. Every
//! problem is collected, so one run reports all of them.

mod fields;
mod pipeline;
mod step;
mod task;

use std::fmt;

pub(crate) use fields::MapReader;
pub use fields::node_to_json;

use crate::model::{Pipeline, TaskConfig};
use crate::node::{Location, Node};

/// How unknown keys in plain sections (resources, jobs, groups, ...) are treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownKeys {
    /// Drop them silently (`fly validate-pipeline` without `--strict`).
    #[default]
    Ignore,
    /// Reject them (the web node, and `--strict`).
    Reject,
}

/// One problem found while decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The config path of the offending value, e.g. `jobs[0].plan[2].get`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Where the value is in the YAML source.
    pub location: Location,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects decode errors while walking the tree.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    pub unknown_keys: UnknownKeys,
    pub errors: Vec<DecodeError>,
}

impl Decoder {
    pub fn error(&mut self, path: &str, node: &Node, message: impl Into<String>) {
        self.errors.push(DecodeError {
            path: path.to_owned(),
            message: message.into(),
            location: node.location,
        });
    }
}

/// Decodes a whole pipeline. Returns the model (with defaults where values were bad) and every
/// decode error; a non-empty error list means the model must not be used.
pub fn decode_pipeline(root: &Node, unknown_keys: UnknownKeys) -> (Pipeline, Vec<DecodeError>) {
    let mut decoder = Decoder {
        unknown_keys,
        errors: Vec::new(),
    };
    let pipeline = pipeline::decode_pipeline(&mut decoder, root);
    (pipeline, decoder.errors)
}

/// Decodes a task config from a file (`task.file`). Unknown keys are an error here, reported as
/// `unknown fields: [k]` like Concourse does for file configs.
pub fn decode_task_config_file(root: &Node) -> (TaskConfig, Vec<DecodeError>) {
    let mut decoder = Decoder {
        unknown_keys: UnknownKeys::Reject,
        errors: Vec::new(),
    };
    let config = task::decode_task_config(&mut decoder, root, "");
    if !config.unknown_fields.is_empty() {
        let list: Vec<String> = config
            .unknown_fields
            .iter()
            .map(|key| key.to_string())
            .collect();
        decoder.errors.push(DecodeError {
            path: String::new(),
            message: format!("unknown fields: [{}]", list.join(" ")),
            location: root.location,
        });
    }
    (config, decoder.errors)
}
