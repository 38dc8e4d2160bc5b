//! `GET` and `PUT .../pipelines/:pipeline_name/config`: the config with its version header,
//! and saving with content-type checks, optimistic concurrency and validation.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use concorde_config::vars::StaticVars;
use concorde_config::{LoadError, UnknownKeys, load_pipeline, validate_pipeline};
use concorde_proto::{CONFIG_VERSION_HEADER, ConfigResponse, SaveConfigResponse};
use concorde_store::{SetBy, SetOutcome, SetPipeline, Timestamp};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, PipelinePath, QueryParams, body_bytes};
use crate::lookup;
use crate::routes::pipelines::identifier_warnings;
use crate::state::ApiState;
use crate::validation::validation_response;

/// `GET .../config`: `{"config": ...}` and `X-Concourse-Config-Version`; 404 when archived.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Response> {
    let scoped = lookup::authorized_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
        Role::Viewer,
    )
    .await?;
    if scoped.pipeline.archived {
        return Err(ApiError::NotFound("pipeline config".into()));
    }
    let config = scoped.pipeline.config;
    let mut response = Json(ConfigResponse { config }).into_response();
    response.headers_mut().insert(
        CONFIG_VERSION_HEADER,
        HeaderValue::from(scoped.pipeline.config_version),
    );
    Ok(response)
}

/// `PUT .../config`: saves a YAML or JSON config. 201 when created (paused), 200 when updated,
/// both with the warnings; 400 `{"errors": [...]}` when invalid.
#[instrument(skip_all)]
pub async fn save(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
    request: Request,
) -> ApiResult<Response> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    check_content_type(request.headers())?;
    let expected_version = config_version(request.headers())?;
    let body = body_bytes(request, &state).await?;
    let invalid = |errors: Vec<String>| {
        ApiError::InvalidConfig(SaveConfigResponse {
            errors,
            warnings: Vec::new(),
        })
    };
    if path.pipeline_name.is_empty() {
        return Err(invalid(vec![
            "pipeline: identifier cannot be an empty string".into(),
        ]));
    }
    let instance_vars = query.instance_vars()?;
    let loaded = load_pipeline(&body, &StaticVars::default(), UnknownKeys::Reject).map_err(
        |err| match err {
            LoadError::Decode(_) => invalid(vec![err.to_string()]),
            other => invalid(vec![format!("malformed config: {other}")]),
        },
    )?;
    let mut response = validation_response(&validate_pipeline(&loaded.pipeline));
    if !response.errors.is_empty() {
        response.warnings.clear();
        return Err(ApiError::InvalidConfig(response));
    }
    response
        .warnings
        .splice(0..0, identifier_warnings("team", &team.name));
    response
        .warnings
        .splice(0..0, identifier_warnings("pipeline", &path.pipeline_name));
    let set = state
        .store()
        .set_pipeline(&SetPipeline {
            team: team.id,
            name: &path.pipeline_name,
            instance_vars: instance_vars.as_ref(),
            config: &loaded.pipeline,
            set_by: SetBy::User { expected_version },
            now: Timestamp::now(),
        })
        .await?;
    let status = if set.outcome == SetOutcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)).into_response())
}

fn check_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "application/x-yaml" | "application/yaml" | "text/yaml" => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(value.to_owned())),
    }
}

/// The `X-Concourse-Config-Version` header; absent counts as 0.
fn config_version(headers: &HeaderMap) -> ApiResult<i64> {
    let Some(value) = headers.get(CONFIG_VERSION_HEADER) else {
        return Ok(0);
    };
    let text = value.to_str().unwrap_or_default();
    text.trim().parse().map_err(|err| {
        ApiError::InvalidConfig(SaveConfigResponse {
            errors: vec![format!("config version is malformed: {err}")],
            warnings: Vec::new(),
        })
    })
}
