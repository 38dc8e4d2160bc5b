//! Pipelines, their config document, and the save-config response.

use serde::{Deserialize, Serialize};

use crate::ids::{BuildId, JobId, PipelineId};

/// Request and response header carrying a pipeline's config version (optimistic concurrency).
pub const CONFIG_VERSION_HEADER: &str = "X-Concourse-Config-Version";

/// Instance vars of an instanced pipeline: a JSON object.
pub type InstanceVars = serde_json::Map<String, serde_json::Value>;

/// A pipeline, as `GET .../pipelines[/:name]` and `GET /api/v1/pipelines` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Its id.
    pub id: PipelineId,
    /// Its name; instances of one instanced pipeline share it.
    pub name: String,
    /// The instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_vars: Option<InstanceVars>,
    /// Paused pipelines schedule nothing.
    pub paused: bool,
    /// Who paused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    /// When it was paused, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<i64>,
    /// Visible without logging in.
    pub public: bool,
    /// Archived: history kept, no config in effect.
    pub archived: bool,
    /// The `groups:` of the config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupConfig>,
    /// The owning team's name.
    pub team_name: String,
    /// The `display:` of the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<DisplayConfig>,
    /// Free-form `user_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<serde_json::Value>,
    /// The build whose `set_pipeline` step set this pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_build_id: Option<BuildId>,
    /// The job of that build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_job_id: Option<JobId>,
    /// When the config was last saved, unix seconds; always present.
    pub last_updated: i64,
}

/// One entry of a pipeline's `groups:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// The group's name.
    pub name: String,
    /// Job names (globs as written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
    /// Resource names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

/// A pipeline's `display:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayConfig {
    /// Background image URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub background_image: String,
    /// CSS filter applied to the background.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub background_filter: String,
}

/// `GET .../pipelines/:name/config`: the config as JSON (the version is in
/// [`CONFIG_VERSION_HEADER`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigResponse {
    /// The pipeline config.
    pub config: serde_json::Value,
}

/// Body of `PUT .../pipelines/:name/config` responses (and `errors` on 400).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveConfigResponse {
    /// Why the config was refused, one string per error group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What is questionable but accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ConfigWarning>,
}

/// One warning of a save-config or rename response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigWarning {
    /// The warning's kind, e.g. `invalid_identifier`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What is wrong, for people.
    pub message: String,
}

/// Body of `PUT .../pipelines/:name/rename` (and of team renames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameRequest {
    /// The new name.
    pub name: String,
}
