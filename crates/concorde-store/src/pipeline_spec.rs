//! What a validated pipeline config means to the store: the whole config and each job's,
//! resource's and type's own config as JSON (in the config encoder's field order, which the
//! API shows), plus what scheduling reads (each job's
//! `get` inputs with `passed` globs expanded) and each resource's `check_every` and pin.

use concorde_config::model::{CheckEvery, Pipeline};
use concorde_config::{canonical_json, pipeline_to_json};

use crate::MAX_CONFIG_BYTES;
use crate::error::{StoreError, StoreResult};

/// The rows a config turns into.
#[derive(Debug, Clone)]
pub(crate) struct PipelineSpec {
    /// The whole config, as JSON.
    pub config: String,
    pub jobs: Vec<JobSpec>,
    pub resources: Vec<ResourceSpec>,
    pub resource_types: Vec<ResourceSpec>,
}

/// A job as configured.
#[derive(Debug, Clone)]
pub(crate) struct JobSpec {
    pub name: String,
    /// `old_name:`: a previous name whose history this job inherits.
    pub old_name: Option<String>,
    /// The job's config, as JSON.
    pub config: String,
    /// Its `get` steps, for scheduling.
    pub inputs: Vec<JobInputSpec>,
}

/// One `get` step of a job, as far as scheduling cares.
#[derive(Debug, Clone)]
pub(crate) struct JobInputSpec {
    pub name: String,
    pub resource: String,
    /// Names of the jobs in `passed:`, globs expanded, each once, in pipeline order.
    pub passed: Vec<String>,
    pub trigger: bool,
}

/// A resource or resource type as configured.
#[derive(Debug, Clone)]
pub(crate) struct ResourceSpec {
    pub name: String,
    /// `old_name:` of a resource: a previous name whose history it inherits.
    pub old_name: Option<String>,
    pub type_name: String,
    /// Its config, as JSON.
    pub config: String,
    /// `check_every` as written (`never` or a duration).
    pub check_every: Option<String>,
    /// The `version:` pin of a resource, canonical JSON.
    pub pinned_version: Option<String>,
}

/// The spec of `config`; `ConfigTooLarge` when it or any part is over [`MAX_CONFIG_BYTES`].
pub(crate) fn pipeline_spec(config: &Pipeline) -> StoreResult<PipelineSpec> {
    let json = pipeline_to_json(config);
    let section = |key: &str, index: usize| -> StoreResult<String> {
        let text = json
            .get(key)
            .and_then(|list| list.get(index))
            .map_or_else(|| "{}".to_owned(), ToString::to_string);
        check_size(text)
    };
    let jobs = config
        .jobs
        .iter()
        .enumerate()
        .map(|(index, job)| {
            Ok(JobSpec {
                name: job.name.clone(),
                old_name: job.old_name.clone(),
                config: section("jobs", index)?,
                inputs: job
                    .get_steps()
                    .into_iter()
                    .map(|get| JobInputSpec {
                        name: get.name.clone(),
                        resource: get.resource_name().to_owned(),
                        passed: expand_passed(config, &get.passed),
                        trigger: get.trigger,
                    })
                    .collect(),
            })
        })
        .collect::<StoreResult<_>>()?;
    let resources = config
        .resources
        .iter()
        .enumerate()
        .map(|(index, resource)| {
            Ok(ResourceSpec {
                name: resource.name.clone(),
                old_name: resource.old_name.clone(),
                type_name: resource.kind.clone(),
                config: section("resources", index)?,
                check_every: check_every(resource.check_every.as_ref()),
                pinned_version: resource
                    .version
                    .as_ref()
                    .map(|version| canonical_json(&serde_json::json!(version))),
            })
        })
        .collect::<StoreResult<_>>()?;
    let resource_types = config
        .resource_types
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            Ok(ResourceSpec {
                name: kind.name.clone(),
                old_name: None,
                type_name: kind.kind.clone(),
                config: section("resource_types", index)?,
                check_every: check_every(kind.check_every.as_ref()),
                pinned_version: None,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(PipelineSpec {
        config: check_size(json.to_string())?,
        jobs,
        resources,
        resource_types,
    })
}

fn check_size(text: String) -> StoreResult<String> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(StoreError::ConfigTooLarge {
            size: text.len(),
            max: MAX_CONFIG_BYTES,
        });
    }
    Ok(text)
}

/// `passed` entries with globs expanded against the pipeline's jobs, each job once, in
/// pipeline order.
fn expand_passed(config: &Pipeline, passed: &[String]) -> Vec<String> {
    let named: std::collections::HashSet<&str> = passed
        .iter()
        .flat_map(|entry| config.jobs_matching(entry))
        .collect();
    config
        .jobs
        .iter()
        .filter(|job| named.contains(job.name.as_str()))
        .map(|job| job.name.clone())
        .collect()
}

fn check_every(value: Option<&CheckEvery>) -> Option<String> {
    value.map(|every| every.as_str().to_owned())
}
