//! Build routes: lists with pagination and `Link` headers, one build, its plan, its resources,
//! and abort. The event stream lives in `events.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use concorde_proto::{self as proto, BuildResourceInput, BuildResourceOutput, BuildResources};
use concorde_store::{self as store, JobId, Store, Timestamp};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    ApiPath, BuildPath, JobBuildPath, JobPath, PipelinePath, QueryParams, TeamPath,
};
use crate::lookup::{self, Names};
use crate::present;
use crate::state::ApiState;

/// Who may read a build: `build-read-any` (any build of a public pipeline) or `build-read-job`
/// (for public pipelines only builds of public jobs). One-off and check builds need a role on
/// the team: a check's log may show what its source holds.
pub(crate) async fn readable_build(
    state: &ApiState,
    caller: &Caller,
    id: i64,
    job_level: bool,
) -> ApiResult<(store::Build, Names)> {
    let store = state.store();
    let build = lookup::build(store, id).await?;
    let mut names = Names::load(store).await?;
    let team = names.team(build.team_id);
    if caller.can_view(&team) {
        return Ok((build, names));
    }
    let check = build.resource_id.is_some() || build.resource_type_id.is_some();
    let public = match build.pipeline_id {
        Some(_) if check => false,
        Some(pipeline) => {
            let pipeline = names.pipeline(store, pipeline).await?.clone();
            pipeline.public && (!job_level || job_is_public(store, &pipeline, build.job_id).await?)
        }
        None => false,
    };
    caller.require_pipeline_read(&team, public)?;
    Ok((build, names))
}

async fn job_is_public(
    store: &Store,
    pipeline: &store::Pipeline,
    job: Option<JobId>,
) -> ApiResult<bool> {
    let Some(job) = job else { return Ok(false) };
    let name = store.job(job).await?.name;
    let config = store.pipeline_model(pipeline)?;
    Ok(config
        .jobs
        .iter()
        .any(|candidate| candidate.name == name && candidate.public))
}

async fn page_response(
    state: &ApiState,
    path: &str,
    query: &QueryParams,
    builds: Vec<store::Build>,
) -> ApiResult<(HeaderMap, Json<Vec<proto::Build>>)> {
    let page = query.page()?;
    let store = state.store();
    if query.get("timestamps").is_some() {
        // `fly builds --since/--until`: `from` and `to` are unix seconds of when builds
        // started (created, for those that never did); newest first, no page links.
        let at = |build: &store::Build| build.start_time.unwrap_or(build.create_time).0 / 1000;
        let limit = usize::try_from(page.limit_or_default()).unwrap_or(usize::MAX);
        let shown: Vec<store::Build> = builds
            .into_iter()
            .filter(|build| page.from.is_none_or(|from| at(build) >= from))
            .filter(|build| page.to.is_none_or(|to| at(build) <= to))
            .take(limit)
            .collect();
        let presented = Names::load(store).await?.builds(store, &shown).await?;
        return Ok((HeaderMap::new(), Json(presented)));
    }
    let (shown, pagination) = present::paginate(builds, |build| build.id.0, &page);
    let presented = Names::load(store).await?.builds(store, &shown).await?;
    Ok((
        present::link_headers(&state.config().external_url, path, &pagination),
        Json(presented),
    ))
}

async fn builds_of_pipeline(
    store: &Store,
    pipeline: &store::Pipeline,
) -> ApiResult<Vec<store::Build>> {
    let jobs: Vec<JobId> = store
        .list_jobs(pipeline.id)
        .await?
        .iter()
        .map(|job| job.id)
        .collect();
    lookup::builds_of_jobs(store, &jobs).await
}

/// `GET .../pipelines/:pipeline_name/builds`.
#[instrument(skip_all)]
pub async fn list_pipeline(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<(HeaderMap, Json<Vec<proto::Build>>)> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let builds = builds_of_pipeline(state.store(), &scoped.pipeline).await?;
    let url = format!(
        "/api/v1/teams/{}/pipelines/{}/builds",
        path.team_name, path.pipeline_name
    );
    page_response(&state, &url, &query, builds).await
}

/// `GET .../jobs/:job_name/builds`.
#[instrument(skip_all)]
pub async fn list_job(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<(HeaderMap, Json<Vec<proto::Build>>)> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let job = lookup::job(state.store(), &scoped, &path.job_name).await?;
    let builds = lookup::builds_of_jobs(state.store(), &[job.id]).await?;
    let url = format!(
        "/api/v1/teams/{}/pipelines/{}/jobs/{}/builds",
        path.team_name, path.pipeline_name, path.job_name
    );
    page_response(&state, &url, &query, builds).await
}

/// `GET .../jobs/:job_name/builds/:build_name`.
#[instrument(skip_all)]
pub async fn get_job_build(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobBuildPath>,
    query: QueryParams,
) -> ApiResult<Json<proto::Build>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let store = state.store();
    let job = lookup::job(store, &scoped, &path.job_name).await?;
    let build = lookup::job_build(store, &job, &path.build_name).await?;
    Ok(Json(Names::load(store).await?.build(store, &build).await?))
}

