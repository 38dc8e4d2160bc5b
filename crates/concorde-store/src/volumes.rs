//! Volumes: the rows behind the directories workers hold, their owners (a container, a
//! resource cache, a task cache, a base resource type's image, an artifact), copy-on-write
//! parents and children, and the state machine `creating → created → destroying` (and
//! `creating → failed`).
//!
//! A child pins its parent through the foreign key `(parent_id, parent_state) → (id, state)`:
//! the child records the parent's state (`created`) when it is made, so the database itself
//! refuses to move a parent with live children to `destroying` or to delete it. That check
//! runs inside the database, so it also holds against a child created concurrently.

use crate::backend::WritePool;
use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{
    ArtifactId, ContainerId, ResourceCacheId, TaskCacheId, TeamId, Timestamp, VolumeHandle,
    VolumeId, WorkerName,
};
use crate::json_column::JsonColumn;
use crate::states::state_enum;
use crate::{Store, with_db};

state_enum! {
    /// Where a volume is in its life.
    VolumeState, "volume state" {
        /// The row exists; the worker may or may not have the volume yet.
        Creating = "creating",
        /// The worker made it.
        Created = "created",
        /// Garbage: the worker will destroy it, then the row goes.
        Destroying = "destroying",
        /// Making it failed; garbage collection deletes the row.
        Failed = "failed",
    }
}

/// What a new volume is for. While an owner remains, garbage collection leaves it alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VolumeOwner {
    /// Mounted in a container (inputs, outputs, caches, scratch, the image's copy).
    Container(ContainerId),
    /// Holds a fetched resource version on this worker.
    ResourceCache(ResourceCacheId),
    /// Holds a task cache on this worker.
    TaskCache(TaskCacheId),
    /// Holds the image of a base resource type the worker advertises, by type name.
    ResourceType(String),
    /// Holds files uploaded by `fly execute`.
    Artifact(ArtifactId),
}

/// What a volume holds, by its most durable owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeKind {
    /// Mounted in a container only.
    Container,
    /// A resource cache.
    ResourceCache,
    /// A task cache.
    TaskCache,
    /// A base resource type's image.
    ResourceType,
    /// An artifact.
    Artifact,
}

/// A volume row to create, in state `creating`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolume {
    /// Its handle, unique across workers.
    pub handle: VolumeHandle,
    /// The worker it goes on.
    pub worker: WorkerName,
    /// What it is for.
    pub owner: VolumeOwner,
    /// Team it is visible to.
    pub team: Option<TeamId>,
    /// Where it is mounted (for container volumes), for display.
    pub path: String,
    /// The `created` volume on the same worker it is a copy-on-write child of.
    pub parent: Option<VolumeHandle>,
    /// Creation time.
    pub now: Timestamp,
}

/// A volume row. Several owners may be set at once (a container's volume that became a
/// resource cache keeps both until the container goes); it is garbage once none is.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Volume {
    /// Its id.
    pub id: VolumeId,
    /// Its handle.
    pub handle: VolumeHandle,
    /// The worker it is on.
    pub worker_name: WorkerName,
    /// Where it is in its life.
    #[sqlx(try_from = "String")]
    pub state: VolumeState,
    /// Team it is visible to.
    pub team_id: Option<TeamId>,
    /// Mount path, for display.
    pub path: String,
    /// Owning container.
    pub container_id: Option<ContainerId>,
    /// Resource cache it holds.
    pub resource_cache_id: Option<ResourceCacheId>,
    /// Task cache it holds.
    pub task_cache_id: Option<TaskCacheId>,
    /// Base resource type whose image it holds.
    pub resource_type: Option<String>,
    /// Artifact it holds.
    pub artifact_id: Option<ArtifactId>,
    /// Its copy-on-write parent.
    pub parent_id: Option<VolumeId>,
    /// Since when the worker no longer reports it, if it does not.
    pub missing_since: Option<Timestamp>,
    /// When the row was created.
    pub created_at: Timestamp,
    /// What `fly volumes` shows of its owners.
    #[sqlx(flatten)]
    pub shown: VolumeDisplay,
}

/// The names `fly volumes` shows for a volume's owners, read with it. Display only.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct VolumeDisplay {
    /// Handle of the container it is mounted in.
    pub container_handle: Option<String>,
    /// Handle of its copy-on-write parent.
    pub parent_handle: Option<String>,
    /// For a resource cache: the cached version.
    #[sqlx(try_from = "JsonColumn<Option<serde_json::Value>>")]
    pub cache_version: Option<serde_json::Value>,
    /// For a resource cache of a base type's resource: that base type.
    pub cache_base_type: Option<String>,
    /// For a task cache: its pipeline.
    pub task_cache_pipeline_id: Option<i64>,
    /// For a task cache: its pipeline's name.
    pub task_cache_pipeline: Option<String>,
    /// For a task cache: its job's name.
    pub task_cache_job: Option<String>,
    /// For a task cache: its step's name.
    pub task_cache_step: Option<String>,
}

