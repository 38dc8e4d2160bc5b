//! Resources and resource types: lookups, check bookkeeping, scope pointers and pins.

use crate::backend::WritePool;
use crate::check_builds::CheckTarget;
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{
    BuildId, PipelineId, ResourceConfigId, ResourceId, ResourceTypeId, ScopeId, Timestamp,
};
use crate::json_column::{CheckEveryColumn, JsonColumn};
use crate::teams::expect_one;
use concorde_config::canonical_json;
use concorde_config::model::{CheckEvery, VersionMap};

use crate::versions::{request_schedule_for_resource, request_schedule_for_scope};
use crate::{Store, with_db};

/// A resource of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Resource {
    /// Its id.
    pub id: ResourceId,
    /// Its pipeline.
    pub pipeline_id: PipelineId,
    /// Name, unique in the pipeline.
    pub name: String,
    /// Type name.
    #[sqlx(rename = "type")]
    pub type_name: String,
    /// Its config, in its JSON form.
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub config: serde_json::Value,
    /// False once removed from the pipeline config.
    pub active: bool,
    /// `check_every` as written.
    #[sqlx(try_from = "CheckEveryColumn")]
    pub check_every: Option<CheckEvery>,
    /// The config (type + source hash) it currently resolves to.
    pub resource_config_id: Option<ResourceConfigId>,
    /// The scope whose versions it shows.
    pub scope_id: Option<ScopeId>,
    /// When the last check started.
    pub last_check_start: Option<Timestamp>,
    /// When the last check ended.
    pub last_check_end: Option<Timestamp>,
    /// The last check's error, `None` if it succeeded.
    pub last_check_error: Option<String>,
    /// The last check build (pending, running or finished).
    pub last_check_build_id: Option<BuildId>,
    /// Version pinned through the API.
    #[sqlx(try_from = "JsonColumn<Option<VersionMap>>")]
    pub api_pinned_version: Option<VersionMap>,
    /// Comment attached to the API pin.
    pub pin_comment: Option<String>,
    /// Version pinned by `version:` in the config; wins over the API pin.
    #[sqlx(try_from = "JsonColumn<Option<VersionMap>>")]
    pub config_pinned_version: Option<VersionMap>,
}

impl Resource {
    /// The pin in effect: the config pin, else the API pin.
    pub fn pinned_version(&self) -> Option<&VersionMap> {
        self.config_pinned_version
            .as_ref()
            .or(self.api_pinned_version.as_ref())
    }
}

/// A resource type of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResourceType {
    /// Its id.
    pub id: ResourceTypeId,
    /// Its pipeline.
    pub pipeline_id: PipelineId,
    /// Name, unique in the pipeline.
    pub name: String,
    /// The type it is built from.
    #[sqlx(rename = "type")]
    pub type_name: String,
    /// Its config, in its JSON form.
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub config: serde_json::Value,
    /// False once removed from the pipeline config.
    pub active: bool,
    /// `check_every` as written.
    #[sqlx(try_from = "CheckEveryColumn")]
    pub check_every: Option<CheckEvery>,
    /// The scope whose versions it uses.
    pub scope_id: Option<ScopeId>,
    /// When the last check started.
    pub last_check_start: Option<Timestamp>,
    /// The last check's error.
    pub last_check_error: Option<String>,
    /// The last check build (pending, running or finished).
    pub last_check_build_id: Option<BuildId>,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// When it ended.
    pub ended: Timestamp,
    /// Its error, `None` on success.
    pub error: Option<String>,
}

const RESOURCE_COLUMNS: &str = "id, pipeline_id, name, type, config, active, check_every, \
    resource_config_id, scope_id, last_check_start, last_check_end, last_check_error, \
    last_check_build_id, api_pinned_version, pin_comment, config_pinned_version";
const TYPE_COLUMNS: &str = "id, pipeline_id, name, type, config, active, check_every, scope_id, \
    last_check_start, last_check_error, last_check_build_id";

