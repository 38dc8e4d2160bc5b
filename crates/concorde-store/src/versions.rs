//! Resource configs, their scopes, and the versions a check or a put saved into a scope, with
//! Concourse's `check_order` rule; plus disabling versions per resource.

use concorde_config::model::{JsonMap, VersionMap};
use concorde_config::{canonical_json, resource_config_digest, sha256_hex};

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{ResourceCacheId, ResourceConfigId, ResourceId, ScopeId, Timestamp, VersionId};
use crate::json_column::JsonColumn;
use crate::teams::expect_one;
use crate::{Store, with_db};

/// A version as a check or put reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    /// The version document.
    pub version: VersionMap,
    /// Metadata, a JSON list of `{name, value}`; `null` keeps the stored metadata.
    pub metadata: serde_json::Value,
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResourceVersion {
    /// Its id.
    pub id: VersionId,
    /// The scope it belongs to.
    pub scope_id: ScopeId,
    /// The version document.
    #[sqlx(try_from = "JsonColumn<VersionMap>")]
    pub version: VersionMap,
    /// Hex SHA-256 of the canonical JSON.
    pub version_digest: String,
    /// Metadata, a JSON list of `{name, value}` (or `null`).
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub metadata: serde_json::Value,
    /// Position in the scope's history: larger is newer.
    pub check_order: i64,
}

/// How [`Store::find_version`] names a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionKey<'a> {
    /// By the hex digest of its canonical JSON.
    Digest(&'a str),
    /// By its id.
    Id(VersionId),
}

/// What saving a check's versions did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveVersionsOutcome {
    /// How many of the versions were not stored before.
    pub new_versions: usize,
}

pub(crate) const VERSION_COLUMNS: &str =
    "id, scope_id, version, version_digest, metadata, check_order";

/// Canonical JSON and hex SHA-256 digest of a version; `EmptyVersion` for `{}`.
pub fn version_digest(version: &VersionMap) -> StoreResult<(String, String)> {
    if version.is_empty() {
        return Err(StoreError::EmptyVersion);
    }
    let canonical = canonical_json(&serde_json::json!(version));
    let hex = sha256_hex(canonical.as_bytes());
    Ok((canonical, hex))
}

