//! Pipeline routes: listing, reading, deleting, ordering, and the pipeline switches.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use concorde_proto::{ConfigWarning, Pipeline, RenameRequest, SaveConfigResponse};
use concorde_store::Timestamp;
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, JsonBody, PipelinePath, QueryParams, TeamPath};
use crate::lookup::{self, Scoped};
use crate::present;
use crate::state::ApiState;

/// `GET /api/v1/pipelines`: every pipeline the caller may see (its teams' and public ones).
#[instrument(skip_all)]
pub async fn list_all(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Pipeline>>> {
    let store = state.store();
    let visible = lookup::visible_pipelines(store, &caller, store.list_teams().await?).await?;
    Ok(Json(
        visible
            .iter()
            .map(|scoped| present::pipeline(&scoped.pipeline, &scoped.team.name))
            .collect(),
    ))
}

/// `GET /api/v1/teams/:team_name/pipelines`: all of the team's for its members, public ones
/// for everybody else.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
) -> ApiResult<Json<Vec<Pipeline>>> {
    let store = state.store();
    let team = lookup::team(store, &path.team_name).await?;
    let visible = lookup::visible_pipelines(store, &caller, vec![team]).await?;
    Ok(Json(
        visible
            .iter()
            .map(|scoped| present::pipeline(&scoped.pipeline, &scoped.team.name))
            .collect(),
    ))
}

/// `GET .../pipelines/:pipeline_name`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Json<Pipeline>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    Ok(Json(present::pipeline(&scoped.pipeline, &scoped.team.name)))
}

async fn authorized(
    state: &ApiState,
    caller: &Caller,
    path: &PipelinePath,
    query: &QueryParams,
    role: Role,
) -> ApiResult<Scoped> {
    lookup::authorized_pipeline(
        state,
        caller,
        (&path.team_name, &path.pipeline_name),
        query,
        role,
    )
    .await
}

/// `DELETE .../pipelines/:pipeline_name`: 204.
#[instrument(skip_all)]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let scoped = authorized(&state, &caller, &path, &query, Role::Member).await?;
    state.store().delete_pipeline(scoped.pipeline.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/teams/:team_name/pipelines/ordering`: body `["name", ...]`.
#[instrument(skip_all)]
pub async fn order(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
    JsonBody(names): JsonBody<Vec<String>>,
) -> ApiResult<StatusCode> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    state.store().order_pipelines(team.id, &names).await?;
    Ok(StatusCode::OK)
}

/// `PUT .../pipelines/:pipeline_name/ordering`: orders the instances of the pipeline name by
/// the body's list of instance vars; 400 when one does not exist.
#[instrument(skip_all)]
pub async fn order_instances(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    JsonBody(instances): JsonBody<Vec<concorde_proto::InstanceVars>>,
) -> ApiResult<StatusCode> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    match state
        .store()
        .order_instances(team.id, &path.pipeline_name, &instances)
        .await
    {
        Ok(()) => Ok(StatusCode::OK),
        Err(concorde_store::StoreError::NotFound { id, .. }) => {
            Err(ApiError::BadRequest(format!("pipeline {id} not found")))
        }
        Err(err) => Err(err.into()),
    }
}

/// `PUT .../pause`.
#[instrument(skip_all)]
pub async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let scoped = authorized(&state, &caller, &path, &query, Role::PipelineOperator).await?;
    scoped.reject_archived()?;
    let by = caller.user_name().unwrap_or_default().to_owned();
    state
        .store()
        .set_pipeline_paused(scoped.pipeline.id, Some(&by), Timestamp::now())
        .await?;
    Ok(StatusCode::OK)
}

/// `PUT .../unpause`: also requests scheduling of every job of the pipeline.
#[instrument(skip_all)]
pub async fn unpause(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let scoped = authorized(&state, &caller, &path, &query, Role::PipelineOperator).await?;
    scoped.reject_archived()?;
    let store = state.store();
    store
        .set_pipeline_paused(scoped.pipeline.id, None, Timestamp::now())
        .await?;
    Ok(StatusCode::OK)
}

/// `PUT .../archive`.
#[instrument(skip_all)]
pub async fn archive(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let scoped = authorized(&state, &caller, &path, &query, Role::Member).await?;
    state
        .store()
        .archive_pipeline(scoped.pipeline.id, Timestamp::now())
        .await?;
    Ok(StatusCode::OK)
}

async fn set_public(
    state: ApiState,
    caller: Caller,
    path: PipelinePath,
    query: QueryParams,
    public: bool,
) -> ApiResult<StatusCode> {
    let scoped = authorized(&state, &caller, &path, &query, Role::Member).await?;
    state
        .store()
        .set_pipeline_public(scoped.pipeline.id, public)
        .await?;
    Ok(StatusCode::OK)
}

/// `PUT .../expose`.
#[instrument(skip_all)]
pub async fn expose(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_public(state, caller, path, query, true).await
}

/// `PUT .../hide`.
#[instrument(skip_all)]
pub async fn hide(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_public(state, caller, path, query, false).await
}

/// `PUT .../rename`: body `{"name": "new"}`; answers the identifier warnings of the new name.
#[instrument(skip_all)]
pub async fn rename(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
    JsonBody(request): JsonBody<RenameRequest>,
) -> ApiResult<Json<SaveConfigResponse>> {
    let scoped = authorized(&state, &caller, &path, &query, Role::Member).await?;
    if request.name.is_empty() {
        return Err(ApiError::BadRequest(
            "pipeline: identifier cannot be an empty string".into(),
        ));
    }
    state
        .store()
        .rename_pipeline(scoped.pipeline.id, &request.name)
        .await?;
    Ok(Json(SaveConfigResponse {
        errors: Vec::new(),
        warnings: identifier_warnings("pipeline", &request.name),
    }))
}

/// The `invalid_identifier` warning of a name, if it is not a valid identifier.
pub fn identifier_warnings(context: &str, name: &str) -> Vec<ConfigWarning> {
    concorde_config::validate::identifier_problem(name)
        .map(|reason| ConfigWarning {
            kind: "invalid_identifier".into(),
            message: format!("{context}: '{name}' is not a valid identifier: {reason}"),
        })
        .into_iter()
        .collect()
}
