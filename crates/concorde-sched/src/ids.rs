//! Newtype identifiers and small value types shared by the resolver and every versions view.
//!
//! Ids are plain integers in the database; wrapping each kind in its own type keeps a job id
//! from ever being passed where a build id is expected.

use std::fmt;
use std::sync::Arc;

pub use concorde_core::{BuildId, JobId, ResourceId, ScopeId};

/// The position of a version in its scope's history: higher means newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckOrder(pub i64);

impl fmt::Display for CheckOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The identity of a version within its scope (a digest of its JSON document).
///
/// Digests are opaque: the resolver only compares them. Equal digests that come from one
/// view usually share their allocation, so comparison first checks the pointers.
#[derive(Clone, Debug, Eq, PartialOrd, Ord)]
pub struct VersionDigest(pub Arc<str>);

impl std::hash::Hash for VersionDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equality is string equality (the pointer check is only a shortcut), so hashing the
        // string keeps `Hash` consistent with `Eq`.
        self.0.hash(state);
    }
}

impl PartialEq for VersionDigest {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl VersionDigest {
    /// Wraps a digest string.
    pub fn new(digest: &str) -> VersionDigest {
        VersionDigest(Arc::from(digest))
    }

    /// The digest as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a `get` step of a job: unique within that job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputName(pub String);

impl fmt::Display for InputName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A version's JSON document, as Concourse stores it: string fields only.
pub type VersionFields = std::collections::BTreeMap<String, String>;

/// The fields a pin requires. A version matches when its document contains every field with
/// an equal value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PinnedVersion(pub VersionFields);

impl PinnedVersion {
    /// Whether `document` contains every field of this pin with an equal value.
    pub fn is_contained_in(&self, document: &VersionFields) -> bool {
        self.0
            .iter()
            .all(|(key, value)| document.get(key) == Some(value))
    }
}

/// A version of a scope: its digest and its place in the scope's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The version's identity within its scope.
    pub digest: VersionDigest,
    /// Higher is newer.
    pub check_order: CheckOrder,
}

/// Where a build sits in "newest first" order: builds sort by `rank` (the original build's id
/// for a rerun, else the build's own id), then by id, so a rerun sits next to its original.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildPosition {
    /// `rerun_of` for a rerun, otherwise the build's own id.
    pub rank: BuildId,
    /// The build's own id.
    pub id: BuildId,
}

/// A build as listings return it: its id and the original build it re-runs, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BuildRef {
    /// The build.
    pub id: BuildId,
    /// The original build this build re-runs; `rerun_of` never names another rerun.
    pub rerun_of: Option<BuildId>,
}

impl BuildRef {
    /// The build's place in newest-first order.
    pub fn position(&self) -> BuildPosition {
        BuildPosition {
            rank: self.rerun_of.unwrap_or(self.id),
            id: self.id,
        }
    }
}

/// One entry of a build's successful-build-outputs row: the build vouches for `digest` of
/// `resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputEntry {
    /// The resource the version belongs to.
    pub resource: ResourceId,
    /// The version.
    pub digest: VersionDigest,
}
