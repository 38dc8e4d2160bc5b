//! Filling a `MemoryView`: rows go in one by one, indexes are built once at the end.

use std::collections::{HashMap, HashSet};

use super::outputs::{SuccessfulOutputs, SuccessfulOutputsRow};
use super::{BuildRecords, MemoryView, ScopeVersions, StoredBuild, StoredVersion};
use crate::ids::{
    BuildId, BuildRef, CheckOrder, InputName, JobId, OutputEntry, ResourceId, ScopeId,
    VersionDigest, VersionFields,
};
use crate::view::{ConsumedVersion, UpstreamBuild};

/// Collects the rows of a `MemoryView`. Digests are interned so that equal digests share one
/// allocation.
#[derive(Debug, Default)]
pub struct MemoryViewBuilder {
    page_size: Option<usize>,
    digests: HashMap<Box<str>, VersionDigest>,
    resources: HashMap<ResourceId, Option<ScopeId>>,
    versions: HashMap<ScopeId, Vec<StoredVersion>>,
    version_keys: HashSet<(ScopeId, VersionDigest)>,
    disabled: HashSet<(ResourceId, VersionDigest)>,
    builds: HashMap<BuildId, StoredBuild>,
    records: HashMap<BuildId, BuildRecords>,
    input_names: Vec<(BuildId, InputName, ResourceId, VersionDigest)>,
    outputs_rows: Vec<(BuildId, SuccessfulOutputsRow)>,
    pipes: Vec<(BuildId, BuildId)>,
}

impl MemoryViewBuilder {
    /// Sets how many builds one listing page holds (default 100, as in Concourse).
    pub fn page_size(&mut self, page_size: usize) -> &mut Self {
        self.page_size = Some(page_size.max(1));
        self
    }

    /// The interned digest for `digest`.
    pub fn digest(&mut self, digest: &str) -> VersionDigest {
        if let Some(interned) = self.digests.get(digest) {
            return interned.clone();
        }
        let interned = VersionDigest::new(digest);
        self.digests.insert(Box::from(digest), interned.clone());
        interned
    }

    /// Declares a resource and the scope whose versions it reads (`None`: no versions).
    pub fn resource(&mut self, resource: ResourceId, scope: Option<ScopeId>) -> &mut Self {
        self.resources.insert(resource, scope);
        self
    }

    /// Adds a version to `scope`. A second version with the same digest is ignored, as
    /// Concourse's "on conflict do nothing" does.
    pub fn version(
        &mut self,
        scope: ScopeId,
        digest: &str,
        check_order: CheckOrder,
        fields: VersionFields,
    ) -> &mut Self {
        let digest = self.digest(digest);
        if self.version_keys.insert((scope, digest.clone())) {
            let versions = self.versions.entry(scope).or_default();
            versions.push(StoredVersion {
                digest,
                check_order,
                fields,
            });
        }
        self
    }

    /// Disables `digest` for `resource`.
    pub fn disable(&mut self, resource: ResourceId, digest: &str) -> &mut Self {
        let digest = self.digest(digest);
        self.disabled.insert((resource, digest));
        self
    }

    /// Adds a build. Only succeeded builds of passed jobs vouch for versions; any other status
    /// (failed, errored, aborted, pending, started) is `succeeded: false`. `needs_migration` marks a pre-6.0 build whose successful-build-outputs
    /// row is created lazily from its records.
    pub fn build(
        &mut self,
        build: BuildRef,
        job: JobId,
        succeeded: bool,
        needs_migration: bool,
    ) -> &mut Self {
        self.builds.insert(
            build.id,
            StoredBuild {
                job,
                succeeded,
                rerun_of: build.rerun_of,
                needs_migration,
            },
        );
        self
    }

    /// Records that `build` produced `digest` of `resource`.
    pub fn output(&mut self, build: BuildId, resource: ResourceId, digest: &str) -> &mut Self {
        let digest = self.digest(digest);
        self.records
            .entry(build)
            .or_default()
            .outputs
            .push(OutputEntry { resource, digest });
        self
    }

