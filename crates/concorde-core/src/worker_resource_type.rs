//! A base resource type as a worker advertises it: in the registration JSON the TSA reads, in
//! the workers table, and in `GET /api/v1/workers`, one type with one spelling.

use serde::{Deserialize, Serialize};

/// A base resource type a worker provides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerResourceType {
    /// The type's name, e.g. `git`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// How the worker runs it: a path to its image, or (for this binary's built-in types and
    /// type directories) the URI `concorde_engine::BaseResourceType::image_uri` writes.
    pub image: String,
    /// The type's version; a change replaces the worker's cached image volumes.
    #[serde(default)]
    pub version: String,
    /// Its containers run privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Whether each resource of this type keeps its own version history.
    #[serde(default)]
    pub unique_version_history: bool,
}
