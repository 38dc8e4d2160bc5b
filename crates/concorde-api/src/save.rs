//! Saving a validated pipeline config into the store: the one mapping from the config model to
//! the store's `SavePipeline` (jobs with their inputs, `passed` globs expanded; resources with
//! their config pins; resource types), shared by `PUT .../config` and the engine's
//! `set_pipeline` step so both save pipelines exactly alike. Also the rendering of validation
//! results as the API reports them.

use concorde_config::model::{CheckEvery, Pipeline};
use concorde_config::{Diagnostic, Severity, pipeline_to_json};
use concorde_proto::{ConfigWarning, InstanceVars, SaveConfigResponse};
use concorde_store::{
    JobInputSpec, JobSpec, PipelineRef, ResourceSpec, SavePipeline, Store, StoreError, StoreResult,
    TeamId, Timestamp,
};

/// What to save.
#[derive(Debug, Clone)]
pub struct PipelineSave<'a> {
    /// The owning team.
    pub team: TeamId,
    /// The pipeline's name.
    pub name: &'a str,
    /// Instance vars, for an instanced pipeline.
    pub instance_vars: Option<&'a InstanceVars>,
    /// The validated config.
    pub config: &'a Pipeline,
    /// The config version the caller read (`X-Concourse-Config-Version`); `None` saves over
    /// whatever is stored (the `set_pipeline` step). Ignored when the pipeline is new.
    pub expected_version: Option<i64>,
    /// Whether a newly created pipeline starts paused: true through the API, false through
    /// the `set_pipeline` step, as in Concourse.
    pub initially_paused: bool,
    /// The save time.
    pub now: Timestamp,
}

/// What a save did.
#[derive(Debug, Clone)]
pub struct SavedPipeline {
    /// The stored pipeline.
    pub pipeline: concorde_store::Pipeline,
    /// The pipeline did not exist before.
    pub created: bool,
}

/// Saves `save.config` as the pipeline's config, atomically.
///
/// Updating an existing pipeline requests scheduling of its jobs (the store does) and a check
/// of each of its resources, so new config takes effect at once. `ConfigVersionMismatch` when
/// `expected_version` is not the stored version.
pub async fn save_pipeline_config(
    store: &Store,
    save: PipelineSave<'_>,
) -> StoreResult<SavedPipeline> {
    let instance_vars = save
        .instance_vars
        .map(|vars| serde_json::Value::Object(vars.clone()).to_string());
    let reference = PipelineRef {
        team: save.team,
        name: save.name.to_owned(),
        instance_vars,
    };
    let stored_version = match store.pipeline_by_ref(&reference).await {
        Ok(pipeline) => Some(pipeline.config_version),
        Err(StoreError::NotFound { .. }) => None,
        Err(err) => return Err(err),
    };
    let expected_version = match stored_version {
        None => 0,
        Some(stored) => save.expected_version.unwrap_or(stored),
    };
    let request = save_request(reference, save.config, expected_version, save.now);
    let pipeline = store.save_pipeline(&request).await?;
    let created = stored_version.is_none();
    if created {
        if !save.initially_paused {
            store
                .set_pipeline_paused(pipeline.id, None, save.now)
                .await?;
        }
    } else {
        for resource in store.list_resources(pipeline.id).await? {
            store.request_check(resource.id).await?;
        }
    }
    store
        .notify(concorde_store::Topic::JobScheduling, "")
        .await?;
    let pipeline = store.pipeline(pipeline.id).await?;
    Ok(SavedPipeline { pipeline, created })
}

/// The store's view of a config: the whole config as JSON, and per job, resource and type
/// its own JSON plus what scheduling needs.
pub fn save_request(
    pipeline: PipelineRef,
    config: &Pipeline,
    expected_version: i64,
    now: Timestamp,
) -> SavePipeline {
    let json = pipeline_to_json(config);
    let section = |key: &str, index: usize| {
        json.get(key)
            .and_then(|list| list.get(index))
            .map_or_else(String::new, ToString::to_string)
    };
    let jobs = config
        .jobs
        .iter()
        .enumerate()
        .map(|(index, job)| JobSpec {
            name: job.name.clone(),
            config: section("jobs", index),
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
        .collect();
    let resources = config
        .resources
        .iter()
        .enumerate()
        .map(|(index, resource)| ResourceSpec {
            name: resource.name.clone(),
            type_name: resource.kind.clone(),
            config: section("resources", index),
            check_every: check_every(resource.check_every.as_ref()),
            pinned_version: resource
                .version
                .as_ref()
                .and_then(|version| serde_json::to_string(version).ok()),
        })
        .collect();
    let resource_types = config
        .resource_types
        .iter()
        .enumerate()
        .map(|(index, kind)| ResourceSpec {
            name: kind.name.clone(),
            type_name: kind.kind.clone(),
            config: section("resource_types", index),
            check_every: check_every(kind.check_every.as_ref()),
            pinned_version: None,
        })
        .collect();
    SavePipeline {
        pipeline,
        config: json.to_string(),
        expected_version,
        jobs,
        resources,
        resource_types,
        now,
    }
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
    value.map(|every| match every {
        CheckEvery::Never => "never".to_owned(),
        CheckEvery::Interval(interval) => interval.clone(),
    })
}

/// Validation results as the API reports them: errors as one `invalid <group>:\n\t<msg>\n`
/// string per group, warnings as `{type, message}`.
pub fn validation_response(diagnostics: &[Diagnostic]) -> SaveConfigResponse {
    let mut groups: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.group)
        .collect();
    groups.sort();
    groups.dedup();
    let errors = groups
        .into_iter()
        .map(|group| {
            let mut text = format!("invalid {}:\n", group.header());
            for error in diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error && d.group == group)
            {
                text.push('\t');
                text.push_str(&error.message);
                text.push('\n');
            }
            text
        })
        .collect();
    let warnings = diagnostics
        .iter()
        .filter_map(|d| {
            d.warning.map(|kind| ConfigWarning {
                kind: kind.as_str().to_owned(),
                message: d.message.clone(),
            })
        })
        .collect();
    SaveConfigResponse { errors, warnings }
}
