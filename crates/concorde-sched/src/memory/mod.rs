//! `MemoryView`: a `VersionsView` over data held in memory, with an index behind every query.
//!
//! Tests, benchmarks and `concorde debug resolve-inputs` use it. It also reproduces
//! Concourse's lazy v6 migration of legacy builds, which is why the successful-build-outputs
//! table sits behind a `RefCell`: the view is read-only to the resolver, but reading a legacy
//! build's outputs writes its row, as the database does.

mod builder;
mod outputs;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use builder::MemoryViewBuilder;
use outputs::{SuccessfulOutputs, SuccessfulOutputsRow};

use crate::ids::{
    BuildId, BuildPosition, BuildRef, CheckOrder, InputName, JobId, OutputEntry, PinnedVersion,
    ResourceId, ScopeId, Version, VersionDigest, VersionFields,
};
use crate::view::{BuildListing, ConsumedVersion, UpstreamBuild, VersionsView};

/// Why a `MemoryView` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum MemoryViewError {
    /// A legacy build had to be migrated but has neither input nor output records.
    #[error("build {0} needs migration but has no input or output records")]
    BuildWithoutRecords(BuildId),
}

/// A pipeline's version history in memory.
#[derive(Debug)]
pub struct MemoryView {
    page_size: usize,
    resources: HashMap<ResourceId, Option<ScopeId>>,
    scopes: HashMap<ScopeId, ScopeVersions>,
    disabled: HashSet<(ResourceId, VersionDigest)>,
    builds: HashMap<BuildId, StoredBuild>,
    /// Per job, its succeeded builds sorted by position (oldest first).
    succeeded_by_job: HashMap<JobId, Vec<BuildRef>>,
    newest_consumed: HashMap<(JobId, ResourceId), ConsumedVersion>,
    consumed_as: HashSet<(JobId, InputName, ResourceId, VersionDigest)>,
    /// Per build, the pipes into it, sorted by from-build id.
    pipes_into: HashMap<BuildId, Vec<UpstreamBuild>>,
    /// Input and output records, kept for migrating legacy builds.
    records: HashMap<BuildId, BuildRecords>,
    outputs: RefCell<SuccessfulOutputs>,
}

#[derive(Debug)]
struct ScopeVersions {
    /// Sorted by check order, oldest first.
    by_check_order: Vec<StoredVersion>,
    /// Digest to index in `by_check_order`.
    by_digest: HashMap<VersionDigest, usize>,
}

#[derive(Clone, Debug)]
struct StoredVersion {
    digest: VersionDigest,
    check_order: CheckOrder,
    fields: VersionFields,
}

#[derive(Clone, Debug)]
struct StoredBuild {
    job: JobId,
    succeeded: bool,
    rerun_of: Option<BuildId>,
    needs_migration: bool,
}

#[derive(Clone, Debug, Default)]
struct BuildRecords {
    outputs: Vec<OutputEntry>,
    inputs: Vec<OutputEntry>,
}

impl MemoryView {
    /// Starts an empty view.
    pub fn builder() -> MemoryViewBuilder {
        MemoryViewBuilder::default()
    }

    /// The successful-build-outputs table as it stands (after any lazy migration).
    pub fn successful_build_outputs_table(
        &self,
    ) -> BTreeMap<BuildId, BTreeMap<ResourceId, Vec<VersionDigest>>> {
        self.outputs.borrow().table()
    }

    /// Migrates every succeeded legacy build now rather than lazily. Concourse's semantics
    /// allow this for histories where no listing skips a late-migrated build, such as the
    /// regression dumps.
    pub fn migrate_succeeded_builds(&self) -> Result<(), MemoryViewError> {
        let mut pending: Vec<BuildId> = self
            .builds
            .iter()
            .filter(|(_, build)| build.succeeded && build.needs_migration)
            .map(|(&id, _)| id)
            .collect();
        pending.sort();
        for build in pending {
            if self.outputs.borrow().needs_migration(build) {
                self.migrate(build, false)?;
            }
        }
        Ok(())
    }

