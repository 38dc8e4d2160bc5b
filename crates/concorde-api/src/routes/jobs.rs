//! Job routes: listing and reading jobs, manual triggers, reruns, next inputs, pausing and
//! schedule requests.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use concorde_config::model;
use concorde_proto::{self as proto, BuildInput, JobSummaryInput};
use concorde_store::{self as store, NewBuild, Store, Timestamp};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, JobBuildPath, JobPath, PipelinePath, QueryParams};
use crate::lookup::{self, Names, Scoped};
use crate::present;
use crate::state::ApiState;

/// The job's config in the decoded pipeline config.
fn job_config<'a>(config: &'a model::Pipeline, name: &str) -> ApiResult<&'a model::Job> {
    config
        .jobs
        .iter()
        .find(|job| job.name == name)
        .ok_or_else(|| ApiError::NotFound("job".into()))
}

async fn build_of(
    store: &Store,
    names: &mut Names,
    id: Option<store::BuildId>,
) -> ApiResult<Option<proto::Build>> {
    match id {
        Some(id) => {
            let build = store.build(id).await?;
            Ok(Some(names.build(store, &build).await?))
        }
        None => Ok(None),
    }
}

async fn has_new_inputs(store: &Store, job: &store::Job) -> ApiResult<bool> {
    Ok(store
        .next_build_inputs(job.id)
        .await?
        .iter()
        .any(|input| input.first_occurrence))
}

async fn summary(
    store: &Store,
    names: &mut Names,
    scoped: &Scoped,
    config: &model::Pipeline,
    job: &store::Job,
) -> ApiResult<proto::JobSummary> {
    let job_config = job_config(config, &job.name)?;
    let finished = build_of(store, names, job.latest_completed_build_id).await?;
    let next = build_of(store, names, job.next_build_id).await?;
    Ok(proto::JobSummary {
        id: job.id,
        name: job.name.clone(),
        team_name: scoped.team.name.clone(),
        pipeline_id: scoped.pipeline.id,
        pipeline_name: scoped.pipeline.name.clone(),
        pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
        paused: job.paused,
        paused_by: None,
        paused_at: None,
        has_new_inputs: has_new_inputs(store, job).await?,
        groups: present::job_groups(config, &job.name),
        finished_build: finished.as_ref().map(present::summary),
        next_build: next.as_ref().map(present::summary),
        transition_build: None,
        inputs: present::job_inputs(job_config)
            .into_iter()
            .map(|input| JobSummaryInput {
                name: input.name,
                resource: input.resource,
                passed: input.passed,
                trigger: input.trigger,
            })
            .collect(),
        outputs: present::job_outputs(job_config),
    })
}

async fn summaries(
    store: &Store,
    names: &mut Names,
    scoped: &Scoped,
) -> ApiResult<Vec<proto::JobSummary>> {
    let config = scoped.config(store)?;
    let mut out = Vec::new();
    for job in store.list_jobs(scoped.pipeline.id).await? {
        out.push(summary(store, names, scoped, &config, &job).await?);
    }
    Ok(out)
}

/// `GET /api/v1/jobs`: the jobs of every pipeline the caller may see.
#[instrument(skip_all)]
pub async fn list_all(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<proto::JobSummary>>> {
    let store = state.store();
    let mut names = Names::load(store).await?;
    let mut out = Vec::new();
    for scoped in lookup::visible_pipelines(store, &caller, store.list_teams().await?).await? {
        out.extend(summaries(store, &mut names, &scoped).await?);
    }
    Ok(Json(out))
}

/// `GET .../pipelines/:pipeline_name/jobs`.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::JobSummary>>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let mut names = Names::load(state.store()).await?;
    Ok(Json(summaries(state.store(), &mut names, &scoped).await?))
}

/// `GET .../jobs/:job_name`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<Json<proto::Job>> {
    let store = state.store();
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let job = lookup::job(store, &scoped, &path.job_name).await?;
    let config = scoped.config(state.store())?;
    let job_config = job_config(&config, &job.name)?;
    let mut names = Names::load(store).await?;
    Ok(Json(proto::Job {
        id: job.id,
        name: job.name.clone(),
        team_name: scoped.team.name.clone(),
        pipeline_id: scoped.pipeline.id,
        pipeline_name: scoped.pipeline.name.clone(),
        pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
        paused: job.paused,
        paused_by: None,
        paused_at: None,
        has_new_inputs: has_new_inputs(store, &job).await?,
        groups: present::job_groups(&config, &job.name),
        first_logged_build_id: None,
        disable_manual_trigger: job_config.disable_manual_trigger,
        disable_reruns: job_config.disable_reruns,
        next_build: build_of(store, &mut names, job.next_build_id).await?,
        finished_build: build_of(store, &mut names, job.latest_completed_build_id).await?,
        inputs: present::job_inputs(job_config),
        outputs: present::job_outputs(job_config),
    }))
}

