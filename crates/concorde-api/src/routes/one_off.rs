//! One-off builds (`fly execute`): created from a plan in the body, `started` at once as
//! Concourse answers, for a team or bound to a pipeline; and the artifacts a build kept.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use concorde_proto as proto;
use concorde_store::{NewOneOffBuild, PipelineId, Timestamp};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, BuildPath, PipelinePath, QueryParams, TeamPath};
use crate::lookup::{self, Names};
use crate::state::ApiState;

/// `POST /api/v1/teams/:team_name/builds`: a one-off build running the plan in the body; 201.
#[instrument(skip_all)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    start(&state, &caller, team.id, None, &body).await
}

/// `POST .../pipelines/:pipeline_name/builds`: the same, bound to a pipeline (`fly execute
/// --inputs-from`); 201.
#[instrument(skip_all)]
pub async fn create_in_pipeline(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped = lookup::authorized_pipeline(&state, &caller, pair, &query, Role::Member).await?;
    scoped.reject_archived()?;
    start(
        &state,
        &caller,
        scoped.team.id,
        Some(scoped.pipeline.id),
        &body,
    )
    .await
}

async fn start(
    state: &ApiState,
    caller: &Caller,
    team: concorde_store::TeamId,
    pipeline: Option<PipelineId>,
    body: &Bytes,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let plan: concorde_engine::Plan = serde_json::from_slice(body)
        .map_err(|err| ApiError::BadRequest(format!("malformed plan: {err}")))?;
    let private_plan = serde_json::to_value(&plan)
        .map_err(|err| ApiError::Internal(format!("plan does not encode: {err}")))?;
    let store = state.store();
    let build = store
        .create_one_off_build(&NewOneOffBuild {
            team,
            pipeline,
            plan: &plan.public(),
            private_plan: &private_plan,
            created_by: caller.user_name(),
            now: Timestamp::now(),
        })
        .await?;
    let presented = Names::load(store).await?.build(store, &build).await?;
    Ok((StatusCode::CREATED, Json(presented)))
}

/// `GET /api/v1/builds/:build_id/artifacts`: what the build kept for download.
#[instrument(skip_all)]
pub async fn list_artifacts(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
) -> ApiResult<Json<Vec<proto::WorkerArtifact>>> {
    let (build, _) =
        crate::routes::builds::readable_build(&state, &caller, path.build_id, true).await?;
    let artifacts = state.store().build_artifacts(build.id).await?;
    Ok(Json(
        artifacts
            .iter()
            .map(crate::routes::artifacts::present)
            .collect(),
    ))
}
