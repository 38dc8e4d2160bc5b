//! Build plans: the tree of steps a build runs, in Concourse's private-plan JSON shape.
//!
//! A plan is compiled from a job's config once, when the build is created, with the scheduler's
//! chosen versions baked in; it is stored with the build so a restarted web node runs exactly
//! the same thing.

use std::collections::BTreeMap;

use concorde_config::model::{ContainerLimits, JsonMap, TaskConfig, VersionMap};
use serde::{Deserialize, Serialize};

/// A plan node's id, unique within a build; events carry it as their `origin.id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanId(pub String);

impl std::fmt::Display for PlanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One node of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The node's id.
    pub id: PlanId,
    /// For steps inside `attempts`: which attempt (nested attempts give several numbers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<u32>,
    /// What the node does.
    #[serde(flatten)]
    pub step: PlanStep,
}

/// The kinds of plan node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStep {
    /// Fetch a resource version.
    Get(GetPlan),
    /// Push to a resource.
    Put(PutPlan),
    /// Run a task.
    Task(TaskPlan),
    /// Configure a pipeline.
    SetPipeline(SetPipelinePlan),
    /// Load a file into a local var.
    LoadVar(LoadVarPlan),
    /// Run steps in sequence, stopping at the first that does not succeed.
    Do(Vec<Plan>),
    /// Run steps concurrently.
    InParallel(InParallelPlan),
    /// Run a step once per combination of var values.
    Across(AcrossPlan),
    /// Succeed whatever the step does (unless aborted).
    Try(TryPlan),
    /// Cut the step off after a duration.
    Timeout(TimeoutPlan),
    /// One plan per attempt; the first success wins.
    Retry(Vec<Plan>),
    /// A hook that runs when the step succeeded.
    OnSuccess(OnSuccessPlan),
    /// A hook that runs when the step failed.
    OnFailure(OnFailurePlan),
    /// A hook that runs when the step errored.
    OnError(OnErrorPlan),
    /// A hook that runs when the build was aborted.
    OnAbort(OnAbortPlan),
    /// A hook that always runs.
    Ensure(EnsurePlan),
    /// Files uploaded for a one-off build (`fly execute -i`), as an artifact.
    ArtifactInput(ArtifactInputPlan),
    /// An artifact kept after a one-off build, for `fly execute -o` to download.
    ArtifactOutput(ArtifactOutputPlan),
}

/// `artifact_input`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactInputPlan {
    /// The uploaded artifact.
    pub artifact_id: i64,
    /// The artifact name it takes in the build.
    pub name: String,
}

/// `artifact_output`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactOutputPlan {
    /// The build's artifact to keep.
    pub name: String,
}

/// How a resource's type is run: a base type of the worker, or a custom type whose image is
/// fetched first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypeImage {
    /// The base type at the bottom of the chain (what the worker must provide).
    pub base_type: String,
    /// Containers of this type run privileged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// For custom types: fetches the type's image (a get of its own type, recursively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_plan: Option<Box<Plan>>,
}

/// `get`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetPlan {
    /// The artifact name.
    pub name: String,
    /// The resource type's name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource (absent for image fetches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The source, merged over the type's defaults; may hold `((vars))`.
    pub source: JsonMap,
    /// How to run the type.
    pub image: TypeImage,
    /// The version to fetch, when known at compile time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionMap>,
    /// Take the version produced by this plan node (a put) instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_from: Option<PlanId>,
    /// Params for `in`.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub params: JsonMap,
    /// Worker tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Step timeout, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// `put`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PutPlan {
    /// The step name.
    pub name: String,
    /// The resource type's name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource.
    pub resource: String,
    /// The source, merged over the type's defaults.
    pub source: JsonMap,
    /// How to run the type.
    pub image: TypeImage,
    /// Params for `out`.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub params: JsonMap,
    /// `all`, `detect` (default) or a list of artifact names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Value>,
    /// Worker tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Step timeout, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Give the script `BUILD_CREATED_BY`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expose_build_created_by: bool,
}

/// `task`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskPlan {
    /// The task's name.
    pub name: String,
    /// Run privileged.
    #[serde(default)]
    pub privileged: bool,
    /// `<artifact>/<path>` of the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// The inline config, in canonical JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// An artifact to use as the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Static vars for a file config.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub vars: JsonMap,
    /// Env overrides.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub params: JsonMap,
    /// Task input name to artifact name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_mapping: BTreeMap<String, String>,
    /// Task output name to artifact name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_mapping: BTreeMap<String, String>,
    /// Limits overriding the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_limits: Option<LimitsPlan>,
    /// Worker tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Step timeout, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Custom resource types of the pipeline, for `image_resource` of those types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<ResourceTypePlan>,
}

/// A custom resource type as a task's `image_resource` may need it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceTypePlan {
    /// The type's name.
    pub name: String,
    /// Its image's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its image's source.
    pub source: JsonMap,
    /// Source defaults for resources of this type.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub defaults: JsonMap,
    /// Privileged containers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

/// Container limits in a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsPlan {
    /// CPU shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u64>,
    /// Memory bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
}

