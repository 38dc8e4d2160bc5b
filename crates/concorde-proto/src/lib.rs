//! The JSON wire types of Concorde's HTTP API, which is Concourse's API.
//!
//! Field names, key order and omission rules follow Concourse's JSON (`atc/*.go` with their
//! `omitempty` tags, restated in `reference/api.md` §3), so fly habits and scripts that read
//! `--json` output keep working. The API server (`concorde-api`) serializes these types and the
//! CLI (`concorde-cli`) deserializes them; neither defines its own copy.
//!
//! The crate is pure: serde derives and a few string helpers, no IO. Times are unix seconds.

mod build;
mod event;
mod ids;
mod info;
mod job;
mod pagination;
mod pipeline;
mod resource;
mod team;
mod version;
mod worker;

pub use build::{
    Build, BuildInput, BuildResourceInput, BuildResourceOutput, BuildResources, BuildStatus,
    BuildSummary, CommentRequest, RerunOf, WorkerArtifact,
};
pub use concorde_core::EventKind;
pub use event::{END_EVENT, EVENT_STREAM_VERSION, EventEnvelope, LogOrigin, SSE_EVENT};
pub use ids::{BuildId, JobId, PipelineId, ResourceId, ResourceTypeId, TeamId, VersionId};
pub use info::{FeatureFlags, Info, TokenResponse, UserInfo};
pub use job::{Job, JobInput, JobOutput, JobSummary, JobSummaryInput};
pub use pagination::{DEFAULT_LIMIT, Page, Pagination, link_header};
pub use pipeline::{
    CONFIG_VERSION_HEADER, ConfigResponse, ConfigWarning, DisplayConfig, GroupConfig, InstanceVars,
    Pipeline, RenameRequest, SaveConfigResponse,
};
pub use resource::{
    CheckRequest, MetadataField, PinCommentRequest, Resource, ResourceType, ResourceVersion,
};
pub use team::{RoleConfig, Team, TeamAuth};
pub use version::Version;
pub use worker::{
    BaseResourceType, Container, Volume, VolumeResourceType, Worker, WorkerResourceType,
};

/// Header every API response carries with the server's version.
pub const VERSION_HEADER: &str = "X-Concourse-Version";

/// `skip_serializing_if` helper for Go's `omitempty` on booleans.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}