    /// Records that `build` consumed `digest` of `resource` under the input name `name`.
    pub fn input(
        &mut self,
        build: BuildId,
        resource: ResourceId,
        digest: &str,
        name: InputName,
    ) -> &mut Self {
        let digest = self.digest(digest);
        self.records
            .entry(build)
            .or_default()
            .inputs
            .push(OutputEntry {
                resource,
                digest: digest.clone(),
            });
        self.input_names.push((build, name, resource, digest));
        self
    }

    /// Stores the successful-build-outputs row of `build`, as given (whatever its status).
    /// `entries` is in stored order: per resource, outputs before inputs.
    pub fn successful_build_outputs(
        &mut self,
        build: BuildRef,
        job: JobId,
        entries: Vec<OutputEntry>,
    ) -> &mut Self {
        self.outputs_rows.push((
            build.id,
            SuccessfulOutputsRow::new(job, build.rerun_of, entries),
        ));
        self
    }

    /// Records that `to` used the outputs of `from` through a passed constraint.
    pub fn pipe(&mut self, from: BuildId, to: BuildId) -> &mut Self {
        if !self.pipes.contains(&(from, to)) {
            self.pipes.push((from, to));
        }
        self
    }

    /// Builds the indexes.
    pub fn finish(self) -> MemoryView {
        let mut scopes = HashMap::new();
        for (scope, mut versions) in self.versions {
            versions.sort_by_key(|version| version.check_order);
            let by_digest = versions
                .iter()
                .enumerate()
                .map(|(index, v)| (v.digest.clone(), index))
                .collect();
            scopes.insert(
                scope,
                ScopeVersions {
                    by_check_order: versions,
                    by_digest,
                },
            );
        }
        let mut succeeded_by_job: HashMap<JobId, Vec<BuildRef>> = HashMap::new();
        for (&id, build) in &self.builds {
            if build.succeeded {
                let build_ref = BuildRef {
                    id,
                    rerun_of: build.rerun_of,
                };
                succeeded_by_job
                    .entry(build.job)
                    .or_default()
                    .push(build_ref);
            }
        }
        for list in succeeded_by_job.values_mut() {
            list.sort_by_key(BuildRef::position);
        }
        let mut view = MemoryView {
            page_size: self.page_size.unwrap_or(100),
            resources: self.resources,
            scopes,
            disabled: self.disabled,
            builds: self.builds,
            succeeded_by_job,
            newest_consumed: HashMap::new(),
            consumed_as: HashSet::new(),
            pipes_into: HashMap::new(),
            records: self.records,
            outputs: Default::default(),
        };
        for (build, name, resource, digest) in self.input_names {
            let Some(job) = view.builds.get(&build).map(|stored| stored.job) else {
                continue;
            };
            if let Some(version) = view.scope_version(resource, &digest) {
                let candidate = ConsumedVersion {
                    check_order: version.check_order,
                    build,
                };
                let newest = view
                    .newest_consumed
                    .entry((job, resource))
                    .or_insert(candidate.clone());
                if (candidate.check_order, candidate.build) > (newest.check_order, newest.build) {
                    *newest = candidate;
                }
            }
            view.consumed_as.insert((job, name, resource, digest));
        }
        let mut pipes = self.pipes;
        pipes.sort();
        for (from, to) in pipes {
            let Some(from_build) = view.builds.get(&from) else {
                continue;
            };
            let upstream = UpstreamBuild {
                job: from_build.job,
                build: BuildRef {
                    id: from,
                    rerun_of: from_build.rerun_of,
                },
            };
            view.pipes_into.entry(to).or_default().push(upstream);
        }
        let mut outputs = SuccessfulOutputs::default();
        for (build, row) in self.outputs_rows {
            outputs.insert(build, row);
        }
        for (&id, build) in &view.builds {
            if build.needs_migration && !outputs.has_row(id) {
                outputs.await_migration(id, build);
            }
        }
        view.outputs = std::cell::RefCell::new(outputs);
        view
    }
}
