//! Reading the configs the store keeps (JSON) back into the typed model, and the lookups the
//! components need on it.

use anyhow::Context;
use concorde_config::model::{Job, Pipeline, Resource};
use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline};

/// Decodes a stored pipeline config (JSON, which is YAML).
pub fn decode_pipeline(config: &str) -> anyhow::Result<Pipeline> {
    load_pipeline(
        config.as_bytes(),
        &StaticVars::default(),
        UnknownKeys::Ignore,
    )
    .map(|loaded| loaded.pipeline)
    .map_err(|err| anyhow::anyhow!("{err}"))
    .context("stored pipeline config does not decode")
}

/// A job of the model by name.
pub fn job<'a>(pipeline: &'a Pipeline, name: &str) -> Option<&'a Job> {
    pipeline.jobs.iter().find(|job| job.name == name)
}

/// A resource of the model by name.
pub fn resource<'a>(pipeline: &'a Pipeline, name: &str) -> Option<&'a Resource> {
    pipeline
        .resources
        .iter()
        .find(|resource| resource.name == name)
}

/// Names of the resources some job gets: only those are checked periodically.
pub fn input_resource_names(pipeline: &Pipeline) -> std::collections::HashSet<&str> {
    pipeline
        .jobs
        .iter()
        .flat_map(|job| job.get_steps())
        .map(|get| get.resource_name())
        .collect()
}
