//! Resource caches (a version of a resource config fetched with given params), the uses that
//! keep them alive, and task caches (one `caches:` path of one task step of one job). Volumes
//! point at these; when one goes, its volumes lose their owner and garbage collection takes
//! them. Artifacts live in `one_off_builds.rs`.

use concorde_config::model::VersionMap;

use crate::backend::WritePool;
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{
    BuildId, ContainerId, JobId, ResourceCacheId, ResourceConfigId, TaskCacheId, Timestamp,
};
use crate::json_column::JsonColumn;
use crate::teams::expect_one;
use crate::versions::version_digest;
use crate::{Store, with_db};

/// A resource cache to find or create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResourceCache {
    /// The resource config (type and source) the version belongs to.
    pub config: ResourceConfigId,
    /// The version document.
    pub version: VersionMap,
    /// The `get` params (`{}` for none); only their hash is stored.
    pub params: serde_json::Value,
}

/// A stored resource cache.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResourceCache {
    /// Its id.
    pub id: ResourceCacheId,
    /// The resource config.
    pub resource_config_id: ResourceConfigId,
    /// The version document.
    #[sqlx(try_from = "JsonColumn<VersionMap>")]
    pub version: VersionMap,
    /// Hex SHA-256 of the canonical version.
    pub version_digest: String,
    /// Hex SHA-256 of the canonical params.
    pub params_hash: String,
    /// Metadata the fetch produced (a JSON list of `{name, value}`), once known.
    #[sqlx(try_from = "JsonColumn<Option<serde_json::Value>>")]
    pub metadata: Option<serde_json::Value>,
}

/// Who keeps a resource cache alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheUser {
    /// A build that fetched or reuses it (until garbage collection releases the build).
    Build(BuildId),
    /// A container running from it (a custom resource type's image), for the container's life.
    Container(ContainerId),
}

/// A task cache.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskCache {
    /// Its id.
    pub id: TaskCacheId,
    /// The job.
    pub job_id: JobId,
    /// The task step's name.
    pub step_name: String,
    /// The cached path, relative to the task's working directory.
    pub path: String,
    /// When a build last used it.
    pub last_used: Timestamp,
}

/// Hex SHA-256 of the canonical JSON of a step's params: what tells resource caches of one
/// version apart.
pub fn params_hash(params: &serde_json::Value) -> String {
    concorde_config::json_digest(params)
}

const CACHE_COLUMNS: &str =
    "id, resource_config_id, version, version_digest, params_hash, metadata";

impl Store {
    /// The cache of a config's version fetched with these params, created if missing, and a
    /// use of it by `user` recorded in the same transaction, so a cache never exists unused
    /// and unprotected between the two. `NotFound` for an unknown config or user.
    pub async fn find_or_create_resource_cache(
        &self,
        new: &NewResourceCache,
        user: CacheUser,
    ) -> StoreResult<ResourceCache> {
        let (canonical, digest) = version_digest(&new.version)?;
        let params = params_hash(&new.params);
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            // The no-op update takes the row lock, which a concurrent garbage collection
            // deleting this cache waits on (or makes us wait for, then re-insert).
            let sql = format!(
                "INSERT INTO resource_caches (resource_config_id, version, version_digest, params_hash)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (resource_config_id, version_digest, params_hash)
                 DO UPDATE SET version = excluded.version RETURNING {CACHE_COLUMNS}"
            );
            let cache = sqlx::query_as::<_, ResourceCache>(&sql)
                .bind(new.config)
                .bind(&canonical)
                .bind(&digest)
                .bind(&params)
                .fetch_one(&mut *tx)
                .await
                .map_err(fk_to_not_found("resource config", new.config))?;
            let (sql, user_id, kind) = match user {
                CacheUser::Build(build) => (
                    "INSERT INTO resource_cache_uses (resource_cache_id, build_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    build.0,
                    "build",
                ),
                CacheUser::Container(container) => (
                    "INSERT INTO resource_cache_container_uses (resource_cache_id, container_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    container.0,
                    "container",
                ),
            };
            sqlx::query(sql)
                .bind(cache.id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found(kind, user_id))?;
            tx.commit().await?;
            Ok(cache)
        })
    }

    /// A resource cache by id.
    pub async fn resource_cache(&self, id: ResourceCacheId) -> StoreResult<ResourceCache> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {CACHE_COLUMNS} FROM resource_caches WHERE id = $1");
            sqlx::query_as::<_, ResourceCache>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("resource cache", id))
        })
    }

    /// Records the metadata a fetch into the cache produced (JSON list of `{name, value}`).
    pub async fn save_resource_cache_metadata(
        &self,
        id: ResourceCacheId,
        metadata: &serde_json::Value,
    ) -> StoreResult<()> {
        let metadata = metadata.to_string();
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE resource_caches SET metadata = $2 WHERE id = $1")
                .bind(id)
                .bind(&metadata)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "resource cache", id)
        })
    }

    /// Who currently keeps a cache alive: builds first, then containers, each ascending.
    pub async fn resource_cache_users(&self, id: ResourceCacheId) -> StoreResult<Vec<CacheUser>> {
        let (builds, containers): (Vec<BuildId>, Vec<ContainerId>) = with_db!(self, |pool, pg| {
            let builds = sqlx::query_scalar("SELECT build_id FROM resource_cache_uses WHERE resource_cache_id = $1 ORDER BY build_id")
                .bind(id)
                .fetch_all(pool)
                .await?;
            let containers = sqlx::query_scalar(
                "SELECT container_id FROM resource_cache_container_uses WHERE resource_cache_id = $1 ORDER BY container_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            (builds, containers)
        });
        Ok(builds
            .into_iter()
            .map(CacheUser::Build)
            .chain(containers.into_iter().map(CacheUser::Container))
            .collect())
    }

    /// The task cache of a job's task step and path, created if missing; marks it used now.
    pub async fn find_or_create_task_cache(
        &self,
        job: JobId,
        step_name: &str,
        path: &str,
        now: Timestamp,
    ) -> StoreResult<TaskCache> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_as::<_, TaskCache>(
                "INSERT INTO task_caches (job_id, step_name, path, last_used) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (job_id, step_name, path) DO UPDATE SET last_used = excluded.last_used
                 RETURNING id, job_id, step_name, path, last_used",
            )
            .bind(job)
            .bind(step_name)
            .bind(path)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(fk_to_not_found("job", job))?)
        })
    }

    /// A job's task caches, by step name and path.
    pub async fn list_task_caches(&self, job: JobId) -> StoreResult<Vec<TaskCache>> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_as::<_, TaskCache>(
                "SELECT id, job_id, step_name, path, last_used FROM task_caches WHERE job_id = $1
                 ORDER BY step_name, path",
            )
            .bind(job)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Deletes a job's task caches (`fly clear-task-cache`), of one step, optionally of one
    /// path; returns how many. Their volumes become garbage.
    pub async fn clear_task_caches(
        &self,
        job: JobId,
        step_name: &str,
        path: Option<&str>,
    ) -> StoreResult<u64> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query(
                "DELETE FROM task_caches WHERE job_id = $1 AND step_name = $2 AND ($3 IS NULL OR path = $3)",
            )
            .bind(job)
            .bind(step_name)
            .bind(path)
            .execute(pool)
            .await?;
            Ok(res.rows_affected())
        })
    }
}