    fn scope_versions(&self, resource: ResourceId) -> Option<&ScopeVersions> {
        let scope = (*self.resources.get(&resource)?)?;
        self.scopes.get(&scope)
    }

    fn scope_version(
        &self,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Option<&StoredVersion> {
        let versions = self.scope_versions(resource)?;
        versions
            .by_digest
            .get(digest)
            .map(|&index| &versions.by_check_order[index])
    }

    fn enabled(&self, resource: ResourceId, version: &StoredVersion) -> bool {
        self.disabled.is_empty() || !self.disabled.contains(&(resource, version.digest.clone()))
    }

    /// Creates the row of a legacy build from its records (outputs, then inputs) and marks
    /// it migrated. `require_records`: a build read directly must have records.
    fn migrate(&self, build: BuildId, require_records: bool) -> Result<(), MemoryViewError> {
        let Some(stored) = self.builds.get(&build) else {
            return Ok(());
        };
        let records = self.records.get(&build);
        let row = match records {
            Some(records) if !records.outputs.is_empty() || !records.inputs.is_empty() => {
                let entries = records
                    .outputs
                    .iter()
                    .chain(&records.inputs)
                    .cloned()
                    .collect();
                Some(SuccessfulOutputsRow::new(
                    stored.job,
                    stored.rerun_of,
                    entries,
                ))
            }
            _ if require_records => return Err(MemoryViewError::BuildWithoutRecords(build)),
            _ => None,
        };
        self.outputs
            .borrow_mut()
            .complete_migration(build, stored.job, row);
        Ok(())
    }

    /// Migrates the next batch of `job`'s legacy builds; false when there was none.
    fn migrate_next_batch(&self, job: JobId) -> Result<bool, MemoryViewError> {
        let batch = self.outputs.borrow().migration_batch(job, self.page_size);
        for build in &batch {
            self.migrate(build.id, false)?;
        }
        Ok(!batch.is_empty())
    }

    fn list_succeeded(
        &self,
        job: JobId,
        listing: &BuildListing,
        after: Option<BuildPosition>,
    ) -> Vec<BuildRef> {
        let Some(builds) = self.succeeded_by_job.get(&job) else {
            return Vec::new();
        };
        match listing {
            BuildListing::SucceededOldestFirst { above } => {
                let lower = after.map_or(*above, |after| after.max(*above));
                let start = builds.partition_point(|build| build.position() <= lower);
                builds[start..]
                    .iter()
                    .take(self.page_size)
                    .copied()
                    .collect()
            }
            _ => {
                let at_or_below = listing_upper_bound(listing);
                let end = builds.partition_point(|build| {
                    at_or_below.is_none_or(|upper| build.position() <= upper)
                        && after.is_none_or(|after| build.position() < after)
                });
                builds[..end]
                    .iter()
                    .rev()
                    .take(self.page_size)
                    .copied()
                    .collect()
            }
        }
    }
}

fn listing_upper_bound(listing: &BuildListing) -> Option<BuildPosition> {
    match listing {
        BuildListing::SucceededNewestFirst { at_or_below }
        | BuildListing::OutputsContainingNewestFirst { at_or_below, .. } => *at_or_below,
        BuildListing::SucceededOldestFirst { .. } => None,
    }
}

impl VersionsView for MemoryView {
    type Error = MemoryViewError;

    fn page_size(&self) -> usize {
        self.page_size
    }

    fn latest_enabled_version(
        &self,
        resource: ResourceId,
        at_most: Option<CheckOrder>,
    ) -> Result<Option<Version>, MemoryViewError> {
        let Some(versions) = self.scope_versions(resource) else {
            return Ok(None);
        };
        let list = &versions.by_check_order;
        let end = at_most.map_or(list.len(), |at_most| {
            list.partition_point(|v| v.check_order <= at_most)
        });
        Ok(list[..end]
            .iter()
            .rev()
            .find(|version| self.enabled(resource, version))
            .map(|version| Version {
                digest: version.digest.clone(),
                check_order: version.check_order,
            }))
    }

