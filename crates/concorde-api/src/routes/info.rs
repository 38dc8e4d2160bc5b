//! `GET /api/v1/info` and the team routes.

use axum::Json;
use axum::extract::State;
use concorde_proto::{FeatureFlags, Info, Team, TeamAuth};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, TeamPath};
use crate::lookup;
use crate::state::ApiState;

/// `GET /api/v1/info`.
#[instrument(skip_all)]
pub async fn info(State(state): State<ApiState>) -> Json<Info> {
    let config = state.config();
    Json(Info {
        version: config.version.clone(),
        worker_version: config.worker_version.clone(),
        feature_flags: FeatureFlags {
            build_rerun: true,
            ..FeatureFlags::default()
        },
        external_url: Some(config.external_url.clone()).filter(|url| !url.is_empty()),
        cluster_name: config.cluster_name.clone(),
    })
}

fn team(team: concorde_store::Team) -> ApiResult<Team> {
    let auth: TeamAuth = serde_json::from_value(team.auth)
        .map_err(|err| ApiError::Internal(format!("team {}'s stored auth: {err}", team.name)))?;
    Ok(Team {
        id: team.id,
        name: team.name,
        auth,
    })
}

/// `GET /api/v1/teams`: the teams the caller has a role on (admins: all; anonymous: none).
#[instrument(skip_all)]
pub async fn list_teams(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Team>>> {
    let teams = state.store().list_teams().await?;
    let teams = teams
        .into_iter()
        .filter(|t| caller.can_view(&t.name))
        .map(team)
        .collect::<ApiResult<_>>()?;
    Ok(Json(teams))
}

/// `GET /api/v1/teams/:team_name`.
#[instrument(skip_all)]
pub async fn get_team(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
) -> ApiResult<Json<Team>> {
    caller.require_role(&path.team_name, Role::Viewer)?;
    Ok(Json(team(
        lookup::team(state.store(), &path.team_name).await?,
    )?))
}