async fn builds_of_teams(
    store: &Store,
    teams: Vec<store::Team>,
    caller: &Caller,
) -> ApiResult<Vec<store::Build>> {
    let mut builds = Vec::new();
    for team in teams.iter().filter(|team| caller.can_view(&team.name)) {
        builds.extend(store.list_one_off_builds(team.id).await?);
    }
    for scoped in lookup::visible_pipelines(store, caller, teams).await? {
        builds.extend(builds_of_pipeline(store, &scoped.pipeline).await?);
    }
    builds.sort_by_key(|build| std::cmp::Reverse(build.id));
    Ok(builds)
}

/// `GET /api/v1/builds`: builds of every pipeline the caller may see.
#[instrument(skip_all)]
pub async fn list_all(
    State(state): State<ApiState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<(HeaderMap, Json<Vec<proto::Build>>)> {
    let teams = state.store().list_teams().await?;
    let builds = builds_of_teams(state.store(), teams, &caller).await?;
    page_response(&state, "/api/v1/builds", &query, builds).await
}

/// `GET /api/v1/teams/:team_name/builds`.
#[instrument(skip_all)]
pub async fn list_team(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
    query: QueryParams,
) -> ApiResult<(HeaderMap, Json<Vec<proto::Build>>)> {
    caller.require_role(&path.team_name, Role::Viewer)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    let builds = builds_of_teams(state.store(), vec![team], &caller).await?;
    page_response(
        &state,
        &format!("/api/v1/teams/{}/builds", path.team_name),
        &query,
        builds,
    )
    .await
}

/// `GET /api/v1/builds/:build_id`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
) -> ApiResult<Json<proto::Build>> {
    let (build, mut names) = readable_build(&state, &caller, path.build_id, false).await?;
    Ok(Json(names.build(state.store(), &build).await?))
}

/// `GET /api/v1/builds/:build_id/plan`: `{"schema": "exec.v2", "plan": ...}`; 404 before the
/// build has a plan.
#[instrument(skip_all)]
pub async fn plan(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
) -> ApiResult<Json<serde_json::Value>> {
    let (build, _) = readable_build(&state, &caller, path.build_id, true).await?;
    let plan = build
        .plan
        .ok_or_else(|| ApiError::NotFound("build plan".into()))?;
    Ok(Json(serde_json::json!({"schema": "exec.v2", "plan": plan})))
}

/// `GET /api/v1/builds/:build_id/resources`: the versions the build consumed and produced.
#[instrument(skip_all)]
pub async fn resources(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
) -> ApiResult<Json<BuildResources>> {
    let (build, _) = readable_build(&state, &caller, path.build_id, false).await?;
    let store = state.store();
    let Some(pipeline) = build.pipeline_id else {
        return Ok(Json(BuildResources::default()));
    };
    let resources = store.list_resources(pipeline).await?;
    let mut out = BuildResources::default();
    for outputs in [false, true] {
        for recorded in store.build_versions(build.id, outputs).await? {
            let Some(resource) = resources.iter().find(|r| r.id == recorded.resource_id) else {
                continue;
            };
            let Some(version) =
                lookup::version_by_digest(store, resource, &recorded.version_digest).await?
            else {
                continue;
            };
            let version = version.version.clone();
            if outputs {
                out.outputs.push(BuildResourceOutput {
                    name: recorded.name,
                    version,
                });
            } else {
                let first_occurrence = first_occurrence(store, &build, &recorded).await?;
                out.inputs.push(BuildResourceInput {
                    name: recorded.name,
                    version,
                    pipeline_id: pipeline,
                    first_occurrence,
                });
            }
        }
    }
    Ok(Json(out))
}

/// Whether no older build of the job consumed this version under this name.
async fn first_occurrence(
    store: &Store,
    build: &store::Build,
    input: &store::RecordedVersion,
) -> ApiResult<bool> {
    let Some(job) = build.job_id else {
        return Ok(true);
    };
    for older in store.list_job_builds(job, Some(build.id), i64::MAX).await? {
        if store.build_versions(older.id, false).await?.contains(input) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `PUT /api/v1/builds/:build_id/abort`: 204; the store finishes a pending build at once and
/// tells the engine running a started one. With `?force` a started build is marked aborted
/// at once, without waiting for the engine.
#[instrument(skip_all)]
pub async fn abort(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let store = state.store();
    let build = lookup::build(store, path.build_id).await?;
    let team = Names::load(store).await?.team(build.team_id);
    caller.require_role(&team, Role::PipelineOperator)?;
    if !build.status.is_finished() {
        let now = Timestamp::now();
        store.abort_build(build.id, now).await?;
        if query.has("force") && build.status == store::BuildStatus::Started {
            store
                .finish_build(build.id, store::BuildStatus::Aborted, now)
                .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
