//! The vocabulary every layer shares, defined once: the id of each kind of row, where a build
//! is in its life, and the kinds of build event with the version each is written in. The store
//! reads and writes these types, the engine and the resolver compute with them, and the API and
//! the CLI put them on the wire as they are (ids are plain JSON integers, statuses lowercase).

mod build_status;
mod event_kind;
mod ids;
mod worker_resource_type;

pub use build_status::BuildStatus;
pub use event_kind::EventKind;
pub use ids::{
    ArtifactId, BuildId, ContainerId, JobId, PipelineId, ResourceCacheId, ResourceConfigId,
    ResourceId, ResourceTypeId, ScopeId, TaskCacheId, TeamId, VersionId, VolumeId,
};
pub use worker_resource_type::WorkerResourceType;

/// A stored or received word that names no value of the type it should name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {text:?}")]
pub struct UnknownName {
    /// What the word should have named (`build status`, `event type`).
    pub what: &'static str,
    /// The word.
    pub text: String,
}