async fn operable_job(
    state: &ApiState,
    caller: &Caller,
    path: &JobPath,
    query: &QueryParams,
) -> ApiResult<(Scoped, store::Job)> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped =
        lookup::authorized_pipeline(state, caller, pair, query, Role::PipelineOperator).await?;
    let job = lookup::job(state.store(), &scoped, &path.job_name).await?;
    Ok((scoped, job))
}

/// `POST .../jobs/:job_name/builds`: a manual trigger; 200 with the pending build.
#[instrument(skip_all)]
pub async fn trigger(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<Json<proto::Build>> {
    let (scoped, job) = operable_job(&state, &caller, &path, &query).await?;
    scoped.reject_archived()?;
    let config = scoped.config(state.store())?;
    if job_config(&config, &job.name)?.disable_manual_trigger {
        return Err(ApiError::Disabled);
    }
    let store = state.store();
    let new = NewBuild {
        job: job.id,
        manually_triggered: true,
        created_by: caller.user_name().map(str::to_owned),
        now: Timestamp::now(),
    };
    let build = store.create_job_build(&new).await?;
    Ok(Json(Names::load(store).await?.build(store, &build).await?))
}

/// `POST .../jobs/:job_name/builds/:build_name`: reruns a build with its inputs; 200 with the
/// new build, named `<n>.<k>`.
#[instrument(skip_all)]
pub async fn rerun(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobBuildPath>,
    query: QueryParams,
) -> ApiResult<Json<proto::Build>> {
    let job_path = JobPath {
        team_name: path.team_name,
        pipeline_name: path.pipeline_name,
        job_name: path.job_name,
    };
    let (scoped, job) = operable_job(&state, &caller, &job_path, &query).await?;
    scoped.reject_archived()?;
    let config = scoped.config(state.store())?;
    if job_config(&config, &job.name)?.disable_reruns {
        return Err(ApiError::Disabled);
    }
    let store = state.store();
    let original = lookup::job_build(store, &job, &path.build_name).await?;
    let now = Timestamp::now();
    let rerun = store
        .create_rerun(original.id, caller.user_name(), now)
        .await?;
    store.request_job_schedule(job.id, now).await?;
    Ok(Json(Names::load(store).await?.build(store, &rerun).await?))
}

/// `GET .../jobs/:job_name/inputs`: the inputs the scheduler resolved for the next build.
#[instrument(skip_all)]
pub async fn inputs(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<BuildInput>>> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped = lookup::authorized_pipeline(&state, &caller, pair, &query, Role::Viewer).await?;
    let store = state.store();
    let job = lookup::job(store, &scoped, &path.job_name).await?;
    let config = scoped.config(state.store())?;
    let gets = job_config(&config, &job.name)?.get_steps();
    let resources = store.list_resources(scoped.pipeline.id).await?;
    let mut out = Vec::new();
    for input in store.next_build_inputs(job.id).await? {
        let (Some(resource_id), Some(digest)) = (input.resource_id, &input.version_digest) else {
            continue;
        };
        let Some(resource) = resources.iter().find(|resource| resource.id == resource_id) else {
            continue;
        };
        let Some(version) = lookup::version_by_digest(store, resource, digest).await? else {
            continue;
        };
        let get = gets.iter().find(|get| get.name == input.input_name);
        let resource_config = config.resources.iter().find(|r| r.name == resource.name);
        out.push(BuildInput {
            name: input.input_name.clone(),
            resource: resource.name.clone(),
            type_name: resource.type_name.clone(),
            source: resource_config.and_then(|r| r.source.clone()).map_or(
                serde_json::Value::Object(serde_json::Map::new()),
                serde_json::Value::Object,
            ),
            params: get
                .and_then(|get| get.params.clone())
                .map(serde_json::Value::Object),
            version: version.version.clone(),
            tags: get.map(|get| get.tags.clone()).unwrap_or_default(),
        });
    }
    Ok(Json(out))
}

async fn set_paused(
    state: ApiState,
    caller: Caller,
    path: JobPath,
    query: QueryParams,
    paused: bool,
) -> ApiResult<StatusCode> {
    let (_, job) = operable_job(&state, &caller, &path, &query).await?;
    let store = state.store();
    let now = Timestamp::now();
    store.set_job_paused(job.id, paused, now).await?;
    if !paused {
        store.request_job_schedule(job.id, now).await?;
    }
    Ok(StatusCode::OK)
}

/// `PUT .../jobs/:job_name/pause`.
#[instrument(skip_all)]
pub async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_paused(state, caller, path, query, true).await
}

/// `PUT .../jobs/:job_name/unpause`.
#[instrument(skip_all)]
pub async fn unpause(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_paused(state, caller, path, query, false).await
}

/// `PUT .../jobs/:job_name/schedule`.
#[instrument(skip_all)]
pub async fn schedule(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let (scoped, job) = operable_job(&state, &caller, &path, &query).await?;
    scoped.reject_archived()?;
    state
        .store()
        .request_job_schedule(job.id, Timestamp::now())
        .await?;
    Ok(StatusCode::OK)
}
