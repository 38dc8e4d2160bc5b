//! Resource and resource type routes: lists, one resource, check requests and the webhook.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use concorde_proto::{self as proto, CheckRequest};
use concorde_store::{self as store, Topic};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, PipelinePath, QueryParams, ResourcePath};
use crate::lookup::{self, Scoped};
use crate::present;
use crate::state::ApiState;

/// The wire form of a resource. `build` stands for the last check: a build summary named
/// `check`, `started` while a check runs, then `succeeded` or `failed`.
fn resource(resource: &store::Resource, scoped: &Scoped) -> proto::Resource {
    let config = &resource.config;
    let check_status = match (resource.last_check_start, resource.last_check_end) {
        (Some(start), end) if end.is_none_or(|end| end < start) => {
            Some(proto::BuildStatus::Started)
        }
        (_, Some(_)) if resource.last_check_error.is_some() => Some(proto::BuildStatus::Failed),
        (_, Some(_)) => Some(proto::BuildStatus::Succeeded),
        _ => None,
    };
    proto::Resource {
        name: resource.name.clone(),
        pipeline_id: scoped.pipeline.id,
        pipeline_name: scoped.pipeline.name.clone(),
        pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
        team_name: scoped.team.name.clone(),
        type_name: resource.type_name.clone(),
        last_checked: resource.last_check_end.map(present::secs),
        icon: config
            .get("icon")
            .and_then(|icon| icon.as_str())
            .map(str::to_owned),
        pinned_version: resource.pinned_version().cloned(),
        pinned_in_config: resource.config_pinned_version.is_some(),
        pin_comment: resource
            .pin_comment
            .clone()
            .filter(|_| resource.config_pinned_version.is_none()),
        build: check_status.map(|status| proto::BuildSummary {
            id: proto::BuildId(0),
            name: "check".into(),
            status,
            start_time: resource.last_check_start.map(present::secs),
            end_time: resource
                .last_check_end
                .map(present::secs)
                .filter(|_| status.is_finished()),
            team_name: scoped.team.name.clone(),
            pipeline_id: scoped.pipeline.id,
            pipeline_name: scoped.pipeline.name.clone(),
            pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
            job_name: None,
            plan: None,
        }),
    }
}

/// `GET /api/v1/resources`: resources of every pipeline the caller may see.
#[instrument(skip_all)]
pub async fn list_all(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<proto::Resource>>> {
    let store = state.store();
    let mut out = Vec::new();
    for scoped in lookup::visible_pipelines(store, &caller, store.list_teams().await?).await? {
        let resources = store.list_resources(scoped.pipeline.id).await?;
        out.extend(resources.iter().map(|r| resource(r, &scoped)));
    }
    Ok(Json(out))
}

/// `GET .../pipelines/:pipeline_name/resources`.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::Resource>>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let resources = state.store().list_resources(scoped.pipeline.id).await?;
    Ok(Json(
        resources.iter().map(|r| resource(r, &scoped)).collect(),
    ))
}

/// `GET .../pipelines/:pipeline_name/resource-types`.
#[instrument(skip_all)]
pub async fn list_types(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::ResourceType>>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let config = scoped.config(state.store())?;
    let types = state
        .store()
        .list_resource_types(scoped.pipeline.id)
        .await?;
    Ok(Json(
        types
            .iter()
            .map(|kind| {
                let configured = config.resource_types.iter().find(|c| c.name == kind.name);
                proto::ResourceType {
                    name: kind.name.clone(),
                    type_name: kind.type_name.clone(),
                    tags: configured.map(|c| c.tags.clone()).unwrap_or_default(),
                    privileged: configured.is_some_and(|c| c.privileged),
                    check_every: kind
                        .check_every
                        .as_ref()
                        .map(|every| every.as_str().to_owned()),
                    source: configured
                        .and_then(|c| c.source.clone())
                        .map(serde_json::Value::Object),
                    params: configured
                        .and_then(|c| c.params.clone())
                        .map(serde_json::Value::Object),
                    version: None,
                }
            })
            .collect(),
    ))
}