impl From<&ContainerLimits> for LimitsPlan {
    fn from(limits: &ContainerLimits) -> LimitsPlan {
        LimitsPlan {
            cpu: limits.cpu,
            memory: limits.memory,
        }
    }
}

/// Helper for task plans: the inline config as the model type.
impl TaskPlan {
    /// Decodes the inline config, if any.
    pub fn inline_config(&self) -> Option<Result<TaskConfig, String>> {
        let config = self.config.as_ref()?;
        let text = config.to_string();
        Some(concorde_config::load_task_config(text.as_bytes()).map_err(|err| err.to_string()))
    }
}

/// `set_pipeline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetPipelinePlan {
    /// Pipeline name or `self`.
    pub name: String,
    /// `<artifact>/<path>` of the config.
    pub file: String,
    /// Target team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Static vars.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub vars: JsonMap,
    /// `<artifact>/<path>` var files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub var_files: Vec<String>,
    /// Instance vars.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub instance_vars: JsonMap,
}

/// `load_var`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadVarPlan {
    /// The local var's name.
    pub name: String,
    /// `<artifact>/<path>` of the file.
    pub file: String,
    /// `json`, `yaml`, `yml`, `trim` or `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Show the value in logs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reveal: bool,
}

/// `in_parallel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InParallelPlan {
    /// The steps.
    pub steps: Vec<Plan>,
    /// At most this many at once (0 = unlimited).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: usize,
    /// Cancel the rest after the first failure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// One `across` var in a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcrossVarPlan {
    /// The local var's name.
    pub name: String,
    /// A list, or a `((var))` string resolved at run time.
    pub values: serde_json::Value,
    /// Parallelism (0 = all at once).
    #[serde(default)]
    pub max_in_flight: usize,
}

/// `across`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcrossPlan {
    /// The vars.
    pub vars: Vec<AcrossVarPlan>,
    /// The step to run per combination; its ids get a per-combination suffix.
    pub substep_template: Box<Plan>,
    /// Cancel the rest after the first failure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
}

/// `try`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TryPlan {
    /// The step.
    pub step: Box<Plan>,
}

/// `timeout`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeoutPlan {
    /// The step.
    pub step: Box<Plan>,
    /// Go duration text.
    pub duration: String,
}

macro_rules! hook_plan {
    ($name:ident, $key:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// The watched step.
            pub step: Box<Plan>,
            /// The hook.
            pub $key: Box<Plan>,
        }
    };
}

hook_plan!(OnSuccessPlan, on_success, "`on_success`.");
hook_plan!(OnFailurePlan, on_failure, "`on_failure`.");
hook_plan!(OnErrorPlan, on_error, "`on_error`.");
hook_plan!(OnAbortPlan, on_abort, "`on_abort`.");
hook_plan!(EnsurePlan, ensure, "`ensure`.");

impl Plan {
    /// Calls `rewrite` on every plan id in the tree, references (`version_from`) included.
    pub fn for_each_id_mut(&mut self, rewrite: &mut dyn FnMut(&mut PlanId)) {
        rewrite(&mut self.id);
        match &mut self.step {
            PlanStep::Get(get) => {
                if let Some(from) = &mut get.version_from {
                    rewrite(from);
                }
                if let Some(image) = &mut get.image.get_plan {
                    image.for_each_id_mut(rewrite);
                }
            }
            PlanStep::Put(put) => {
                if let Some(image) = &mut put.image.get_plan {
                    image.for_each_id_mut(rewrite);
                }
            }
            PlanStep::Task(_)
            | PlanStep::SetPipeline(_)
            | PlanStep::LoadVar(_)
            | PlanStep::ArtifactInput(_)
            | PlanStep::ArtifactOutput(_) => {}
            PlanStep::Do(steps) | PlanStep::Retry(steps) => {
                steps.iter_mut().for_each(|s| s.for_each_id_mut(rewrite))
            }
            PlanStep::InParallel(parallel) => parallel
                .steps
                .iter_mut()
                .for_each(|s| s.for_each_id_mut(rewrite)),
            PlanStep::Across(across) => across.substep_template.for_each_id_mut(rewrite),
            PlanStep::Try(inner) => inner.step.for_each_id_mut(rewrite),
            PlanStep::Timeout(inner) => inner.step.for_each_id_mut(rewrite),
            PlanStep::OnSuccess(hook) => {
                hook.step.for_each_id_mut(rewrite);
                hook.on_success.for_each_id_mut(rewrite);
            }
            PlanStep::OnFailure(hook) => {
                hook.step.for_each_id_mut(rewrite);
                hook.on_failure.for_each_id_mut(rewrite);
            }
            PlanStep::OnError(hook) => {
                hook.step.for_each_id_mut(rewrite);
                hook.on_error.for_each_id_mut(rewrite);
            }
            PlanStep::OnAbort(hook) => {
                hook.step.for_each_id_mut(rewrite);
                hook.on_abort.for_each_id_mut(rewrite);
            }
            PlanStep::Ensure(hook) => {
                hook.step.for_each_id_mut(rewrite);
                hook.ensure.for_each_id_mut(rewrite);
            }
        }
    }
}
