//! Workers, containers and volumes as the store records them (read-only lists).

use axum::Json;
use axum::extract::State;
use concorde_proto::{self as proto, BaseResourceType, VolumeResourceType};
use concorde_store::{
    self as store, ContainerFilter, ContainerOwner, Timestamp, VolumeFilter, VolumeKind,
};
use serde::Deserialize;
use tracing::instrument;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, QueryParams, TeamPath};
use crate::lookup::{self, Names};
use crate::present;
use crate::state::ApiState;

/// `GET /api/v1/workers`: admins see every worker, others the global workers and those of
/// teams they have a role on. Needs a role on some team.
#[instrument(skip_all)]
pub async fn list_workers(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<proto::Worker>>> {
    caller.require_authenticated()?;
    if !caller.is_admin() && caller.roles().next().is_none() {
        return Err(ApiError::Forbidden);
    }
    let store = state.store();
    let names = Names::load(store).await?;
    let workers = store.list_workers().await?;
    Ok(Json(
        workers
            .iter()
            .filter(|worker| {
                caller.is_admin()
                    || worker
                        .team_id
                        .is_none_or(|team| caller.role_on(&names.team(team)).is_some())
            })
            .map(|worker| {
                present_worker(
                    worker,
                    worker
                        .team_id
                        .map(|team| names.team(team))
                        .unwrap_or_default(),
                )
            })
            .collect(),
    ))
}

fn present_worker(worker: &store::Worker, team: String) -> proto::Worker {
    proto::Worker {
        addr: worker.addr.clone().unwrap_or_default(),
        baggageclaim_url: worker.baggageclaim_url.clone().unwrap_or_default(),
        certs_path: None,
        http_proxy_url: String::new(),
        https_proxy_url: String::new(),
        no_proxy: String::new(),
        active_containers: worker.active_containers,
        active_volumes: worker.active_volumes,
        active_tasks: worker.active_tasks,
        max_active_tasks: 0,
        resource_types: worker
            .resource_types
            .iter()
            .map(|kind| proto::WorkerResourceType {
                type_name: kind.type_name.clone(),
                image: kind.image.clone(),
                version: kind.version.clone(),
                privileged: kind.privileged,
                unique_version_history: kind.unique_version_history,
            })
            .collect(),
        platform: worker.platform.clone(),
        tags: worker.tags.clone(),
        team,
        name: worker.name.as_str().to_owned(),
        version: worker.version.clone(),
        start_time: present::secs(worker.start_time),
        ephemeral: worker.ephemeral,
        state: worker.state.as_str().to_owned(),
    }
}

fn present_container(container: &store::Container, now: Timestamp) -> proto::Container {
    let meta = &container.meta;
    let text = |value: &str| Some(value.to_owned()).filter(|value| !value.is_empty());
    let build_id = match &container.owner {
        Some(
            ContainerOwner::BuildStep { build, .. }
            | ContainerOwner::ImageCheck { build, .. }
            | ContainerOwner::ImageGet { build, .. },
        ) => Some(*build),
        _ => None,
    };
    proto::Container {
        id: container.handle.as_str().to_owned(),
        worker_name: container.worker_name.as_str().to_owned(),
        state: Some(container.state.as_str().to_owned()),
        kind: text(&meta.step_type),
        step_name: text(&meta.step_name),
        attempt: text(&meta.attempt),
        pipeline_id: container.pipeline_id,
        job_id: meta.job_id,
        build_id,
        pipeline_name: meta.pipeline_name.clone(),
        job_name: meta.job_name.clone(),
        build_name: meta.build_name.clone(),
        user: text(&meta.user),
        working_directory: text(&meta.working_directory),
        expires_in: container
            .check_expires
            .map(|expires| go_duration((expires.0 - now.0).max(0) / 1000)),
        ..proto::Container::default()
    }
}

/// Seconds as a Go duration string, e.g. `4m30s`.
fn go_duration(secs: i64) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// The filters of `GET .../containers`.
fn matches(container: &proto::Container, query: &QueryParams) -> bool {
    let equal = |key: &str, value: Option<String>| {
        query
            .get(key)
            .is_none_or(|wanted| value.as_deref() == Some(wanted))
    };
    equal("type", container.kind.clone())
        && equal("pipeline_name", container.pipeline_name.clone())
        && equal("job_name", container.job_name.clone())
        && equal("build_name", container.build_name.clone())
        && equal("step_name", container.step_name.clone())
        && equal("attempt", container.attempt.clone())
        && equal("build_id", container.build_id.map(|id| id.to_string()))
        && equal(
            "pipeline_id",
            container.pipeline_id.map(|id| id.to_string()),
        )
        && equal("job_id", container.job_id.map(|id| id.to_string()))
}

/// `GET /api/v1/teams/:team_name/containers`, with Concourse's equality filters.
#[instrument(skip_all)]
pub async fn list_containers(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
    query: QueryParams,
) -> ApiResult<Json<Vec<proto::Container>>> {
    caller.require_role(&path.team_name, Role::Viewer)?;
    let store = state.store();
    let team = lookup::team(store, &path.team_name).await?;
    let filter = ContainerFilter {
        team: Some(team.id),
        ..ContainerFilter::default()
    };
    let now = Timestamp::now();
    let containers = store.list_containers(&filter).await?;
    Ok(Json(
        containers
            .iter()
            .map(|c| present_container(c, now))
            .filter(|c| matches(c, &query))
            .collect(),
    ))
}

/// `.../containers/:id`.
#[derive(Debug, Deserialize)]
pub struct ContainerPath {
    team_name: String,
    id: String,
}

/// `GET /api/v1/teams/:team_name/containers/:id`.
#[instrument(skip_all)]
pub async fn get_container(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ContainerPath>,
) -> ApiResult<Json<proto::Container>> {
    caller.require_role(&path.team_name, Role::Viewer)?;
    let store = state.store();
    let team = lookup::team(store, &path.team_name).await?;
    let filter = ContainerFilter {
        team: Some(team.id),
        ..ContainerFilter::default()
    };
    let container = store
        .list_containers(&filter)
        .await?
        .into_iter()
        .find(|container| container.handle.as_str() == path.id)
        .ok_or_else(|| ApiError::NotFound("container".into()))?;
    Ok(Json(present_container(&container, Timestamp::now())))
}

/// `GET /api/v1/teams/:team_name/volumes`.
#[instrument(skip_all)]
pub async fn list_volumes(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
) -> ApiResult<Json<Vec<proto::Volume>>> {
    caller.require_role(&path.team_name, Role::Viewer)?;
    let store = state.store();
    let team = lookup::team(store, &path.team_name).await?;
    let volumes = store
        .list_volumes(&VolumeFilter {
            team: Some(team.id),
            shared: true,
            ..VolumeFilter::default()
        })
        .await?;
    Ok(Json(volumes.iter().map(present_volume).collect()))
}

fn present_volume(volume: &store::Volume) -> proto::Volume {
    let kind = match volume.kind() {
        Some(VolumeKind::Container) | None => "container",
        Some(VolumeKind::ResourceCache) => "resource",
        Some(VolumeKind::TaskCache) => "task-cache",
        Some(VolumeKind::ResourceType) => "resource-type",
        Some(VolumeKind::Artifact) => "artifact",
    };
    let shown = &volume.shown;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let cached = shown
        .cache_version
        .as_ref()
        .map(|version| VolumeResourceType {
            resource_type: None,
            base_resource_type: shown.cache_base_type.as_ref().map(|name| BaseResourceType {
                name: name.clone(),
                version: String::new(),
            }),
            version: serde_json::from_value(version.clone()).unwrap_or_default(),
        });
    proto::Volume {
        id: volume.handle.as_str().to_owned(),
        worker_name: volume.worker_name.as_str().to_owned(),
        kind: kind.to_owned(),
        container_handle: text(&shown.container_handle),
        path: volume.path.clone(),
        parent_handle: text(&shown.parent_handle),
        resource_type: cached,
        base_resource_type: volume.resource_type.as_ref().map(|name| BaseResourceType {
            name: name.clone(),
            version: String::new(),
        }),
        pipeline_id: shown.task_cache_pipeline_id.unwrap_or_default(),
        pipeline_name: text(&shown.task_cache_pipeline),
        pipeline_instance_vars: None,
        job_name: text(&shown.task_cache_job),
        step_name: text(&shown.task_cache_step),
    }
}
