//! The versions view: the read-only questions input resolution asks about a pipeline's history.
//!
//! The resolver never sees whole tables. Every method is one narrow query that a database
//! answers from an index (the comment on each method names the index it wants), and listings
//! of builds come in pages, so one resolution holds only the pages it is walking. The
//! in-memory implementation is `MemoryView`; the store crate implements the same trait over
//! SQL.
//!
//! The trait is synchronous. A store backed by an async driver runs the whole resolution on a
//! blocking thread (`spawn_blocking`) and blocks on each query there.

use std::sync::Arc;

use crate::ids::{
    BuildId, BuildPosition, BuildRef, CheckOrder, InputName, JobId, OutputEntry, PinnedVersion,
    ResourceId, Version, VersionDigest,
};

/// Versions that a listing of successful-build-outputs rows must contain: resource id to the
/// digests that the row's list for that resource must all include.
///
/// Sorted by resource id; a resource appears at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputConstraints(pub Vec<(ResourceId, Vec<VersionDigest>)>);

impl OutputConstraints {
    /// Adds `digest` to the digests required for `resource`.
    pub fn require(&mut self, resource: ResourceId, digest: VersionDigest) {
        match self.0.binary_search_by_key(&resource, |(id, _)| *id) {
            Ok(index) => self.0[index].1.push(digest),
            Err(index) => self.0.insert(index, (resource, vec![digest])),
        }
    }

    /// Whether a successful-build-outputs row (sorted by resource id) contains every
    /// constrained digest. Order and duplicates in the row do not matter.
    pub fn are_contained_in(&self, row: &[OutputEntry]) -> bool {
        self.0.iter().all(|(resource, digests)| {
            let start = row.partition_point(|entry| entry.resource < *resource);
            let entries = &row[start..];
            let end = entries.partition_point(|entry| entry.resource == *resource);
            let entries = &entries[..end];
            !entries.is_empty()
                && digests
                    .iter()
                    .all(|digest| entries.iter().any(|entry| entry.digest == *digest))
        })
    }
}

/// Which builds of one job a listing returns, and in which order.
///
/// "Newest first" means by `BuildPosition` descending; "oldest first" means ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildListing {
    /// Succeeded builds of the job (from the builds table), newest first, starting at
    /// `at_or_below` when given.
    SucceededNewestFirst {
        /// The newest position the listing may return, inclusive.
        at_or_below: Option<BuildPosition>,
    },
    /// Succeeded builds of the job (from the builds table) strictly above `above`, oldest
    /// first.
    SucceededOldestFirst {
        /// The listing returns only positions strictly greater than this one.
        above: BuildPosition,
    },
    /// The job's successful-build-outputs rows whose lists contain `constraints`, newest
    /// first by the row's own `rerun_of`, starting at `at_or_below` when given. The rows are
    /// read as stored: no status filter.
    OutputsContainingNewestFirst {
        /// Versions every returned row must contain; empty matches every row.
        constraints: OutputConstraints,
        /// The newest position the listing may return, inclusive.
        at_or_below: Option<BuildPosition>,
    },
}

/// The read-only data input resolution needs, one narrow query per method.
///
/// Implementations must answer consistently for the duration of one resolution. All
/// orderings are total, so that resolution is deterministic.
pub trait VersionsView {
    /// A failure to read the underlying data (never a resolution outcome).
    type Error: std::error::Error + Send + Sync + 'static;

    /// How many builds one call to `list_builds` returns at most. Listings are read page by
    /// page; the page size never changes a resolution's result, except in how legacy (v6)
    /// migration interleaves with reading.
    fn page_size(&self) -> usize;

    /// The newest version of `resource`'s scope that is not disabled for `resource`, limited
    /// to check orders `<= at_most` when given. `None` when the resource has no scope or no
    /// such version exists. Index: (scope, check_order).
    fn latest_enabled_version(
        &self,
        resource: ResourceId,
        at_most: Option<CheckOrder>,
    ) -> Result<Option<Version>, Self::Error>;

    /// Up to `limit` versions of `resource`'s scope with check order `> after` that are not
    /// disabled for `resource`, oldest first. Index: (scope, check_order).
    fn enabled_versions_after(
        &self,
        resource: ResourceId,
        after: CheckOrder,
        limit: usize,
    ) -> Result<Vec<Version>, Self::Error>;

    /// A version of `resource`'s scope whose document contains every field of `pin`,
    /// disabled or not. When several match, any one may be returned, but always the same
    /// one. `None` when nothing matches or the resource has no scope.
    fn version_containing(
        &self,
        resource: ResourceId,
        pin: &PinnedVersion,
    ) -> Result<Option<Version>, Self::Error>;

    /// Whether `digest` is a version of `resource`'s scope. False when the resource has no
    /// scope. Index: (scope, digest), unique.
    fn version_exists(
        &self,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, Self::Error>;

    /// Whether `digest` is disabled for `resource`. Disabling belongs to the resource, not to
    /// the scope. Index: (resource, digest).
    fn is_disabled(
        &self,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, Self::Error>;

    /// Among the input records of `resource` in builds of `job` (any status, reruns
    /// included, any input name) whose digest is a version of the resource's scope, the
    /// newest version by check order and one build that consumed it. When several builds
    /// consumed it, the choice is the implementation's, but must be stable. Index:
    /// build inputs by (job, resource).
    fn newest_consumed_version(
        &self,
        job: JobId,
        resource: ResourceId,
    ) -> Result<Option<ConsumedVersion>, Self::Error>;

    /// The builds whose outputs `build` used through a passed constraint (build pipes into
    /// `build`), with their jobs. Index: build pipes by to_build.
    fn upstream_builds(&self, build: BuildId) -> Result<Vec<UpstreamBuild>, Self::Error>;

    /// Whether some build of `job` (any status, reruns included) has an input record named
    /// `name` for `digest` of `resource`. Index: build inputs by (job, name, resource,
    /// digest).
    fn has_consumed_as(
        &self,
        job: JobId,
        name: &InputName,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, Self::Error>;

    /// The successful-build-outputs row of `build`, flattened and sorted by resource id; the
    /// stored order is kept within one resource (outputs before inputs). Empty when the build
    /// has no row. A view holding legacy (pre-6.0) builds creates the missing row here.
    fn successful_build_outputs(&self, build: BuildId) -> Result<Arc<[OutputEntry]>, Self::Error>;

    /// One page of a listing of `job`'s builds: up to `page_size()` builds, continuing
    /// strictly after `after` in the listing's order when given. A view holding legacy
    /// builds migrates the next batch when a page of a successful-build-outputs listing comes
    /// back empty, and asks again.
    fn list_builds(
        &self,
        job: JobId,
        listing: &BuildListing,
        after: Option<BuildPosition>,
    ) -> Result<Vec<BuildRef>, Self::Error>;
}

/// The newest version a job has consumed of a resource, and the build that consumed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedVersion {
    /// The check order of the consumed version.
    pub check_order: CheckOrder,
    /// A build of the job that consumed it.
    pub build: BuildId,
}

/// A build that fed another build through a passed constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpstreamBuild {
    /// The upstream build's job.
    pub job: JobId,
    /// The upstream build.
    pub build: BuildRef,
}