/// `GET .../resources/:resource_name`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<Json<proto::Resource>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let found = lookup::resource(state.store(), &scoped, &path.resource_name).await?;
    Ok(Json(resource(&found, &scoped)))
}

/// The build-shaped answer to a check request. Checks run in the checker component and have
/// no build row, so the id is 0 and the status `started`.
fn check_build(scoped: &Scoped, resource_name: &str) -> proto::Build {
    proto::Build {
        id: proto::BuildId(0),
        team_name: scoped.team.name.clone(),
        name: "check".into(),
        status: proto::BuildStatus::Started,
        api_url: "/api/v1/builds/0".into(),
        comment: None,
        job_name: None,
        resource_name: Some(resource_name.to_owned()),
        pipeline_id: Some(scoped.pipeline.id),
        pipeline_name: Some(scoped.pipeline.name.clone()),
        pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
        start_time: None,
        end_time: None,
        reap_time: None,
        rerun_number: None,
        rerun_of: None,
        created_by: None,
    }
}

fn check_body(body: &Bytes) -> ApiResult<CheckRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CheckRequest::default());
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::BadRequest(format!("malformed check request: {err}")))
}

/// `POST .../resources/:resource_name/check`: asks the checker to check now; 201.
#[instrument(skip_all)]
pub async fn check(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped =
        lookup::authorized_pipeline(&state, &caller, pair, &query, Role::PipelineOperator).await?;
    scoped.reject_archived()?;
    check_body(&body)?;
    let found = lookup::resource(state.store(), &scoped, &path.resource_name).await?;
    state.store().request_check(found.id).await?;
    Ok((StatusCode::CREATED, Json(check_build(&scoped, &found.name))))
}

/// `POST .../resources/:resource_name/check/webhook?webhook_token=`: no login; the token must
/// equal the resource's `webhook_token`. A token that is still a `((var))` (no credential
/// manager resolved it) accepts nothing: its literal text is not a secret.
#[instrument(skip_all)]
pub async fn webhook(
    State(state): State<ApiState>,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let token = query
        .get("webhook_token")
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::MissingWebhookToken)?;
    let store = state.store();
    let team = lookup::team(store, &path.team_name).await?;
    let pipeline = lookup::pipeline_in(store, &team, &path.pipeline_name, &query).await?;
    let scoped = Scoped { team, pipeline };
    let found = lookup::resource(store, &scoped, &path.resource_name).await?;
    let expected = found
        .config
        .get("webhook_token")
        .and_then(|t| t.as_str())
        .filter(|expected| !expected.contains("(("))
        .ok_or(ApiError::Unauthorized)?;
    if !same_secret(expected, token) {
        return Err(ApiError::Unauthorized);
    }
    store.request_check(found.id).await?;
    Ok((StatusCode::CREATED, Json(check_build(&scoped, &found.name))))
}

/// `POST .../resource-types/:resource_type_name/check`: asks the checker to check the type;
/// 201. The notification's payload is `type:<id>`.
#[instrument(skip_all)]
pub async fn check_type(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped =
        lookup::authorized_pipeline(&state, &caller, pair, &query, Role::PipelineOperator).await?;
    scoped.reject_archived()?;
    check_body(&body)?;
    let store = state.store();
    let kind = store
        .list_resource_types(scoped.pipeline.id)
        .await?
        .into_iter()
        .find(|kind| kind.name == path.resource_name)
        .ok_or_else(|| ApiError::NotFound("resource type".into()))?;
    store
        .notify(Topic::CheckRequested, &format!("type:{}", kind.id))
        .await?;
    let mut build = check_build(&scoped, &kind.name);
    build.resource_name = None;
    Ok((StatusCode::CREATED, Json(build)))
}

/// Whether two secrets are equal, looking at every byte whatever the first difference.
fn same_secret(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
