//! Jobs: lookups, pause switch, and the schedule-request bookkeeping that the scheduler claims.

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BuildId, JobId, PipelineId, Timestamp};
use crate::json_column::JsonColumn;
use crate::teams::expect_one;
use crate::{Store, with_db};

/// A job of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its pipeline.
    pub pipeline_id: PipelineId,
    /// Name, unique in the pipeline.
    pub name: String,
    /// The job config, in its JSON form.
    #[sqlx(try_from = "JsonColumn<serde_json::Value>")]
    pub config: serde_json::Value,
    /// False once removed from the pipeline config (history is kept).
    pub active: bool,
    /// Paused jobs start no builds.
    pub paused: bool,
    /// The last build number handed out; the next job build is this + 1.
    pub build_number_seq: i64,
    /// When scheduling was last requested; the scheduler runs it if not before `last_scheduled`.
    pub schedule_requested: Timestamp,
    /// When the scheduler last processed it.
    pub last_scheduled: Timestamp,
    /// The most recently finished build.
    pub latest_completed_build_id: Option<BuildId>,
    /// The oldest build not finished yet.
    pub next_build_id: Option<BuildId>,
}

pub(crate) const JOB_COLUMNS: &str = "id, pipeline_id, name, config, active, paused, \
    build_number_seq, schedule_requested, last_scheduled, latest_completed_build_id, next_build_id";

impl Store {
    /// A job by id.
    pub async fn job(&self, id: JobId) -> StoreResult<Job> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
            sqlx::query_as::<_, Job>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("job", id))
        })
    }

    /// A job by pipeline and name.
    pub async fn job_by_name(&self, pipeline: PipelineId, name: &str) -> StoreResult<Job> {
        with_db!(self, |pool, pg| {
            let sql =
                format!("SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline_id = $1 AND name = $2");
            sqlx::query_as::<_, Job>(&sql)
                .bind(pipeline)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("job", name))
        })
    }

    /// The active jobs of a pipeline, by id.
    pub async fn list_jobs(&self, pipeline: PipelineId) -> StoreResult<Vec<Job>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE pipeline_id = $1 AND active ORDER BY id"
            );
            Ok(sqlx::query_as::<_, Job>(&sql)
                .bind(pipeline)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The tracker's claim: jobs that have an unfinished (pending or started) build, by
    /// pipeline then id, including jobs of archived pipelines and jobs gone from their config
    /// (their orphaned builds must still be failed). One query over the jobs table, which
    /// keeps each job's oldest unfinished build in `next_build_id`.
    pub async fn jobs_with_unfinished_builds(&self) -> StoreResult<Vec<Job>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE next_build_id IS NOT NULL
                 ORDER BY pipeline_id, id"
            );
            Ok(sqlx::query_as::<_, Job>(&sql).fetch_all(pool).await?)
        })
    }

    /// Pauses or unpauses a job; unpausing requests scheduling.
    pub async fn set_job_paused(&self, id: JobId, paused: bool, now: Timestamp) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query(
                "UPDATE jobs SET paused = $1,
                   schedule_requested = CASE WHEN $1 THEN schedule_requested ELSE $2 END
                 WHERE id = $3",
            )
            .bind(paused)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
            expect_one(res.rows_affected(), "job", id)
        })
    }

    /// Asks the scheduler to look at a job (manual request, pin change, new version, ...).
    pub async fn request_job_schedule(&self, id: JobId, now: Timestamp) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE jobs SET schedule_requested = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "job", id)?;
        });
        self.notify(Topic::JobScheduling, &id.to_string()).await
    }

    /// Claims up to `limit` active jobs whose scheduling was requested after their last run,
    /// marking them scheduled at `now`. A request stamped with the very millisecond of the last
    /// claim counts as after it (it may have come later in that millisecond), so it is never
    /// lost; at worst a job is scheduled once more. Concurrent claimers on PostgreSQL skip each
    /// other's rows (`FOR UPDATE SKIP LOCKED`), so no job is handed to two schedulers at once.
    pub async fn claim_jobs_to_schedule(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobId>> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "SELECT j.id FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
                 WHERE j.active AND NOT p.archived AND j.schedule_requested >= j.last_scheduled
                 ORDER BY j.schedule_requested, j.id LIMIT $1{}",
                if pg {
                    " FOR UPDATE OF j SKIP LOCKED"
                } else {
                    ""
                }
            );
            let ids: Vec<JobId> = sqlx::query_scalar(&sql)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            for id in &ids {
                sqlx::query("UPDATE jobs SET last_scheduled = $1 WHERE id = $2")
                    .bind(now)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(ids)
        })
    }
}
