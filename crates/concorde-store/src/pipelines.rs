//! Pipelines: reading them, and the pipeline-level switches (pause, expose, archive, rename,
//! order, delete). Setting a config is `set_pipeline.rs`.

use concorde_config::canonical_json;
use concorde_config::model::JsonMap;

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{BuildId, JobId, PipelineId, TeamId, Timestamp};
use crate::json_column::JsonColumn;
use crate::teams::expect_one;
use crate::{Store, with_db};

/// A pipeline (one instance, for instanced pipelines).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pipeline {
    /// Its id.
    pub id: PipelineId,
    /// Owning team.
    pub team_id: TeamId,
    /// Name; unique per team together with the instance vars.
    pub name: String,
    /// The instance vars; `None` for a plain pipeline.
    #[sqlx(try_from = "JsonColumn<Option<JsonMap>>")]
    pub instance_vars: Option<JsonMap>,
    /// The whole pipeline config, in its JSON form.
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub config: serde_json::Value,
    /// Optimistic-concurrency version: 1 after the first save, +1 per save.
    pub config_version: i64,
    /// Paused pipelines schedule nothing. New pipelines start paused.
    pub paused: bool,
    /// Who paused it, if anyone.
    pub paused_by: Option<String>,
    /// Whether it is visible without logging in.
    pub public: bool,
    /// Archived pipelines keep history but have no config in effect.
    pub archived: bool,
    /// Position among the team's pipelines.
    pub ordering: i64,
    /// When the config was last saved.
    pub last_updated: Timestamp,
    /// The job whose `set_pipeline` step set it, if one did.
    pub parent_job_id: Option<JobId>,
    /// The build whose `set_pipeline` step last set it.
    pub parent_build_id: Option<BuildId>,
}

/// How a caller names a pipeline: team, name, and instance vars (JSON) if instanced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRef {
    /// Owning team.
    pub team: TeamId,
    /// Pipeline name.
    pub name: String,
    /// Instance vars, or `None`.
    pub instance_vars: Option<JsonMap>,
}

pub(crate) const PIPELINE_COLUMNS: &str = "id, team_id, name, instance_vars, config, config_version, paused, \
    paused_by, public, archived, ordering, last_updated, parent_job_id, parent_build_id";

/// The instance key: canonical JSON of the vars, or `""` for a plain pipeline.
pub(crate) fn instance_key(vars: Option<&JsonMap>) -> String {
    vars.map(|vars| canonical_json(&serde_json::Value::Object(vars.clone())))
        .unwrap_or_default()
}

