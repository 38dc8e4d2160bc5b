//! Resource version routes: the paginated history, one version, enabling and disabling a
//! version, pinning, unpinning and the pin comment.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use concorde_proto::{self as proto, PinCommentRequest};
use concorde_store::{self as store, Timestamp};
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, JsonBody, QueryParams, ResourcePath, VersionPath};
use crate::lookup::{self, Scoped};
use crate::present;
use crate::state::ApiState;

/// Whether the caller sees version metadata: members of the team, or anybody when the
/// resource is `public: true`.
fn shows_metadata(caller: &Caller, scoped: &Scoped, resource: &store::Resource) -> bool {
    caller.can_view(&scoped.team.name)
        || resource
            .config
            .get("public")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
}

/// `?filter=k:v` (repeatable): every given key must equal the value.
fn matches_filters(version: &proto::Version, filters: &[(&str, &str)]) -> bool {
    filters
        .iter()
        .all(|(key, value)| version.get(*key).is_some_and(|held| held == value))
}

/// `GET .../resources/:resource_name/versions`: newest first, paginated by version id.
#[instrument(skip_all)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<(HeaderMap, Json<Vec<proto::ResourceVersion>>)> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let store = state.store();
    let resource = lookup::resource(store, &scoped, &path.resource_name).await?;
    let show_metadata = shows_metadata(&caller, &scoped, &resource);
    let disabled = store.disabled_versions(resource.id).await?;
    let filters: Vec<(&str, &str)> = query
        .all("filter")
        .filter_map(|filter| filter.split_once(':'))
        .collect();
    let versions: Vec<proto::ResourceVersion> = lookup::all_versions(store, &resource)
        .await?
        .iter()
        .map(|version| {
            present::resource_version(
                version,
                !disabled.contains(&version.version_digest),
                show_metadata,
            )
        })
        .filter(|version| matches_filters(&version.version, &filters))
        .collect();
    let (shown, pagination) = present::paginate(versions, |version| version.id.0, &query.page()?);
    let url = format!(
        "/api/v1/teams/{}/pipelines/{}/resources/{}/versions",
        path.team_name, path.pipeline_name, path.resource_name
    );
    Ok((
        present::link_headers(&state.config().external_url, &url, &pagination),
        Json(shown),
    ))
}

/// `GET .../resources/:resource_name/versions/:resource_config_version_id`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<Json<proto::ResourceVersion>> {
    let scoped = lookup::readable_pipeline(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &query,
    )
    .await?;
    let store = state.store();
    let resource = lookup::resource(store, &scoped, &path.resource_name).await?;
    let version = lookup::version(store, &resource, path.resource_config_version_id).await?;
    let enabled = !store
        .disabled_versions(resource.id)
        .await?
        .contains(&version.version_digest);
    Ok(Json(present::resource_version(
        &version,
        enabled,
        shows_metadata(&caller, &scoped, &resource),
    )))
}

async fn operable_resource(
    state: &ApiState,
    caller: &Caller,
    (team, pipeline, resource): (&str, &str, &str),
    query: &QueryParams,
) -> ApiResult<store::Resource> {
    let scoped = lookup::authorized_pipeline(
        state,
        caller,
        (team, pipeline),
        query,
        Role::PipelineOperator,
    )
    .await?;
    scoped.reject_archived()?;
    lookup::resource(state.store(), &scoped, resource).await
}

async fn set_enabled(
    state: ApiState,
    caller: Caller,
    path: VersionPath,
    query: QueryParams,
    enabled: bool,
) -> ApiResult<StatusCode> {
    let names = (
        path.team_name.as_str(),
        path.pipeline_name.as_str(),
        path.resource_name.as_str(),
    );
    let resource = operable_resource(&state, &caller, names, &query).await?;
    let store = state.store();
    let version = lookup::version(store, &resource, path.resource_config_version_id).await?;
    store
        .set_version_enabled(
            resource.id,
            &version.version_digest,
            enabled,
            Timestamp::now(),
        )
        .await?;
    store
        .notify(concorde_store::Topic::JobScheduling, "")
        .await?;
    Ok(StatusCode::OK)
}