impl Store {
    /// Deletes every version of a scope (`fly clear-versions`), so its next check starts
    /// from nothing; the resources using it are due for a check and their jobs are
    /// rescheduled. How many versions went.
    pub async fn clear_versions(&self, scope: ScopeId, now: Timestamp) -> StoreResult<u64> {
        let removed = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let removed = sqlx::query("DELETE FROM resource_config_versions WHERE scope_id = $1")
                .bind(scope)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for table in ["resources", "resource_types"] {
                let sql = format!("UPDATE {table} SET last_check_start = NULL WHERE scope_id = $1");
                sqlx::query(&sql).bind(scope).execute(&mut *tx).await?;
            }
            request_schedule_for_scope(&mut tx, scope, now).await?;
            tx.commit().await?;
            removed
        });
        self.notify(Topic::CheckRequested, "").await?;
        self.notify(Topic::JobScheduling, "").await?;
        Ok(removed)
    }

    /// The resource config of a resource whose type `kind` runs on `base_type`, with
    /// `source` laid over the type's defaults; created if missing; touches `last_referenced`.
    /// Its identity is `concorde_config::resource_config_digest(kind, source)`, so the same
    /// source in any key order is one resource config.
    pub async fn find_or_create_resource_config(
        &self,
        base_type: &str,
        kind: &str,
        source: &JsonMap,
        now: Timestamp,
    ) -> StoreResult<ResourceConfigId> {
        let source_hash = resource_config_digest(kind, source);
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let base: i64 = sqlx::query_scalar(
                "INSERT INTO base_resource_types (name) VALUES ($1)
                 ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
            )
            .bind(base_type)
            .fetch_one(&mut *tx)
            .await?;
            let id: ResourceConfigId = sqlx::query_scalar(
                "INSERT INTO resource_configs (base_resource_type_id, source_hash, last_referenced)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (base_resource_type_id, source_hash) WHERE base_resource_type_id IS NOT NULL
                 DO UPDATE SET last_referenced = excluded.last_referenced RETURNING id",
            )
            .bind(base)
            .bind(&source_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The resource config of a custom type: the cache of its parent type's image plus source.
    pub async fn find_or_create_custom_resource_config(
        &self,
        image_cache: ResourceCacheId,
        source_hash: &str,
        now: Timestamp,
    ) -> StoreResult<ResourceConfigId> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_scalar::<_, ResourceConfigId>(
                "INSERT INTO resource_configs (resource_cache_id, source_hash, last_referenced)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (resource_cache_id, source_hash) WHERE resource_cache_id IS NOT NULL
                 DO UPDATE SET last_referenced = excluded.last_referenced RETURNING id",
            )
            .bind(image_cache)
            .bind(source_hash)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The scope of a config: shared (`resource = None`) or private to one resource.
    pub async fn find_or_create_scope(
        &self,
        config: ResourceConfigId,
        resource: Option<ResourceId>,
    ) -> StoreResult<ScopeId> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let found: Option<ScopeId> = sqlx::query_scalar(
                "SELECT id FROM resource_config_scopes WHERE resource_config_id = $1
                 AND ((resource_id IS NULL AND $2 IS NULL) OR resource_id = $2)",
            )
            .bind(config)
            .bind(resource)
            .fetch_optional(&mut *tx)
            .await?;
            let id = match found {
                Some(id) => id,
                None => sqlx::query_scalar(
                    "INSERT INTO resource_config_scopes (resource_config_id, resource_id) VALUES ($1, $2) RETURNING id",
                )
                .bind(config)
                .bind(resource)
                .fetch_one(&mut *tx)
                .await
                .map_err(fk_to_not_found("resource config or resource", config))?,
            };
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Saves what a check returned, oldest first. If any version is new, the whole list is
    /// renumbered above the scope's current maximum in list order (the last is the newest) and
    /// jobs with a non-`passed` input on the scope get a schedule request; re-reporting known
    /// versions changes nothing. All or nothing: an empty version fails the whole save.
    pub async fn save_check_versions(
        &self,
        scope: ScopeId,
        versions: &[NewVersion],
        now: Timestamp,
    ) -> StoreResult<SaveVersionsOutcome> {
        let prepared = prepare(versions)?;
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            lock_scope(&mut tx, scope, pg).await?;
            let mut ids = Vec::with_capacity(prepared.len());
            let mut new_versions = 0;
            for (canonical, digest, metadata) in &prepared {
                let (id, order): (VersionId, i64) = sqlx::query_as(UPSERT_VERSION)
                    .bind(scope)
                    .bind(canonical)
                    .bind(digest)
                    .bind(metadata)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fk_to_not_found("scope", scope))?;
                if order == 0 {
                    new_versions += 1;
                }
                ids.push(id);
            }
            if new_versions > 0 {
                let max: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(check_order), 0) FROM resource_config_versions WHERE scope_id = $1",
                )
                .bind(scope)
                .fetch_one(&mut *tx)
                .await?;
                for (offset, id) in (1..).zip(&ids) {
                    sqlx::query(
                        "UPDATE resource_config_versions SET check_order = $1 WHERE id = $2",
                    )
                    .bind(max + offset)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
                request_schedule_for_scope(&mut tx, scope, now).await?;
            }
            tx.commit().await?;
            Ok(SaveVersionsOutcome { new_versions })
        })
    }

    /// A scope's versions, newest first, at most `limit`, older than `before_check_order` if set.
    pub async fn list_versions(
        &self,
        scope: ScopeId,
        before_check_order: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ResourceVersion>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM resource_config_versions
                 WHERE scope_id = $1 AND check_order > 0 AND ($2 IS NULL OR check_order < $2)
                 ORDER BY check_order DESC LIMIT $3"
            );
            Ok(sqlx::query_as::<_, ResourceVersion>(&sql)
                .bind(scope)
                .bind(before_check_order)
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }

    /// One saved version of a scope, by digest or by id (both indexed); `None` when the scope
    /// has no such version, or has it only as a not-yet-ordered placeholder.
    pub async fn find_version(
        &self,
        scope: ScopeId,
        key: VersionKey<'_>,
    ) -> StoreResult<Option<ResourceVersion>> {
        let column = match key {
            VersionKey::Digest(_) => "version_digest",
            VersionKey::Id(_) => "id",
        };
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_config_versions
             WHERE scope_id = $1 AND check_order > 0 AND {column} = $2"
        );
        with_db!(self, |pool, pg| {
            let query = sqlx::query_as::<_, ResourceVersion>(&sql).bind(scope);
            let query = match key {
                VersionKey::Digest(digest) => query.bind(digest),
                VersionKey::Id(id) => query.bind(id),
            };
            Ok(query.fetch_optional(pool).await?)
        })
    }

    /// Disables (`enabled = false`) or re-enables a version of a resource, and requests
    /// scheduling of the jobs using the resource.
    pub async fn set_version_enabled(
        &self,
        resource: ResourceId,
        version_digest: &str,
        enabled: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = if enabled {
                "DELETE FROM disabled_versions WHERE resource_id = $1 AND version_digest = $2"
            } else {
                "INSERT INTO disabled_versions (resource_id, version_digest) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING"
            };
            sqlx::query(sql)
                .bind(resource)
                .bind(version_digest)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found("resource", resource))?;
            request_schedule_for_resource(&mut tx, resource, now).await?;
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM resources WHERE id = $1")
                    .bind(resource)
                    .fetch_optional(&mut *tx)
                    .await?;
            expect_one(u64::from(exists.is_some()), "resource", resource)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Digests of a resource's disabled versions, sorted.
    pub async fn disabled_versions(&self, resource: ResourceId) -> StoreResult<Vec<String>> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_scalar(
                "SELECT version_digest FROM disabled_versions WHERE resource_id = $1 ORDER BY version_digest",
            )
            .bind(resource)
            .fetch_all(pool)
            .await?)
        })
    }
}

