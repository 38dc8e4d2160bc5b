//! Finding what a route names (team, pipeline with instance vars, job, resource, version,
//! build) and applying the route's gate on the way, plus the per-request cache of names that
//! presenting builds needs.

use std::collections::HashMap;
use std::sync::Arc;

use concorde_store::{
    Build, BuildId, Job, JobId, Pipeline, PipelineId, PipelineRef, Resource, ResourceVersion,
    Store, Team, TeamId, VersionId, VersionKey,
};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::present;
use crate::state::ApiState;

/// A pipeline together with its team.
#[derive(Debug, Clone)]
pub struct Scoped {
    /// The owning team.
    pub team: Team,
    /// The pipeline.
    pub pipeline: Pipeline,
}

impl Scoped {
    /// `A`: 409 when the pipeline is archived.
    pub fn reject_archived(&self) -> ApiResult<()> {
        if self.pipeline.archived {
            Err(ApiError::Archived)
        } else {
            Ok(())
        }
    }

    /// The decoded config of the pipeline (decoded once per config version by the store).
    pub fn config(&self, store: &Store) -> ApiResult<Arc<concorde_config::model::Pipeline>> {
        Ok(store.pipeline_model(&self.pipeline)?)
    }
}

/// A team by name, 404 if missing.
pub async fn team(store: &Store, name: &str) -> ApiResult<Team> {
    Ok(store.team_by_name(name).await?)
}

/// A team's pipeline by name and the instance vars of the query, without any gate.
pub async fn pipeline_in(
    store: &Store,
    team: &Team,
    name: &str,
    query: &QueryParams,
) -> ApiResult<Pipeline> {
    let reference = PipelineRef {
        team: team.id,
        name: name.to_owned(),
        instance_vars: query.instance_vars()?,
    };
    Ok(store.pipeline_by_ref(&reference).await?)
}

/// The `pipeline` gate: the pipeline (404 if missing), readable if public or if the caller
/// is at least a viewer of its team.
pub async fn readable_pipeline(
    state: &ApiState,
    caller: &Caller,
    (team_name, pipeline_name): (&str, &str),
    query: &QueryParams,
) -> ApiResult<Scoped> {
    let store = state.store();
    let team = team(store, team_name).await?;
    let pipeline = pipeline_in(store, &team, pipeline_name, query).await?;
    caller.require_pipeline_read(&team.name, pipeline.public)?;
    Ok(Scoped { team, pipeline })
}

/// The `authz` gate at `role`, then the pipeline (404 if missing).
pub async fn authorized_pipeline(
    state: &ApiState,
    caller: &Caller,
    (team_name, pipeline_name): (&str, &str),
    query: &QueryParams,
    role: Role,
) -> ApiResult<Scoped> {
    caller.require_role(team_name, role)?;
    let store = state.store();
    let team = team(store, team_name).await?;
    let pipeline = pipeline_in(store, &team, pipeline_name, query).await?;
    Ok(Scoped { team, pipeline })
}

/// An active job of the pipeline by name.
pub async fn job(store: &Store, scoped: &Scoped, name: &str) -> ApiResult<Job> {
    let job = store.job_by_name(scoped.pipeline.id, name).await?;
    if job.active {
        Ok(job)
    } else {
        Err(ApiError::NotFound("job".into()))
    }
}

/// An active resource of the pipeline by name.
pub async fn resource(store: &Store, scoped: &Scoped, name: &str) -> ApiResult<Resource> {
    store
        .list_resources(scoped.pipeline.id)
        .await?
        .into_iter()
        .find(|resource| resource.name == name)
        .ok_or_else(|| ApiError::NotFound("resource".into()))
}

/// Every version of a resource's current scope, newest first.
pub async fn all_versions(store: &Store, resource: &Resource) -> ApiResult<Vec<ResourceVersion>> {
    match resource.scope_id {
        Some(scope) => Ok(store.list_versions(scope, None, i64::MAX).await?),
        None => Ok(Vec::new()),
    }
}

/// A version of a resource by id, 404 if it is not in the resource's scope.
pub async fn version(store: &Store, resource: &Resource, id: i64) -> ApiResult<ResourceVersion> {
    let found = match resource.scope_id {
        Some(scope) => {
            store
                .find_version(scope, VersionKey::Id(VersionId(id)))
                .await?
        }
        None => None,
    };
    found.ok_or_else(|| ApiError::NotFound("resource version".into()))
}

