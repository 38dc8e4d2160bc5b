//! Builds, their summaries inside jobs and resources, and what a build consumed and produced.

use serde::{Deserialize, Serialize};

pub use concorde_core::BuildStatus;

use crate::ids::{BuildId, PipelineId};
use crate::pipeline::InstanceVars;
use crate::version::Version;

/// A build, as `GET /api/v1/builds/:id`, build lists, triggers and reruns return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// Its id.
    pub id: BuildId,
    /// The owning team's name.
    pub team_name: String,
    /// `N` for a job's Nth build, `N.k` for a rerun, a global counter for one-off builds,
    /// `check` for check builds.
    pub name: String,
    /// Where it is in its life.
    pub status: BuildStatus,
    /// Always `/api/v1/builds/<id>`.
    pub api_url: String,
    /// The build's comment; only filled where the caller may see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The job, for job builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The resource, for check builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The pipeline, for pipeline builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    /// The pipeline's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_name: Option<String>,
    /// The pipeline's instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// When it started, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// When it finished, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// When its logs were reaped, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reap_time: Option<i64>,
    /// k for the kth rerun of a build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_number: Option<i64>,
    /// The build this one re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<RerunOf>,
    /// Who created it, when a person did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The `rerun_of` of a [`Build`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunOf {
    /// The original build's id.
    pub id: BuildId,
    /// The original build's name.
    pub name: String,
}

/// A build inside a job summary or a resource (`finished_build`, `next_build`, `build`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildSummary {
    /// Its id.
    pub id: BuildId,
    /// Its name (`check` for check builds).
    pub name: String,
    /// Where it is in its life.
    pub status: BuildStatus,
    /// When it started, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// When it finished, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// The owning team's name.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// The pipeline's instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// The job, for job builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The public plan, for check builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
}

/// One of a job's next build inputs (`GET .../jobs/:job_name/inputs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildInput {
    /// The input (get step) name.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// The resource's type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The resource's source.
    pub source: serde_json::Value,
    /// The get step's params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// The chosen version.
    pub version: Version,
    /// The get step's worker tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `GET /api/v1/builds/:id/resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildResources {
    /// The versions the build fetched.
    pub inputs: Vec<BuildResourceInput>,
    /// The versions the build produced.
    pub outputs: Vec<BuildResourceOutput>,
}

/// One input of [`BuildResources`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildResourceInput {
    /// The input name.
    pub name: String,
    /// The version.
    pub version: Version,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The job never used this version under this name before.
    pub first_occurrence: bool,
}

/// One output of [`BuildResources`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildResourceOutput {
    /// The output name.
    pub name: String,
    /// The version.
    pub version: Version,
}

/// Body of `PUT /api/v1/builds/:id/comment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRequest {
    /// The comment.
    pub comment: String,
}

/// Files uploaded for a one-off build, or an output a build kept (`fly execute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerArtifact {
    /// Its id.
    pub id: i64,
    /// The build artifact name (empty for uploads).
    pub name: String,
    /// The build that kept it (0 for uploads).
    pub build_id: i64,
    /// When it was made, unix seconds.
    pub created_at: i64,
}
