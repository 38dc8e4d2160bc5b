//! Jobs: the full job of `GET .../jobs/:job_name` and the summaries of job lists.

use serde::{Deserialize, Serialize};

use crate::build::{Build, BuildSummary};
use crate::ids::{BuildId, JobId, PipelineId};
use crate::is_false;
use crate::pipeline::InstanceVars;

/// A job, as `GET .../jobs/:job_name` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// The owning team's name.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// The pipeline's instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// Paused jobs start no builds.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Who paused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    /// When it was paused, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<i64>,
    /// Some input has a version the job never used.
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_new_inputs: bool,
    /// Names of the pipeline groups containing the job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Builds older than this had their logs reaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_logged_build_id: Option<BuildId>,
    /// `disable_manual_trigger: true` in the config.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_manual_trigger: bool,
    /// `disable_reruns: true` in the config.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_reruns: bool,
    /// The oldest unfinished build; always present, `null` when none.
    pub next_build: Option<Build>,
    /// The latest finished build; always present, `null` when none.
    pub finished_build: Option<Build>,
    /// The job's get steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<JobInput>,
    /// The job's put steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<JobOutput>,
}

/// One input of a [`Job`]; `trigger` is always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInput {
    /// The get step's name.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Whether new versions trigger the job.
    #[serde(default)]
    pub trigger: bool,
    /// Jobs the version must have passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<String>,
}

/// One output (put step) of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutput {
    /// The put step's name.
    pub name: String,
    /// The resource.
    pub resource: String,
}

/// A job in `GET /api/v1/jobs` and `GET .../pipelines/:p/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    /// Its id.
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// The owning team's name.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// The pipeline's instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// Paused jobs start no builds.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Who paused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    /// When it was paused, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<i64>,
    /// Some input has a version the job never used.
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_new_inputs: bool,
    /// Names of the pipeline groups containing the job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The latest finished build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_build: Option<BuildSummary>,
    /// The oldest unfinished build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_build: Option<BuildSummary>,
    /// The build where the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_build: Option<BuildSummary>,
    /// The job's get steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<JobSummaryInput>,
    /// The job's put steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<JobOutput>,
}

/// One input of a [`JobSummary`]; `trigger` is omitted when false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummaryInput {
    /// The get step's name.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Jobs the version must have passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<String>,
    /// Whether new versions trigger the job.
    #[serde(default, skip_serializing_if = "is_false")]
    pub trigger: bool,
}
