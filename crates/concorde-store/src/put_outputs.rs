//! Put outputs: the version a `put` step produced, saved into the resource's scope and
//! recorded as an output of the build, in one transaction.
//!
//! Concourse's ordering rule for a put differs from a check's: a check's batch is renumbered
//! whole, but a put's single version keeps its `check_order` when the scope already has it
//! (re-putting an old version does not make it the newest) and otherwise goes right after the
//! current maximum.

use crate::backend::WritePool;
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{BuildId, ResourceId, ScopeId, Timestamp, VersionId};
use crate::versions::{
    NewVersion, ResourceVersion, UPSERT_VERSION, VERSION_COLUMNS, lock_scope, prepare,
    request_schedule_for_scope,
};
use crate::{Store, with_db};

/// The version a put step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutput {
    /// The build that ran the put.
    pub build: BuildId,
    /// The resource it put to.
    pub resource: ResourceId,
    /// The step's name, recorded as the output name.
    pub name: String,
    /// The scope the put's resource config resolved to; `None` uses the resource's current
    /// scope (`NotFound` if it has none yet).
    pub scope: Option<ScopeId>,
    /// The version and its metadata.
    pub version: NewVersion,
    /// When the put finished.
    pub now: Timestamp,
}

impl Store {
    /// Saves a put's version into the scope (keeping its `check_order` if known, else after
    /// the maximum), records it as an output of the build, and, when the version is new,
    /// requests scheduling of the jobs that take the resource without `passed:`.
    ///
    /// `NotFound` for an unknown build, resource or scope; `EmptyVersion`
    /// for a bad version, before anything is written.
    pub async fn save_put_output(&self, output: &PutOutput) -> StoreResult<ResourceVersion> {
        let prepared = prepare(std::slice::from_ref(&output.version))?;
        let Some((canonical, digest, metadata)) = prepared.into_iter().next() else {
            return Err(StoreError::EmptyVersion);
        };
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let scope = match output.scope {
                Some(scope) => scope,
                None => {
                    let found: Option<Option<ScopeId>> =
                        sqlx::query_scalar("SELECT scope_id FROM resources WHERE id = $1")
                            .bind(output.resource)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let found =
                        found.ok_or_else(|| StoreError::not_found("resource", output.resource))?;
                    found.ok_or_else(|| {
                        StoreError::not_found("scope of resource", output.resource)
                    })?
                }
            };
            lock_scope(&mut tx, scope, pg).await?;
            let (id, order): (VersionId, i64) = sqlx::query_as(UPSERT_VERSION)
                .bind(scope)
                .bind(&canonical)
                .bind(&digest)
                .bind(&metadata)
                .fetch_one(&mut *tx)
                .await
                .map_err(fk_to_not_found("scope", scope))?;
            if order == 0 {
                sqlx::query(
                    "UPDATE resource_config_versions SET check_order =
                       (SELECT COALESCE(MAX(check_order), 0) + 1 FROM resource_config_versions WHERE scope_id = $1)
                     WHERE id = $2",
                )
                .bind(scope)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                request_schedule_for_scope(&mut tx, scope, output.now).await?;
            }
            let recorded = sqlx::query(
                "INSERT INTO build_outputs (build_id, job_id, resource_id, version_digest, name)
                 SELECT id, job_id, $2, $3, $4 FROM builds WHERE id = $1 ON CONFLICT DO NOTHING",
            )
            .bind(output.build)
            .bind(output.resource)
            .bind(&digest)
            .bind(&output.name)
            .execute(&mut *tx)
            .await
            .map_err(fk_to_not_found("resource", output.resource))?;
            if recorded.rows_affected() == 0 {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM builds WHERE id = $1")
                        .bind(output.build)
                        .fetch_optional(&mut *tx)
                        .await?;
                exists.ok_or_else(|| StoreError::not_found("build", output.build))?;
            }
            let sql =
                format!("SELECT {VERSION_COLUMNS} FROM resource_config_versions WHERE id = $1");
            let version = sqlx::query_as::<_, ResourceVersion>(&sql)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(version)
        })
    }
}
