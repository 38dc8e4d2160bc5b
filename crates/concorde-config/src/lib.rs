//! Pipeline and task configuration, read exactly as Concourse reads it.
//!
//! The path from bytes to a validated pipeline is: [`parse_yaml_bytes`] (a located YAML tree,
//! duplicate keys rejected) → static vars ([`vars::interpolate_node`]) → [`decode_pipeline`]
//! (the typed [`model`]) → [`validate_pipeline`] (every error and warning, with locations).
//! [`load_pipeline`] runs the first three steps. The crate is pure: no IO, no panics on input.

mod canonical;
pub mod decode;
mod duration;
mod encode;
mod format;
mod glob;
pub mod model;
mod node;
pub mod validate;
pub mod vars;
mod yaml;

pub use canonical::{canonical_json, json_digest, resource_config_digest, sha256_hex};
pub use decode::{
    DecodeError, UnknownKeys, decode_pipeline, decode_task_config_file, node_to_json,
};
pub use duration::{DurationError, SignedDuration, parse_duration, parse_memory};
pub use encode::{pipeline_to_json, step_to_json, task_config_to_json};
pub use format::{FormatError, format_pipeline, json_to_yaml, sort_keys};
pub use node::{Location, Node, Value};
pub use validate::{
    Diagnostic, ErrorGroup, Severity, WarningKind, error_groups, render_fly_report,
    validate_pipeline,
};
pub use yaml::{MAX_DEPTH, MAX_SOURCE_BYTES, YamlError, parse_yaml, parse_yaml_bytes};

use model::{Pipeline, TaskConfig};
use vars::{Missing, StaticVars, VarError};

/// Why a pipeline could not be loaded far enough to validate.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The YAML itself is broken (checked before any template is applied).
    #[error("error parsing yaml before applying templates: {0}")]
    Yaml(#[from] YamlError),
    /// A static var could not be applied.
    #[error("{0}")]
    Vars(#[from] VarError),
    /// The YAML does not have the pipeline's shape.
    #[error("malformed config: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Decode(Vec<DecodeError>),
}

impl LoadError {
    /// Each problem with its location, one per line, for people.
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Yaml(err) => vec![with_location(&self.to_string(), err.location())],
            LoadError::Vars(_) => vec![self.to_string()],
            LoadError::Decode(errors) => errors
                .iter()
                .map(|err| with_location(&format!("malformed config: {err}"), err.location))
                .collect(),
        }
    }
}

fn with_location(message: &str, location: Location) -> String {
    if location.is_known() {
        format!("{message} ({location})")
    } else {
        message.to_owned()
    }
}

/// A loaded pipeline with the interpolated YAML tree it was decoded from.
#[derive(Debug)]
pub struct LoadedPipeline {
    /// The typed config.
    pub pipeline: Pipeline,
    /// The YAML after static vars, for `validate-pipeline -o`.
    pub evaluated: Node,
}

/// Parses, applies static vars (unknown vars stay for run time) and decodes a pipeline.
pub fn load_pipeline(
    bytes: &[u8],
    vars: &StaticVars,
    unknown_keys: UnknownKeys,
) -> Result<LoadedPipeline, LoadError> {
    let mut root = parse_yaml_bytes(bytes)?;
    if !vars.is_empty() {
        vars::interpolate_node(&mut root, vars, Missing::Leave)?;
    }
    let (pipeline, errors) = decode_pipeline(&root, unknown_keys);
    if !errors.is_empty() {
        return Err(LoadError::Decode(errors));
    }
    Ok(LoadedPipeline {
        pipeline,
        evaluated: root,
    })
}

/// Parses and decodes a task config file (the target of a task step's `file:`).
pub fn load_task_config(bytes: &[u8]) -> Result<TaskConfig, LoadError> {
    let root = parse_yaml_bytes(bytes)?;
    let (config, errors) = decode_task_config_file(&root);
    if !errors.is_empty() {
        return Err(LoadError::Decode(errors));
    }
    Ok(config)
}

/// The problems of a task config that make it unrunnable, with Concourse's wording
/// (`missing 'platform'`, `  input in position N is missing a name`).
pub fn validate_task_config(config: &TaskConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if config.platform.as_deref().is_none_or(str::is_empty) {
        problems.push("missing 'platform'".to_owned());
    }
    for (index, input) in config.inputs.iter().enumerate() {
        if input.name.is_empty() {
            problems.push(format!("  input in position {index} is missing a name"));
        }
    }
    for (index, output) in config.outputs.iter().enumerate() {
        if output.name.is_empty() {
            problems.push(format!("  output in position {index} is missing a name"));
        }
    }
    problems
}