/// `GET .../versions/:id/input_to`: the builds that took the version as an input.
#[instrument(skip_all)]
pub async fn input_to(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::Build>>> {
    builds_with_version(&state, &caller, &path, &query, false).await
}

/// `GET .../versions/:id/output_of`: the builds that produced the version.
#[instrument(skip_all)]
pub async fn output_of(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::Build>>> {
    builds_with_version(&state, &caller, &path, &query, true).await
}

async fn builds_with_version(
    state: &ApiState,
    caller: &Caller,
    path: &VersionPath,
    query: &QueryParams,
    outputs: bool,
) -> ApiResult<Json<Vec<proto::Build>>> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped = lookup::readable_pipeline(state, caller, pair, query).await?;
    let store = state.store();
    let resource = lookup::resource(store, &scoped, &path.resource_name).await?;
    let version = lookup::version(store, &resource, path.resource_config_version_id).await?;
    let builds = store
        .builds_with_version(resource.id, &version.version_digest, outputs)
        .await?;
    Ok(Json(
        lookup::Names::load(store)
            .await?
            .builds(store, &builds)
            .await?,
    ))
}

/// `PUT .../versions/:id/enable`.
#[instrument(skip_all)]
pub async fn enable(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_enabled(state, caller, path, query, true).await
}

/// `PUT .../versions/:id/disable`: the version is never used as an input again.
#[instrument(skip_all)]
pub async fn disable(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    set_enabled(state, caller, path, query, false).await
}

/// `DELETE .../resources/:resource_name/versions` (admins only): the resource's version
/// history goes; its next check starts from nothing. `{"versions_removed": n}`.
#[instrument(skip_all)]
pub async fn clear(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<Json<serde_json::Value>> {
    let scoped = admin_scoped(&state, &caller, &path, &query).await?;
    let found = lookup::resource(state.store(), &scoped, &path.resource_name).await?;
    clear_scope(&state, found.scope_id).await
}

/// `DELETE .../resource-types/:resource_type_name/versions` (admins only).
#[instrument(skip_all)]
pub async fn clear_type(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<Json<serde_json::Value>> {
    let scoped = admin_scoped(&state, &caller, &path, &query).await?;
    let kind = state
        .store()
        .list_resource_types(scoped.pipeline.id)
        .await?
        .into_iter()
        .find(|kind| kind.name == path.resource_name)
        .ok_or_else(|| ApiError::NotFound("resource type".into()))?;
    clear_scope(&state, kind.scope_id).await
}

async fn admin_scoped(
    state: &ApiState,
    caller: &Caller,
    path: &ResourcePath,
    query: &QueryParams,
) -> ApiResult<Scoped> {
    caller.require_admin()?;
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    lookup::readable_pipeline(state, caller, pair, query).await
}

/// Clears a scope's versions (none to clear before a first check).
async fn clear_scope(
    state: &ApiState,
    scope: Option<store::ScopeId>,
) -> ApiResult<Json<serde_json::Value>> {
    let removed = match scope {
        Some(scope) => {
            state
                .store()
                .clear_versions(scope, Timestamp::now())
                .await?
        }
        None => 0,
    };
    Ok(Json(serde_json::json!({ "versions_removed": removed })))
}

fn refuse_config_pin(resource: &store::Resource) -> ApiResult<()> {
    if resource.config_pinned_version.is_some() {
        return Err(ApiError::Conflict(format!(
            "resource '{}' is pinned through the pipeline config",
            resource.name
        )));
    }
    Ok(())
}

/// `PUT .../versions/:id/pin`: 409 when the config pins the resource.
#[instrument(skip_all)]
pub async fn pin(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<VersionPath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let names = (
        path.team_name.as_str(),
        path.pipeline_name.as_str(),
        path.resource_name.as_str(),
    );
    let resource = operable_resource(&state, &caller, names, &query).await?;
    refuse_config_pin(&resource)?;
    let store = state.store();
    let version = lookup::version(store, &resource, path.resource_config_version_id).await?;
    store
        .set_resource_pin(
            resource.id,
            Some(&version.version),
            resource.pin_comment.as_deref(),
            Timestamp::now(),
        )
        .await?;
    store
        .notify(concorde_store::Topic::JobScheduling, "")
        .await?;
    Ok(StatusCode::OK)
}

/// `PUT .../resources/:resource_name/unpin`.
#[instrument(skip_all)]
pub async fn unpin(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
) -> ApiResult<StatusCode> {
    let names = (
        path.team_name.as_str(),
        path.pipeline_name.as_str(),
        path.resource_name.as_str(),
    );
    let resource = operable_resource(&state, &caller, names, &query).await?;
    refuse_config_pin(&resource)?;
    let store = state.store();
    store
        .set_resource_pin(resource.id, None, None, Timestamp::now())
        .await?;
    store
        .notify(concorde_store::Topic::JobScheduling, "")
        .await?;
    Ok(StatusCode::OK)
}

/// `PUT .../resources/:resource_name/pin_comment`: body `{"pin_comment": "..."}`.
#[instrument(skip_all)]
pub async fn pin_comment(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ResourcePath>,
    query: QueryParams,
    JsonBody(request): JsonBody<PinCommentRequest>,
) -> ApiResult<StatusCode> {
    let names = (
        path.team_name.as_str(),
        path.pipeline_name.as_str(),
        path.resource_name.as_str(),
    );
    let resource = operable_resource(&state, &caller, names, &query).await?;
    refuse_config_pin(&resource)?;
    let pinned = resource
        .api_pinned_version
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("pinned version".into()))?;
    state
        .store()
        .set_resource_pin(
            resource.id,
            Some(pinned),
            Some(&request.pin_comment),
            Timestamp::now(),
        )
        .await?;
    Ok(StatusCode::OK)
}