    fn enabled_versions_after(
        &self,
        resource: ResourceId,
        after: CheckOrder,
        limit: usize,
    ) -> Result<Vec<Version>, MemoryViewError> {
        let Some(versions) = self.scope_versions(resource) else {
            return Ok(Vec::new());
        };
        let list = &versions.by_check_order;
        let start = list.partition_point(|version| version.check_order <= after);
        Ok(list[start..]
            .iter()
            .filter(|version| self.enabled(resource, version))
            .take(limit)
            .map(|version| Version {
                digest: version.digest.clone(),
                check_order: version.check_order,
            })
            .collect())
    }

    fn version_containing(
        &self,
        resource: ResourceId,
        pin: &PinnedVersion,
    ) -> Result<Option<Version>, MemoryViewError> {
        let Some(versions) = self.scope_versions(resource) else {
            return Ok(None);
        };
        // Several matches are possible with extra fields; the newest is our stable choice.
        Ok(versions
            .by_check_order
            .iter()
            .rev()
            .find(|version| pin.is_contained_in(&version.fields))
            .map(|version| Version {
                digest: version.digest.clone(),
                check_order: version.check_order,
            }))
    }

    fn version_exists(
        &self,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, MemoryViewError> {
        Ok(self.scope_version(resource, digest).is_some())
    }

    fn is_disabled(
        &self,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, MemoryViewError> {
        Ok(!self.disabled.is_empty() && self.disabled.contains(&(resource, digest.clone())))
    }

    fn newest_consumed_version(
        &self,
        job: JobId,
        resource: ResourceId,
    ) -> Result<Option<ConsumedVersion>, MemoryViewError> {
        Ok(self.newest_consumed.get(&(job, resource)).cloned())
    }

    fn upstream_builds(&self, build: BuildId) -> Result<Vec<UpstreamBuild>, MemoryViewError> {
        Ok(self.pipes_into.get(&build).cloned().unwrap_or_default())
    }

    fn has_consumed_as(
        &self,
        job: JobId,
        name: &InputName,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> Result<bool, MemoryViewError> {
        Ok(self
            .consumed_as
            .contains(&(job, name.clone(), resource, digest.clone())))
    }

    fn successful_build_outputs(
        &self,
        build: BuildId,
    ) -> Result<Arc<[OutputEntry]>, MemoryViewError> {
        if let Some(row) = self.outputs.borrow().row(build) {
            return Ok(row.entries.clone());
        }
        if !self.outputs.borrow().needs_migration(build) {
            return Ok(Arc::from(Vec::new()));
        }
        self.migrate(build, true)?;
        Ok(self
            .outputs
            .borrow()
            .row(build)
            .map(|row| row.entries.clone())
            .unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn list_builds(
        &self,
        job: JobId,
        listing: &BuildListing,
        after: Option<BuildPosition>,
    ) -> Result<Vec<BuildRef>, MemoryViewError> {
        loop {
            let page = match listing {
                BuildListing::OutputsContainingNewestFirst {
                    constraints,
                    at_or_below,
                } => {
                    let upper = match (*at_or_below, after) {
                        (Some(bound), Some(after)) if after <= bound => Some(after),
                        (Some(bound), _) => Some(bound),
                        (None, after) => after,
                    };
                    let outputs = self.outputs.borrow();
                    let mut page =
                        outputs.list_containing(job, constraints, upper, self.page_size + 1);
                    // `upper` is inclusive; a page continuing after a row must skip that row.
                    if let Some(after) = after {
                        page.retain(|build| build.position() < after);
                    }
                    page.truncate(self.page_size);
                    page
                }
                _ => self.list_succeeded(job, listing, after),
            };
            // Only listings of the successful-build-outputs table can grow by migrating;
            // the builds table already lists every build.
            let reads_outputs =
                matches!(listing, BuildListing::OutputsContainingNewestFirst { .. });
            if !page.is_empty() || !reads_outputs || !self.migrate_next_batch(job)? {
                return Ok(page);
            }
        }
    }
}
