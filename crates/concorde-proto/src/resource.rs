//! Resources, resource types, resource versions, and the bodies of the resource mutations.

use serde::{Deserialize, Serialize};

use crate::build::BuildSummary;
use crate::ids::{PipelineId, VersionId};
use crate::is_false;
use crate::pipeline::InstanceVars;
use crate::version::Version;

/// A resource, as `GET .../resources[/:name]` and `GET /api/v1/resources` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Its name.
    pub name: String,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// The pipeline's instance vars, for instanced pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// The owning team's name.
    pub team_name: String,
    /// The resource type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// When the last finished check ended, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<i64>,
    /// The `icon:` of the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The pin in effect: the config pin if any, else the API pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_version: Option<Version>,
    /// The pin comes from `version:` in the config.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pinned_in_config: bool,
    /// The comment attached to an API pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_comment: Option<String>,
    /// The latest check build, absent if the resource was never checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSummary>,
    /// Why the last finished check failed, with the end of its script's stderr; absent when
    /// it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_error: Option<String>,
}

/// A resource type, as `GET .../resource-types` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceType {
    /// Its name.
    pub name: String,
    /// The type it is built from.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Tags selecting workers for its checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its containers run privileged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// `check_every` as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_every: Option<String>,
    /// Its source config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// Its default get/put params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// The version its image uses, once checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
}

/// A resource version, as `GET .../resources/:r/versions[/:id]` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceVersion {
    /// Its id, used by the `.../versions/:id/...` routes.
    pub id: VersionId,
    /// The version.
    pub version: Version,
    /// Metadata the check or get reported; omitted when empty or hidden from the caller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataField>,
    /// False once disabled; disabled versions are never used as inputs.
    pub enabled: bool,
}

/// One `{name, value}` entry of version metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataField {
    /// The field name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Body of `POST .../resources/:r/check` and `.../resource-types/:t/check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// Check from this version instead of the latest.
    #[serde(default)]
    pub from: Option<Version>,
    /// Check only this resource, not the types it is built on.
    #[serde(default)]
    pub shallow: bool,
}

/// Body of `PUT .../resources/:r/pin_comment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCommentRequest {
    /// The comment.
    pub pin_comment: String,
}