impl Volume {
    /// What it holds, by its most durable owner; `None` when it has no owner left.
    pub fn kind(&self) -> Option<VolumeKind> {
        if self.resource_cache_id.is_some() {
            Some(VolumeKind::ResourceCache)
        } else if self.task_cache_id.is_some() {
            Some(VolumeKind::TaskCache)
        } else if self.resource_type.is_some() {
            Some(VolumeKind::ResourceType)
        } else if self.artifact_id.is_some() {
            Some(VolumeKind::Artifact)
        } else if self.container_id.is_some() {
            Some(VolumeKind::Container)
        } else {
            None
        }
    }
}

/// Which volumes to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFilter {
    /// Only this worker's.
    pub worker: Option<WorkerName>,
    /// Only this team's (and, with `shared`, those of no team).
    pub team: Option<TeamId>,
    /// With `team`: also the volumes no team owns (resource caches, base type images), which
    /// every team's builds share.
    pub shared: bool,
    /// Only this container's.
    pub container: Option<ContainerId>,
}

const VOLUME_SELECT: &str = "SELECT v.id, v.handle, v.worker_name, v.state, v.team_id, v.path, \
    v.container_id, v.resource_cache_id, v.task_cache_id, bt.name AS resource_type, v.artifact_id, \
    v.parent_id, v.missing_since, v.created_at, \
    c.handle AS container_handle, parent.handle AS parent_handle, \
    rc.version AS cache_version, cbt.name AS cache_base_type, \
    tp.id AS task_cache_pipeline_id, tp.name AS task_cache_pipeline, tj.name AS task_cache_job, \
    tc.step_name AS task_cache_step \
    FROM volumes v \
    LEFT JOIN worker_base_resource_types wbt ON wbt.id = v.worker_base_resource_type_id \
    LEFT JOIN base_resource_types bt ON bt.id = wbt.base_resource_type_id \
    LEFT JOIN containers c ON c.id = v.container_id \
    LEFT JOIN volumes parent ON parent.id = v.parent_id \
    LEFT JOIN resource_caches rc ON rc.id = v.resource_cache_id \
    LEFT JOIN resource_configs rcfg ON rcfg.id = rc.resource_config_id \
    LEFT JOIN base_resource_types cbt ON cbt.id = rcfg.base_resource_type_id \
    LEFT JOIN task_caches tc ON tc.id = v.task_cache_id \
    LEFT JOIN jobs tj ON tj.id = tc.job_id \
    LEFT JOIN pipelines tp ON tp.id = tj.pipeline_id";

