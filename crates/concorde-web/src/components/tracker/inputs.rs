//! Fixing a build's inputs when it starts: a rerun reuses its original's, any other build
//! takes the job's latest resolved next inputs (so inputs are chosen as late as possible).

use concorde_config::model::VersionMap;
use concorde_store::{
    Build, BuildId, Job, RecordedVersion, ResourceId, ScopeId, Store, VersionKey,
};

/// One input of a starting build.
#[derive(Debug, Clone)]
pub struct ChosenInput {
    /// The input (get step) name.
    pub name: String,
    /// The resource.
    pub resource: ResourceId,
    /// The version's digest.
    pub digest: String,
    /// The version itself.
    pub version: VersionMap,
    /// Upstream builds that vouched for it.
    pub passed_build_ids: Vec<BuildId>,
}

/// The build's inputs, or `None` when they are not known yet (some input unresolved).
pub async fn determine(
    store: &Store,
    build: &Build,
    job: &Job,
) -> anyhow::Result<Option<Vec<ChosenInput>>> {
    let recorded: Vec<(RecordedVersion, Vec<BuildId>)> = if let Some(original) = build.rerun_of {
        let pipes = store.build_pipes(original).await?;
        store
            .build_versions(original, false)
            .await?
            .into_iter()
            .map(|input| (input, pipes.clone()))
            .collect()
    } else {
        let mut chosen = Vec::new();
        for next in store.next_build_inputs(job.id).await? {
            match (next.resource_id, next.version_digest, next.resolve_error) {
                (Some(resource_id), Some(digest), None) => chosen.push((
                    RecordedVersion {
                        name: next.input_name,
                        resource_id,
                        version_digest: digest,
                    },
                    next.passed_build_ids,
                )),
                _ => return Ok(None),
            }
        }
        chosen
    };
    let mut inputs = Vec::with_capacity(recorded.len());
    for (input, passed_build_ids) in recorded {
        let resource = store.resource(input.resource_id).await?;
        let Some(scope) = resource.scope_id else {
            return Ok(None);
        };
        let Some(version) = find_version(store, scope, &input.version_digest).await? else {
            return Ok(None);
        };
        inputs.push(ChosenInput {
            name: input.name,
            resource: input.resource_id,
            digest: input.version_digest,
            version,
            passed_build_ids,
        });
    }
    Ok(Some(inputs))
}

/// The version with `digest` in `scope`.
async fn find_version(
    store: &Store,
    scope: ScopeId,
    digest: &str,
) -> anyhow::Result<Option<VersionMap>> {
    match store
        .find_version(scope, VersionKey::Digest(digest))
        .await?
    {
        Some(found) => Ok(Some(found.version)),
        None => Ok(None),
    }
}
