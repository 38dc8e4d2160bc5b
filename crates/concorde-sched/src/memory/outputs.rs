//! The successful-build-outputs table of a `MemoryView`, with its listing indexes and the lazy
//! migration bookkeeping for legacy (pre-6.0) builds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::StoredBuild;
use crate::ids::{BuildId, BuildRef, JobId, OutputEntry, ResourceId, VersionDigest};
use crate::view::OutputConstraints;

/// One row: which versions a build vouches for.
#[derive(Clone, Debug)]
pub(crate) struct SuccessfulOutputsRow {
    pub(crate) job: JobId,
    pub(crate) rerun_of: Option<BuildId>,
    /// Sorted by resource id, stored order kept within a resource.
    pub(crate) entries: Arc<[OutputEntry]>,
}

impl SuccessfulOutputsRow {
    pub(crate) fn new(
        job: JobId,
        rerun_of: Option<BuildId>,
        mut entries: Vec<OutputEntry>,
    ) -> SuccessfulOutputsRow {
        // A stable sort keeps the stored order within one resource.
        entries.sort_by_key(|entry| entry.resource);
        SuccessfulOutputsRow {
            job,
            rerun_of,
            entries: entries.into(),
        }
    }
}

/// The table and its indexes.
#[derive(Debug, Default)]
pub(crate) struct SuccessfulOutputs {
    rows: HashMap<BuildId, SuccessfulOutputsRow>,
    /// Per job, every row's build, sorted by position (oldest first).
    by_job: HashMap<JobId, Vec<BuildRef>>,
    /// Per (job, resource, digest), the rows containing it, sorted by position.
    postings: HashMap<(JobId, ResourceId, VersionDigest), Vec<BuildRef>>,
    /// Legacy builds that have no row yet and have not been migrated.
    unmigrated: HashSet<BuildId>,
    /// Per job, its succeeded unmigrated builds, sorted by position.
    unmigrated_succeeded: HashMap<JobId, Vec<BuildRef>>,
}

impl SuccessfulOutputs {
    pub(crate) fn has_row(&self, build: BuildId) -> bool {
        self.rows.contains_key(&build)
    }

    pub(crate) fn row(&self, build: BuildId) -> Option<&SuccessfulOutputsRow> {
        self.rows.get(&build)
    }

    pub(crate) fn needs_migration(&self, build: BuildId) -> bool {
        self.unmigrated.contains(&build)
    }

    /// Stores a row and indexes it.
    pub(crate) fn insert(&mut self, build: BuildId, row: SuccessfulOutputsRow) {
        let build_ref = BuildRef {
            id: build,
            rerun_of: row.rerun_of,
        };
        insert_sorted(self.by_job.entry(row.job).or_default(), build_ref);
        let mut seen: Vec<(ResourceId, &VersionDigest)> = Vec::new();
        for entry in row.entries.iter() {
            if seen.contains(&(entry.resource, &entry.digest)) {
                continue;
            }
            seen.push((entry.resource, &entry.digest));
            let key = (row.job, entry.resource, entry.digest.clone());
            insert_sorted(self.postings.entry(key).or_default(), build_ref);
        }
        self.rows.insert(build, row);
    }

    /// Notes a legacy build whose row will be created lazily.
    pub(crate) fn await_migration(&mut self, build: BuildId, stored: &StoredBuild) {
        self.unmigrated.insert(build);
        if stored.succeeded {
            let build_ref = BuildRef {
                id: build,
                rerun_of: stored.rerun_of,
            };
            insert_sorted(
                self.unmigrated_succeeded.entry(stored.job).or_default(),
                build_ref,
            );
        }
    }

    /// Marks `build` migrated, storing `row` when the build had records.
    pub(crate) fn complete_migration(
        &mut self,
        build: BuildId,
        job: JobId,
        row: Option<SuccessfulOutputsRow>,
    ) {
        self.unmigrated.remove(&build);
        if let Some(pending) = self.unmigrated_succeeded.get_mut(&job) {
            pending.retain(|pending_build| pending_build.id != build);
        }
        if let Some(row) = row {
            self.insert(build, row);
        }
    }

    /// The next migration batch of `job`: up to `limit` succeeded unmigrated builds, newest
    /// first.
    pub(crate) fn migration_batch(&self, job: JobId, limit: usize) -> Vec<BuildRef> {
        self.unmigrated_succeeded
            .get(&job)
            .map(|pending| pending.iter().rev().take(limit).copied().collect())
            .unwrap_or_default()
    }

    /// Up to `limit` rows of `job` containing `constraints`, newest first, at or below
    /// `bound` (inclusive) and strictly below `after`.
    pub(crate) fn list_containing(
        &self,
        job: JobId,
        constraints: &OutputConstraints,
        upper: Option<crate::ids::BuildPosition>,
        limit: usize,
    ) -> Vec<BuildRef> {
        // Walk the shortest posting list among the constrained digests and check the rest
        // against each row.
        let mut shortest = self.by_job.get(&job);
        for (resource, digests) in &constraints.0 {
            for digest in digests {
                let posting = self.postings.get(&(job, *resource, digest.clone()));
                match posting {
                    None => return Vec::new(),
                    Some(posting) if shortest.is_none_or(|s| posting.len() < s.len()) => {
                        shortest = Some(posting);
                    }
                    Some(_) => {}
                }
            }
        }
        let Some(candidates) = shortest else {
            return Vec::new();
        };
        let end = match upper {
            Some(upper) => candidates.partition_point(|build| build.position() <= upper),
            None => candidates.len(),
        };
        let mut page = Vec::new();
        for build in candidates[..end].iter().rev() {
            if page.len() >= limit {
                break;
            }
            let contains = constraints.0.is_empty()
                || self
                    .rows
                    .get(&build.id)
                    .is_some_and(|row| constraints.are_contained_in(&row.entries));
            if contains {
                page.push(*build);
            }
        }
        page
    }

    /// The whole table: build to resource to digests, in stored order within a resource.
    pub(crate) fn table(&self) -> BTreeMap<BuildId, BTreeMap<ResourceId, Vec<VersionDigest>>> {
        let mut table = BTreeMap::new();
        for (&build, row) in &self.rows {
            let mut by_resource: BTreeMap<ResourceId, Vec<VersionDigest>> = BTreeMap::new();
            for entry in row.entries.iter() {
                by_resource
                    .entry(entry.resource)
                    .or_default()
                    .push(entry.digest.clone());
            }
            table.insert(build, by_resource);
        }
        table
    }
}

fn insert_sorted(list: &mut Vec<BuildRef>, build: BuildRef) {
    let index = list.partition_point(|existing| existing.position() < build.position());
    if list.get(index) != Some(&build) {
        list.insert(index, build);
    }
}
