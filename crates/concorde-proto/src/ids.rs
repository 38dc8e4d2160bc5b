//! Newtype identifiers as they appear on the wire: plain JSON integers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! wire_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    )*};
}

wire_id!(
    /// A team's id.
    TeamId,
    /// A pipeline's id (one instance of an instanced pipeline).
    PipelineId,
    /// A job's id.
    JobId,
    /// A build's id, as in `/api/v1/builds/:build_id`.
    BuildId,
    /// A resource's id.
    ResourceId,
    /// A resource type's id.
    ResourceTypeId,
    /// A resource version's id (`resource_config_versions.id`), as in `.../versions/:id`.
    VersionId,
);