impl Store {
    /// Creates a volume row in state `creating`. A copy-on-write child needs a `created`
    /// parent on the same worker (`InvalidTransition` otherwise, `NotFound` if there is none).
    ///
    /// `AlreadyExists` for a handle in use; `NotFound` for an unknown worker or owner, or a
    /// base resource type the worker does not advertise.
    pub async fn create_volume(&self, new: &NewVolume) -> StoreResult<Volume> {
        let (container, cache, task_cache, artifact) = match &new.owner {
            VolumeOwner::Container(id) => (Some(*id), None, None, None),
            VolumeOwner::ResourceCache(id) => (None, Some(*id), None, None),
            VolumeOwner::TaskCache(id) => (None, None, Some(*id), None),
            VolumeOwner::Artifact(id) => (None, None, None, Some(*id)),
            VolumeOwner::ResourceType(_) => (None, None, None, None),
        };
        let id: VolumeId = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let base_type: Option<i64> = match &new.owner {
                VolumeOwner::ResourceType(name) => {
                    let id: Option<i64> = sqlx::query_scalar(
                        "SELECT wbt.id FROM worker_base_resource_types wbt
                         JOIN base_resource_types bt ON bt.id = wbt.base_resource_type_id
                         WHERE wbt.worker_name = $1 AND bt.name = $2",
                    )
                    .bind(&new.worker)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
                    Some(id.ok_or_else(|| {
                        StoreError::not_found(
                            "worker resource type",
                            format!("{}/{name}", new.worker),
                        )
                    })?)
                }
                _ => None,
            };
            let parent: Option<VolumeId> = match &new.parent {
                None => None,
                Some(handle) => {
                    let row: Option<(VolumeId, String)> = sqlx::query_as(
                        "SELECT id, state FROM volumes WHERE handle = $1 AND worker_name = $2",
                    )
                    .bind(handle)
                    .bind(&new.worker)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (id, state) =
                        row.ok_or_else(|| StoreError::not_found("parent volume", handle))?;
                    if state != "created" {
                        return Err(parent_refused(handle, &state));
                    }
                    Some(id)
                }
            };
            let inserted: Result<VolumeId, sqlx::Error> = sqlx::query_scalar(
                "INSERT INTO volumes (handle, worker_name, state, path, team_id, container_id,
                   resource_cache_id, task_cache_id, worker_base_resource_type_id, artifact_id,
                   parent_id, parent_state, created_at)
                 VALUES ($1, $2, 'creating', $3, $4, $5, $6, $7, $8, $9, $10,
                   CASE WHEN $10 IS NULL THEN NULL ELSE 'created' END, $11)
                 RETURNING id",
            )
            .bind(&new.handle)
            .bind(&new.worker)
            .bind(&new.path)
            .bind(new.team)
            .bind(container)
            .bind(cache)
            .bind(task_cache)
            .bind(base_type)
            .bind(artifact)
            .bind(parent)
            .bind(new.now)
            .fetch_one(&mut *tx)
            .await;
            let id = match inserted {
                Ok(id) => id,
                Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    tx.rollback().await?;
                    if let Some(parent) = &new.parent {
                        // The parent may have left `created` between our read and the insert.
                        let state: Option<String> =
                            sqlx::query_scalar("SELECT state FROM volumes WHERE handle = $1")
                                .bind(parent)
                                .fetch_optional(pool)
                                .await?;
                        if state.as_deref() != Some("created") {
                            return Err(parent_refused(
                                parent,
                                state.as_deref().unwrap_or("deleted"),
                            ));
                        }
                    }
                    let owner = format!("{} / {:?}", new.worker, new.owner);
                    return Err(StoreError::not_found("worker or volume owner", owner));
                }
                Err(err) => return Err(unique_to_exists("volume", &new.handle)(err)),
            };
            tx.commit().await?;
            id
        });
        self.volume_by_id(id).await
    }

    /// A volume by handle.
    pub async fn volume(&self, handle: &VolumeHandle) -> StoreResult<Volume> {
        let row = with_db!(self, |pool, pg| {
            let sql = format!("{VOLUME_SELECT} WHERE v.handle = $1");
            sqlx::query_as::<_, Volume>(&sql)
                .bind(handle)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::not_found("volume", handle))
    }

    async fn volume_by_id(&self, id: VolumeId) -> StoreResult<Volume> {
        let row = with_db!(self, |pool, pg| {
            let sql = format!("{VOLUME_SELECT} WHERE v.id = $1");
            sqlx::query_as::<_, Volume>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::not_found("volume", id))
    }

    /// Volumes matching every given filter, oldest first (`fly volumes`).
    pub async fn list_volumes(&self, filter: &VolumeFilter) -> StoreResult<Vec<Volume>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "{VOLUME_SELECT} WHERE ($1 IS NULL OR v.worker_name = $1)
                   AND ($2 IS NULL OR v.team_id = $2 OR ($4 AND v.team_id IS NULL))
                   AND ($3 IS NULL OR v.container_id = $3) ORDER BY v.id"
            );
            Ok(sqlx::query_as::<_, Volume>(&sql)
                .bind(&filter.worker)
                .bind(filter.team)
                .bind(filter.container)
                .bind(filter.shared)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The `created` volume holding a resource cache on a worker, if any.
    pub async fn find_resource_cache_volume(
        &self,
        worker: &WorkerName,
        cache: ResourceCacheId,
    ) -> StoreResult<Option<Volume>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "{VOLUME_SELECT} WHERE v.worker_name = $1 AND v.resource_cache_id = $2 AND v.state = 'created'"
            );
            Ok(sqlx::query_as::<_, Volume>(&sql)
                .bind(worker)
                .bind(cache)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The `created` volume holding a task cache on a worker, if any.
    pub async fn find_task_cache_volume(
        &self,
        worker: &WorkerName,
        cache: TaskCacheId,
    ) -> StoreResult<Option<Volume>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "{VOLUME_SELECT} WHERE v.worker_name = $1 AND v.task_cache_id = $2 AND v.state = 'created'"
            );
            Ok(sqlx::query_as::<_, Volume>(&sql)
                .bind(worker)
                .bind(cache)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// The `created` volume holding a base resource type's image on a worker, if any.
    pub async fn find_resource_type_volume(
        &self,
        worker: &WorkerName,
        type_name: &str,
    ) -> StoreResult<Option<Volume>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "{VOLUME_SELECT} WHERE v.worker_name = $1 AND bt.name = $2 AND v.state = 'created'"
            );
            Ok(sqlx::query_as::<_, Volume>(&sql)
                .bind(worker)
                .bind(type_name)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Makes a `created` volume (typically the one a `get` step filled) the worker's volume
    /// for a resource cache. `false` when the worker already has one for that cache (the
    /// volume then stays what it was).
    pub async fn init_resource_cache_volume(
        &self,
        handle: &VolumeHandle,
        cache: ResourceCacheId,
    ) -> StoreResult<bool> {
        self.init_cache_volume(handle, "resource_cache_id", cache.0)
            .await
    }

    /// Makes a `created` volume the worker's volume for a task cache. `false` when the worker
    /// already has one for that cache.
    pub async fn init_task_cache_volume(
        &self,
        handle: &VolumeHandle,
        cache: TaskCacheId,
    ) -> StoreResult<bool> {
        self.init_cache_volume(handle, "task_cache_id", cache.0)
            .await
    }

    async fn init_cache_volume(
        &self,
        handle: &VolumeHandle,
        column: &'static str,
        cache: i64,
    ) -> StoreResult<bool> {
        let volume = self.volume(handle).await?;
        if volume.state != VolumeState::Created {
            return Err(refused(handle, volume.state, "cache"));
        }
        let updated = with_db!(self, |pool, pg| {
            let sql = format!(
                "UPDATE volumes SET {column} = $2, team_id = NULL WHERE handle = $1 AND state = 'created'
                 AND NOT EXISTS (SELECT 1 FROM volumes other
                   WHERE other.worker_name = volumes.worker_name AND other.{column} = $2)"
            );
            match sqlx::query(&sql)
                .bind(handle)
                .bind(cache)
                .execute(pool)
                .await
            {
                Ok(res) => res.rows_affected(),
                // Another node initialized a volume for the same cache on this worker first.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => 0,
                Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    return Err(StoreError::not_found("cache", cache));
                }
                Err(err) => return Err(err.into()),
            }
        });
        Ok(updated > 0)
    }

    /// `creating → created`: the worker made it.
    pub async fn volume_created(&self, handle: &VolumeHandle) -> StoreResult<()> {
        self.transition_volume(handle, VolumeState::Creating, VolumeState::Created)
            .await
    }

    /// `creating → failed`: making it failed.
    pub async fn volume_failed(&self, handle: &VolumeHandle) -> StoreResult<()> {
        self.transition_volume(handle, VolumeState::Creating, VolumeState::Failed)
            .await
    }

    /// `created → destroying`: the worker should destroy it. `VolumeHasChildren` while
    /// copy-on-write children exist; `InvalidTransition` from `creating` or `failed`.
    pub async fn destroy_volume(&self, handle: &VolumeHandle) -> StoreResult<()> {
        self.transition_volume(handle, VolumeState::Created, VolumeState::Destroying)
            .await
    }

    async fn transition_volume(
        &self,
        handle: &VolumeHandle,
        from: VolumeState,
        to: VolumeState,
    ) -> StoreResult<()> {
        let updated = with_db!(self, |pool, pg| {
            let res = sqlx::query(
                "UPDATE volumes SET state = $2 WHERE handle = $1 AND state IN ($3, $2)",
            )
            .bind(handle)
            .bind(to.as_str())
            .bind(from.as_str())
            .execute(pool)
            .await;
            match res {
                Ok(res) => res.rows_affected(),
                Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    return Err(StoreError::VolumeHasChildren {
                        handle: handle.to_string(),
                    });
                }
                Err(err) => return Err(err.into()),
            }
        });
        if updated == 0 {
            let volume = self.volume(handle).await?;
            return Err(refused(handle, volume.state, to.as_str()));
        }
        Ok(())
    }
}

fn refused(handle: &VolumeHandle, from: VolumeState, to: &str) -> StoreError {
    StoreError::InvalidTransition {
        kind: "volume",
        id: handle.to_string(),
        from: from.as_str().into(),
        to: to.into(),
    }
}

fn parent_refused(parent: &VolumeHandle, state: &str) -> StoreError {
    StoreError::InvalidTransition {
        kind: "volume",
        id: parent.to_string(),
        from: state.into(),
        to: "parent of a copy-on-write child".into(),
    }
}