/// A version of a resource's current scope by digest, if it has it.
pub async fn version_by_digest(
    store: &Store,
    resource: &Resource,
    digest: &str,
) -> ApiResult<Option<ResourceVersion>> {
    match resource.scope_id {
        Some(scope) => Ok(store
            .find_version(scope, VersionKey::Digest(digest))
            .await?),
        None => Ok(None),
    }
}

/// A job's build by name (`5`, `5.1`).
pub async fn job_build(store: &Store, job: &Job, name: &str) -> ApiResult<Build> {
    let mut before = None;
    loop {
        let page = store.list_job_builds(job.id, before, 500).await?;
        if let Some(build) = page.iter().find(|build| build.name == name) {
            return Ok(build.clone());
        }
        match page.last() {
            Some(last) => before = Some(last.id),
            None => return Err(ApiError::NotFound("build".into())),
        }
    }
}

/// Every build of the given jobs, newest first.
pub async fn builds_of_jobs(store: &Store, jobs: &[JobId]) -> ApiResult<Vec<Build>> {
    let mut builds = Vec::new();
    for job in jobs {
        builds.extend(store.list_job_builds(*job, None, i64::MAX).await?);
    }
    builds.sort_by_key(|build| std::cmp::Reverse(build.id));
    Ok(builds)
}

/// Names needed to present builds, loaded once per request.
#[derive(Debug, Default)]
pub struct Names {
    teams: HashMap<TeamId, String>,
    pipelines: HashMap<PipelineId, Pipeline>,
    jobs: HashMap<JobId, String>,
}

impl Names {
    /// Loads the team names.
    pub async fn load(store: &Store) -> ApiResult<Names> {
        let teams = store
            .list_teams()
            .await?
            .into_iter()
            .map(|team| (team.id, team.name))
            .collect();
        Ok(Names {
            teams,
            ..Names::default()
        })
    }

    /// A team's name.
    pub fn team(&self, id: TeamId) -> String {
        self.teams.get(&id).cloned().unwrap_or_default()
    }

    /// A pipeline, cached.
    pub async fn pipeline(&mut self, store: &Store, id: PipelineId) -> ApiResult<&Pipeline> {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.pipelines.entry(id) {
            entry.insert(store.pipeline(id).await?);
        }
        self.pipelines
            .get(&id)
            .ok_or_else(|| ApiError::NotFound("pipeline".into()))
    }

    /// A job's name, cached.
    pub async fn job(&mut self, store: &Store, id: JobId) -> ApiResult<String> {
        if let Some(name) = self.jobs.get(&id) {
            return Ok(name.clone());
        }
        let name = store.job(id).await?.name;
        self.jobs.insert(id, name.clone());
        Ok(name)
    }

    /// The wire form of a build.
    pub async fn build(
        &mut self,
        store: &Store,
        build: &Build,
    ) -> ApiResult<concorde_proto::Build> {
        let team_name = self.team(build.team_id);
        let job_name = match build.job_id {
            Some(job) => Some(self.job(store, job).await?),
            None => None,
        };
        let pipeline = match build.pipeline_id {
            Some(id) => Some(self.pipeline(store, id).await?.clone()),
            None => None,
        };
        let rerun_of = match build.rerun_of {
            Some(original) => Some(concorde_proto::RerunOf {
                id: original,
                name: store.build(original).await?.name,
            }),
            None => None,
        };
        let resource_name = match build.resource_id {
            Some(resource) => Some(store.resource(resource).await?.name),
            None => None,
        };
        let mut presented = present::build(build, team_name, job_name, pipeline.as_ref(), rerun_of);
        presented.resource_name = resource_name;
        Ok(presented)
    }

    /// The wire form of several builds.
    pub async fn builds(
        &mut self,
        store: &Store,
        builds: &[Build],
    ) -> ApiResult<Vec<concorde_proto::Build>> {
        let mut out = Vec::with_capacity(builds.len());
        for build in builds {
            out.push(self.build(store, build).await?);
        }
        Ok(out)
    }
}

/// A build by id, 404 if missing.
pub async fn build(store: &Store, id: i64) -> ApiResult<Build> {
    Ok(store.build(BuildId(id)).await?)
}

/// Every pipeline the caller may see (its teams' and public ones), in team and display order.
pub async fn visible_pipelines(
    store: &Store,
    caller: &Caller,
    teams: Vec<Team>,
) -> ApiResult<Vec<Scoped>> {
    let mut out = Vec::new();
    for team in teams {
        let authorized = caller.can_view(&team.name);
        for pipeline in store.list_pipelines(team.id).await? {
            if authorized || pipeline.public {
                out.push(Scoped {
                    team: team.clone(),
                    pipeline,
                });
            }
        }
    }
    Ok(out)
}
