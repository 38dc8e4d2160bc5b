//! A worker's lifecycle from the API, as fly drives it: land (`fly land-worker`), retire, and
//! prune a worker that is not running (`fly prune-worker`). Admins act on any worker, a
//! team's members on that team's workers; a body naming another team is refused.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use concorde_store::{StoreError, WorkerName};
use serde::Deserialize;
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::lookup::Names;
use crate::state::ApiState;

/// `/api/v1/workers/:worker_name/...`.
#[derive(Debug, Deserialize)]
pub struct WorkerPath {
    worker_name: String,
}

/// What fly sends: the worker's team (land and retire compare it with the worker's).
#[derive(Debug, Default, Deserialize)]
pub struct WorkerTeam {
    #[serde(default)]
    team: String,
}

/// Checks the caller may act on the worker; its team's name, `""` for a global worker.
async fn authorize(state: &ApiState, caller: &Caller, name: &WorkerName) -> ApiResult<String> {
    caller.require_authenticated()?;
    let store = state.store();
    let worker = store.worker(name).await?;
    let team = match worker.team_id {
        Some(team) => Names::load(store).await?.team(team),
        None => String::new(),
    };
    let allowed = caller.is_admin()
        || (!team.is_empty()
            && caller
                .role_on(&team)
                .is_some_and(|role| role >= Role::Member));
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    Ok(team)
}

fn check_team(worker_team: &str, body: Option<Json<WorkerTeam>>) -> ApiResult<()> {
    let claimed = body.map(|Json(body)| body.team).unwrap_or_default();
    if !claimed.is_empty() && !claimed.eq_ignore_ascii_case(worker_team) {
        return Err(ApiError::BadRequest(format!(
            "worker belongs to team '{worker_team}', not '{claimed}'"
        )));
    }
    Ok(())
}

/// Landing (the worker comes back when restarted) or retiring (it goes for good).
#[derive(Debug, Clone, Copy)]
enum Drain {
    Land,
    Retire,
}

async fn drain(
    state: ApiState,
    caller: Caller,
    path: WorkerPath,
    body: Option<Json<WorkerTeam>>,
    how: Drain,
) -> ApiResult<StatusCode> {
    let name = WorkerName::new(&path.worker_name);
    let team = authorize(&state, &caller, &name).await?;
    check_team(&team, body)?;
    match how {
        Drain::Land => state.store().land_worker(&name).await?,
        Drain::Retire => state.store().retire_worker(&name).await?,
    };
    Ok(StatusCode::OK)
}

/// `PUT /api/v1/workers/:worker_name/land`: the worker takes no new work and lands once its
/// builds that may not be interrupted are done.
#[instrument(skip_all)]
pub async fn land(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkerPath>,
    body: Option<Json<WorkerTeam>>,
) -> ApiResult<StatusCode> {
    drain(state, caller, path, body, Drain::Land).await
}

/// `PUT /api/v1/workers/:worker_name/retire`: like land, but the worker goes for good.
#[instrument(skip_all)]
pub async fn retire(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkerPath>,
    body: Option<Json<WorkerTeam>>,
) -> ApiResult<StatusCode> {
    drain(state, caller, path, body, Drain::Retire).await
}

/// `PUT /api/v1/workers/:worker_name/prune`: removes a worker that is not running; a running
/// one is refused with Concourse's 400 `{"stderr":"cannot prune running worker"}`.
#[instrument(skip_all)]
pub async fn prune(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<WorkerPath>,
) -> ApiResult<Response> {
    let name = WorkerName::new(&path.worker_name);
    authorize(&state, &caller, &name).await?;
    match state.store().prune_worker(&name).await {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(StoreError::InvalidTransition { .. }) => Ok((
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"stderr": "cannot prune running worker"})),
        )
            .into_response()),
        Err(err) => Err(err.into()),
    }
}