impl Store {
    /// A resource by id.
    pub async fn resource(&self, id: ResourceId) -> StoreResult<Resource> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE id = $1");
            sqlx::query_as::<_, Resource>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("resource", id))
        })
    }

    /// The active resources of a pipeline, by name.
    pub async fn list_resources(&self, pipeline: PipelineId) -> StoreResult<Vec<Resource>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources WHERE pipeline_id = $1 AND active ORDER BY name"
            );
            Ok(sqlx::query_as::<_, Resource>(&sql)
                .bind(pipeline)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The active resource types of a pipeline, by name.
    pub async fn list_resource_types(
        &self,
        pipeline: PipelineId,
    ) -> StoreResult<Vec<ResourceType>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {TYPE_COLUMNS} FROM resource_types WHERE pipeline_id = $1 AND active ORDER BY name"
            );
            Ok(sqlx::query_as::<_, ResourceType>(&sql)
                .bind(pipeline)
                .fetch_all(pool)
                .await?)
        })
    }

    /// A resource type by id.
    pub async fn resource_type(&self, id: ResourceTypeId) -> StoreResult<ResourceType> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {TYPE_COLUMNS} FROM resource_types WHERE id = $1");
            sqlx::query_as::<_, ResourceType>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("resource type", id))
        })
    }

    /// Points a resource at a config and scope (after its source was evaluated). A change of
    /// scope requests scheduling of the jobs that use it without `passed`.
    pub async fn set_resource_scope(
        &self,
        resource: ResourceId,
        config: ResourceConfigId,
        scope: ScopeId,
        now: Timestamp,
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let res = sqlx::query(
                "UPDATE resources SET resource_config_id = $1, scope_id = $2
                 WHERE id = $3 AND (scope_id IS NULL OR scope_id <> $2)",
            )
            .bind(config)
            .bind(scope)
            .bind(resource)
            .execute(&mut *tx)
            .await
            .map_err(fk_to_not_found("resource config", config))?;
            if res.rows_affected() > 0 {
                request_schedule_for_scope(&mut tx, scope, now).await?;
            } else {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM resources WHERE id = $1")
                        .bind(resource)
                        .fetch_optional(&mut *tx)
                        .await?;
                expect_one(u64::from(exists.is_some()), "resource", resource)?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Points a resource type at a scope.
    pub async fn set_resource_type_scope(
        &self,
        id: ResourceTypeId,
        scope: ScopeId,
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE resource_types SET scope_id = $1 WHERE id = $2")
                .bind(scope)
                .bind(id)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "resource type", id)
        })
    }

    /// Records that a check of the resource (or type) started.
    pub async fn start_check(&self, target: CheckTarget, now: Timestamp) -> StoreResult<()> {
        let (table, id) = target.row();
        with_db!(self, |pool, pg| {
            let sql = format!("UPDATE {table} SET last_check_start = $1 WHERE id = $2");
            let res = sqlx::query(&sql).bind(now).bind(id).execute(pool).await?;
            expect_one(res.rows_affected(), target.kind(), id)
        })
    }

    /// Records how a check of the resource (or type) ended.
    pub async fn finish_check(
        &self,
        target: CheckTarget,
        outcome: &CheckOutcome,
    ) -> StoreResult<()> {
        let (table, id) = target.row();
        with_db!(self, |pool, pg| {
            let sql = format!(
                "UPDATE {table} SET last_check_end = $1, last_check_error = $2 WHERE id = $3"
            );
            let res = sqlx::query(&sql)
                .bind(outcome.ended)
                .bind(&outcome.error)
                .bind(id)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), target.kind(), id)
        })
    }

    /// The checker's candidates: active resources of unarchived pipelines, by pipeline then
    /// name, in one query (whether each is due depends on its `check_every`, which the checker
    /// reads from the rows).
    pub async fn resources_of_active_pipelines(&self) -> StoreResult<Vec<Resource>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources
                 WHERE active AND pipeline_id IN (SELECT id FROM pipelines WHERE NOT archived)
                 ORDER BY pipeline_id, name"
            );
            Ok(sqlx::query_as::<_, Resource>(&sql).fetch_all(pool).await?)
        })
    }

    /// Pins (`Some(version)`) or unpins (`None`) a resource through the API, with a
    /// comment; requests scheduling of its jobs.
    pub async fn set_resource_pin(
        &self,
        id: ResourceId,
        version: Option<&VersionMap>,
        comment: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let version = version.map(|version| canonical_json(&serde_json::json!(version)));
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let res = sqlx::query(
                "UPDATE resources SET api_pinned_version = $1, pin_comment = $2 WHERE id = $3",
            )
            .bind(&version)
            .bind(comment)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            expect_one(res.rows_affected(), "resource", id)?;
            request_schedule_for_resource(&mut tx, id, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
