//! The lookups the components need on a pipeline's typed model (which the store decodes
//! once per config version: `Store::pipeline_model`).

use concorde_config::model::{Job, Pipeline, Resource};

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
