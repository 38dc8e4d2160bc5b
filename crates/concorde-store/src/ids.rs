//! The ids of every kind of row (defined once, in `concorde-core`), the names and handles
//! the store keeps, and the store's timestamp type.

use std::time::{SystemTime, UNIX_EPOCH};

pub use concorde_core::{
    ArtifactId, BuildId, ContainerId, JobId, PipelineId, ResourceCacheId, ResourceConfigId,
    ResourceId, ResourceTypeId, ScopeId, TaskCacheId, TeamId, VersionId, VolumeId,
};

macro_rules! name_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps a name or handle.
            pub fn new(text: impl Into<String>) -> Self {
                $name(text.into())
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_owned())
            }
        }
    )*};
}

name_type!(
    /// A worker's name: its identity, chosen by the worker (default: its host name).
    WorkerName,
    /// A container's handle: unique across all workers, chosen by the web node (a UUID).
    ContainerHandle,
    /// A volume's handle: unique across all workers, chosen by the web node (a UUID).
    VolumeHandle,
);

/// Milliseconds since the Unix epoch; what every time column holds.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    sqlx::Type,
    serde::Serialize,
    serde::Deserialize,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
    }

    /// This time plus `millis` milliseconds (negative goes back).
    pub fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    /// This time plus a duration (saturating).
    pub fn plus(self, duration: std::time::Duration) -> Self {
        self.plus_millis(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
    }

    /// This time minus a duration (saturating).
    pub fn minus(self, duration: std::time::Duration) -> Self {
        self.plus_millis(i64::try_from(duration.as_millis()).map_or(i64::MIN, |millis| -millis))
    }
}