impl Store {
    /// A pipeline by id.
    pub async fn pipeline(&self, id: PipelineId) -> StoreResult<Pipeline> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = $1");
            sqlx::query_as::<_, Pipeline>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("pipeline", id))
        })
    }

    /// A pipeline by team, name and instance vars.
    pub async fn pipeline_by_ref(&self, pipeline: &PipelineRef) -> StoreResult<Pipeline> {
        let key = instance_key(pipeline.instance_vars.as_ref());
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE team_id = $1 AND name = $2 AND instance_key = $3"
            );
            sqlx::query_as::<_, Pipeline>(&sql)
                .bind(pipeline.team)
                .bind(&pipeline.name)
                .bind(&key)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("pipeline", &pipeline.name))
        })
    }

    /// A team's pipelines in display order.
    pub async fn list_pipelines(&self, team: TeamId) -> StoreResult<Vec<Pipeline>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE team_id = $1
                 ORDER BY ordering, name, secondary_ordering, instance_key"
            );
            Ok(sqlx::query_as::<_, Pipeline>(&sql)
                .bind(team)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Every unarchived pipeline of every team, by id.
    pub async fn list_active_pipelines(&self) -> StoreResult<Vec<Pipeline>> {
        with_db!(self, |pool, pg| {
            let sql =
                format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE NOT archived ORDER BY id");
            Ok(sqlx::query_as::<_, Pipeline>(&sql).fetch_all(pool).await?)
        })
    }

    /// Pauses (recording who) or unpauses a pipeline. Unpausing requests scheduling of its jobs
    /// and wakes the checker.
    pub async fn set_pipeline_paused(
        &self,
        id: PipelineId,
        paused_by: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let res = sqlx::query(
                "UPDATE pipelines SET paused = $1, paused_by = $2, paused_at = $3 WHERE id = $4",
            )
            .bind(paused_by.is_some())
            .bind(paused_by)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            expect_one(res.rows_affected(), "pipeline", id)?;
            if paused_by.is_none() {
                sqlx::query("UPDATE jobs SET schedule_requested = $1 WHERE pipeline_id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        if paused_by.is_none() {
            // Its resources were not checked while it was paused: they are due now.
            self.notify(Topic::CheckRequested, &id.to_string()).await?;
            self.notify(Topic::JobScheduling, "").await?;
        }
        Ok(())
    }

    /// Makes a pipeline visible (or not) without logging in.
    pub async fn set_pipeline_public(&self, id: PipelineId, public: bool) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE pipelines SET public = $1 WHERE id = $2")
                .bind(public)
                .bind(id)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "pipeline", id)
        })
    }

    /// Archives a pipeline: paused, every job, resource and type inactive; history kept. The
    /// pipelines its jobs set are archived with it.
    pub async fn archive_pipeline(&self, id: PipelineId, now: Timestamp) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let found: Option<PipelineId> =
                sqlx::query_scalar("SELECT id FROM pipelines WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            found.ok_or_else(|| StoreError::not_found("pipeline", id))?;
            archive_with_children(&mut tx, vec![id], now).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Renames a pipeline (all its instances share the new name).
    pub async fn rename_pipeline(&self, id: PipelineId, new_name: &str) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE pipelines SET name = $1 WHERE id = $2")
                .bind(new_name)
                .bind(id)
                .execute(pool)
                .await
                .map_err(unique_to_exists("pipeline", new_name))?;
            expect_one(res.rows_affected(), "pipeline", id)
        })
    }

    /// Orders the instances of pipeline `name`: those with these instance vars first, in the
    /// given order. `NotFound` names the first that does not exist (nothing is changed then).
    pub async fn order_instances(
        &self,
        team: TeamId,
        name: &str,
        instances: &[JsonMap],
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            for (position, vars) in instances.iter().enumerate() {
                let ordering = i64::try_from(position).unwrap_or(i64::MAX);
                let res = sqlx::query(
                    "UPDATE pipelines SET secondary_ordering = $1
                     WHERE team_id = $2 AND name = $3 AND instance_key = $4",
                )
                .bind(ordering)
                .bind(team)
                .bind(name)
                .bind(instance_key(Some(vars)))
                .execute(&mut *tx)
                .await?;
                if res.rows_affected() == 0 {
                    let shown = serde_json::Value::Object(vars.clone());
                    return Err(StoreError::not_found("pipeline", format!("{name}/{shown}")));
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Sets the team's pipeline order: the named pipelines first, in the given order.
    pub async fn order_pipelines(&self, team: TeamId, names: &[String]) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            for (position, name) in names.iter().enumerate() {
                let ordering = i64::try_from(position).unwrap_or(i64::MAX);
                sqlx::query("UPDATE pipelines SET ordering = $1 WHERE team_id = $2 AND name = $3")
                    .bind(ordering)
                    .bind(team)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes a pipeline and everything in it, builds and logs included. Its unfinished
    /// builds (job and check builds) are told to abort: whoever runs them stops.
    pub async fn delete_pipeline(&self, id: PipelineId) -> StoreResult<()> {
        let unfinished: Vec<BuildId> = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let unfinished: Vec<BuildId> = sqlx::query_scalar(
                "SELECT id FROM builds WHERE pipeline_id = $1 AND NOT completed",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            // The pipelines its jobs set outlive it, archived.
            let children: Vec<PipelineId> = sqlx::query_scalar(
                "SELECT id FROM pipelines WHERE NOT archived AND id <> $1
                   AND parent_job_id IN (SELECT id FROM jobs WHERE pipeline_id = $1)",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            archive_with_children(&mut tx, children, Timestamp::now()).await?;
            let res = sqlx::query("DELETE FROM pipelines WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            expect_one(res.rows_affected(), "pipeline", id)?;
            tx.commit().await?;
            unfinished
        });
        for build in unfinished {
            self.notify(Topic::BuildAbort(build), "").await?;
        }
        Ok(())
    }
}

/// Archives `pipelines` and, level by level, the pipelines their jobs set (a pipeline setting
/// itself is not its own child).
pub(crate) async fn archive_with_children<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    mut pipelines: Vec<PipelineId>,
    now: Timestamp,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    PipelineId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    Timestamp: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (PipelineId,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    while let Some(id) = pipelines.pop() {
        sqlx::query(
            "UPDATE pipelines SET archived = TRUE, paused = TRUE, paused_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        for table in ["resources", "resource_types", "jobs"] {
            let sql = format!("UPDATE {table} SET active = FALSE WHERE pipeline_id = $1");
            sqlx::query(&sql).bind(id).execute(&mut **tx).await?;
        }
        let children: Vec<(PipelineId,)> = sqlx::query_as(
            "SELECT id FROM pipelines WHERE NOT archived AND id <> $1
               AND parent_job_id IN (SELECT id FROM jobs WHERE pipeline_id = $1)",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        pipelines.extend(children.into_iter().map(|(child,)| child));
    }
    Ok(())
}