/// Upserts one version with check_order 0 when new; metadata is replaced unless the new
/// metadata is JSON `null`. Returns the id and the check_order (0 = new in this transaction).
pub(crate) const UPSERT_VERSION: &str = "INSERT INTO resource_config_versions
      (scope_id, version, version_digest, metadata, check_order) VALUES ($1, $2, $3, $4, 0)
    ON CONFLICT (scope_id, version_digest) DO UPDATE SET metadata = CASE
      WHEN excluded.metadata = 'null' THEN resource_config_versions.metadata ELSE excluded.metadata END
    RETURNING id, check_order";

/// On PostgreSQL, locks a scope's row until the transaction ends, so two writers numbering
/// versions of one scope (checks, puts) take turns instead of both reading the same maximum
/// `check_order`. SQLite transactions that write are serialized already. A missing scope is
/// left for the caller's insert to report.
pub(crate) async fn lock_scope<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    scope: ScopeId,
    pg: bool,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    ScopeId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if pg {
        sqlx::query("SELECT id FROM resource_config_scopes WHERE id = $1 FOR UPDATE")
            .bind(scope)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Validates and canonicalizes versions before any SQL runs.
pub(crate) fn prepare(versions: &[NewVersion]) -> StoreResult<Vec<(String, String, String)>> {
    versions
        .iter()
        .map(|v| {
            let (canonical, digest) = version_digest(&v.version)?;
            Ok((canonical, digest, v.metadata.to_string()))
        })
        .collect()
}

/// Bumps `schedule_requested` of jobs that have an input without `passed` on a resource
/// currently pointed at `scope`.
pub(crate) async fn request_schedule_for_scope<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    scope: ScopeId,
    now: Timestamp,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Timestamp: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    ScopeId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE jobs SET schedule_requested = $1 WHERE id IN (
           SELECT ji.job_id FROM job_inputs ji JOIN resources r ON r.id = ji.resource_id
           WHERE r.scope_id = $2 AND ji.passed_job_id IS NULL)",
    )
    .bind(now)
    .bind(scope)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps `schedule_requested` of every job with an input on `resource` (pins, disabling).
pub(crate) async fn request_schedule_for_resource<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    resource: ResourceId,
    now: Timestamp,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Timestamp: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    ResourceId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE jobs SET schedule_requested = $1
         WHERE id IN (SELECT job_id FROM job_inputs WHERE resource_id = $2)",
    )
    .bind(now)
    .bind(resource)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
