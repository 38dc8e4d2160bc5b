//! Resource and resource type routes: lists, one resource, check requests and the webhook.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use concorde_proto::{self as proto, CheckRequest};
use concorde_store::{self as store, CheckTarget, NewCheckBuild};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, PipelinePath, QueryParams, ResourcePath};
use crate::lookup::{self, Names, Scoped};
use crate::present;
use crate::state::ApiState;

/// The wire form of a resource. `build` is its last check build (`last_check`), and
/// `check_error` what the last finished check failed with, its script's stderr included.
fn resource(
    resource: &store::Resource,
    scoped: &Scoped,
    last_check: Option<&store::Build>,
) -> proto::Resource {
    let config = &resource.config;
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
        build: last_check.map(|build| proto::BuildSummary {
            id: build.id,
            name: build.name.clone(),
            status: build.status,
            start_time: build.start_time.map(present::secs),
            end_time: build.end_time.map(present::secs),
            team_name: scoped.team.name.clone(),
            pipeline_id: scoped.pipeline.id,
            pipeline_name: scoped.pipeline.name.clone(),
            pipeline_instance_vars: scoped.pipeline.instance_vars.clone(),
            job_name: None,
            plan: build.plan.clone(),
        }),
        check_error: resource.last_check_error.clone(),
    }
}

/// The wire form of resources, with their last check builds read in one query.
async fn resources(
    store: &store::Store,
    found: &[store::Resource],
    scoped: &Scoped,
) -> ApiResult<Vec<proto::Resource>> {
    let ids: Vec<store::BuildId> = found.iter().filter_map(|r| r.last_check_build_id).collect();
    let checks = store.builds_by_id(&ids).await?;
    Ok(found
        .iter()
        .map(|r| {
            let last = r
                .last_check_build_id
                .and_then(|id| checks.iter().find(|build| build.id == id));
            resource(r, scoped, last)
        })
        .collect())
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
        let found = store.list_resources(scoped.pipeline.id).await?;
        out.extend(resources(store, &found, &scoped).await?);
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
    let found = state.store().list_resources(scoped.pipeline.id).await?;
    Ok(Json(resources(state.store(), &found, &scoped).await?))
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
    let store = state.store();
    let config = scoped.config(store)?;
    // Sources and params may hold credentials: only the team sees them.
    let member = caller.can_view(&scoped.team.name);
    let mut out = Vec::new();
    for kind in store.list_resource_types(scoped.pipeline.id).await? {
        let configured = config.resource_types.iter().find(|c| c.name == kind.name);
        let version = match kind.scope_id {
            Some(scope) => store
                .list_versions(scope, None, 1)
                .await?
                .into_iter()
                .next()
                .map(|latest| latest.version),
            None => None,
        };
        out.push(proto::ResourceType {
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
                .filter(|_| member)
                .map(serde_json::Value::Object),
            params: configured
                .and_then(|c| c.params.clone())
                .filter(|_| member)
                .map(serde_json::Value::Object),
            version,
        });
    }
    Ok(Json(out))
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
    Ok(Json(
        resources(state.store(), &[found], &scoped).await?.remove(0),
    ))
}

/// Creates a manually triggered check build of `target` and answers it, 201.
async fn start_check(
    state: &ApiState,
    target: CheckTarget,
    from: Option<&proto::Version>,
    created_by: Option<&str>,
) -> ApiResult<(StatusCode, Json<proto::Build>)> {
    let store = state.store();
    let build = store
        .create_check_build(&NewCheckBuild {
            target,
            from,
            manually_triggered: true,
            created_by,
            now: store::Timestamp::now(),
        })
        .await?;
    let presented = Names::load(store).await?.build(store, &build).await?;
    Ok((StatusCode::CREATED, Json(presented)))
}

fn check_body(body: &Bytes) -> ApiResult<CheckRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CheckRequest::default());
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::BadRequest(format!("malformed check request: {err}")))
}

/// `POST .../resources/:resource_name/check`: a check build of the resource, from the
/// body's `from` version if given; 201.
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
    let request = check_body(&body)?;
    let found = lookup::resource(state.store(), &scoped, &path.resource_name).await?;
    start_check(
        &state,
        CheckTarget::Resource(found.id),
        request.from.as_ref(),
        caller.user_name(),
    )
    .await
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
    start_check(&state, CheckTarget::Resource(found.id), None, None).await
}

/// `POST .../resource-types/:resource_type_name/check`: a check build of the type; 201.
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
    let request = check_body(&body)?;
    let store = state.store();
    let kind = store
        .list_resource_types(scoped.pipeline.id)
        .await?
        .into_iter()
        .find(|kind| kind.name == path.resource_name)
        .ok_or_else(|| ApiError::NotFound("resource type".into()))?;
    start_check(
        &state,
        CheckTarget::ResourceType(kind.id),
        request.from.as_ref(),
        caller.user_name(),
    )
    .await
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
