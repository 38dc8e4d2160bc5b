//! Builds: creation with the per-job name counter, reruns, one-off builds, the status state
//! machine, and what a build consumed and produced (inputs, outputs, pipes, and the
//! successful-build-outputs rows that `passed:` constraints read).

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::error::{StoreError, StoreResult};
pub use concorde_core::BuildStatus;

use crate::ids::{BuildId, JobId, PipelineId, ResourceId, ResourceTypeId, TeamId, Timestamp};
use crate::json_column::JsonColumn;
use crate::pipelines::archive_with_children;
use crate::{Store, with_db};

/// A build: of a job, one-off (`fly execute`) or a check.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Build {
    /// Its id; grows with creation time.
    pub id: BuildId,
    /// `N` for the Nth build of a job, `N.k` for the kth rerun of build N, a global counter
    /// for one-off builds.
    pub name: String,
    /// Where it is in its life.
    #[sqlx(try_from = "String")]
    pub status: BuildStatus,
    /// Owning team.
    pub team_id: TeamId,
    /// Pipeline, `None` for one-off builds.
    pub pipeline_id: Option<PipelineId>,
    /// Job, `None` for one-off and check builds.
    pub job_id: Option<JobId>,
    /// The resource a check build checks.
    pub resource_id: Option<ResourceId>,
    /// The resource type a check build checks.
    pub resource_type_id: Option<ResourceTypeId>,
    /// The build plan, once known.
    #[sqlx(try_from = "JsonColumn<Option<serde_json::Value>>")]
    pub plan: Option<serde_json::Value>,
    /// Triggered by a person rather than by new versions.
    pub manually_triggered: bool,
    /// Who created it, when a person did.
    pub created_by: Option<String>,
    /// The original build this one re-runs (never another rerun).
    pub rerun_of: Option<BuildId>,
    /// k for the kth rerun, else 0.
    pub rerun_number: i64,
    /// Abort was requested.
    pub aborted: bool,
    /// When it was created.
    pub create_time: Timestamp,
    /// When it started.
    pub start_time: Option<Timestamp>,
    /// When it finished.
    pub end_time: Option<Timestamp>,
}

/// A new build of a job.
#[derive(Debug, Clone)]
pub struct NewBuild {
    /// The job.
    pub job: JobId,
    /// Triggered by a person.
    pub manually_triggered: bool,
    /// Who, if a person.
    pub created_by: Option<String>,
    /// Creation time.
    pub now: Timestamp,
}

/// A version a build consumed (input) or produced (output).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordedVersion {
    /// Input or output name.
    pub name: String,
    /// The resource.
    pub resource_id: ResourceId,
    /// The version's digest.
    pub version_digest: String,
}

/// The original of a rerun: id, name, team, pipeline, job.
type OriginalBuild = (BuildId, String, TeamId, Option<PipelineId>, Option<JobId>);

pub(crate) const BUILD_COLUMNS: &str = "id, name, status, team_id, pipeline_id, job_id, \
    resource_id, resource_type_id, plan, manually_triggered, created_by, rerun_of, rerun_number, \
    aborted, create_time, start_time, end_time";

impl Store {
    /// Creates the next pending build of a job, named by the job's counter, which never goes
    /// back; concurrent creators get distinct names.
    pub async fn create_job_build(&self, new: &NewBuild) -> StoreResult<Build> {
        let build = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let row: Option<(i64, PipelineId, TeamId)> = sqlx::query_as(
                "UPDATE jobs SET build_number_seq = build_number_seq + 1, schedule_requested = $2
                 WHERE id = $1
                 RETURNING build_number_seq, pipeline_id,
                   (SELECT team_id FROM pipelines WHERE pipelines.id = jobs.pipeline_id)",
            )
            .bind(new.job)
            .bind(new.now)
            .fetch_optional(&mut *tx)
            .await?;
            let (number, pipeline, team) =
                row.ok_or_else(|| StoreError::not_found("job", new.job))?;
            let id = next_build_id(&mut tx).await?;
            let sql = format!(
                "INSERT INTO builds (id, name, status, team_id, pipeline_id, job_id,
                   manually_triggered, created_by, create_time)
                 VALUES ($8, $1, 'pending', $2, $3, $4, $5, $6, $7) RETURNING {BUILD_COLUMNS}"
            );
            let build = sqlx::query_as::<_, Build>(&sql)
                .bind(number.to_string())
                .bind(team)
                .bind(pipeline)
                .bind(new.job)
                .bind(new.manually_triggered)
                .bind(&new.created_by)
                .bind(new.now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            refresh_job_builds(&mut tx, new.job).await?;
            tx.commit().await?;
            build
        });
        self.notify(Topic::JobScheduling, &new.job.to_string())
            .await?;
        Ok(build)
    }

    /// Creates a rerun of `build` (or of its original, if it is itself a rerun), named
    /// `N.k`, with the same job and the original's inputs to be reused by the scheduler.
    pub async fn create_rerun(
        &self,
        build: BuildId,
        created_by: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<Build> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            // On PostgreSQL the row lock serializes concurrent reruns of one original.
            let sql = format!(
                "SELECT id, name, team_id, pipeline_id, job_id FROM builds WHERE id =
                   (SELECT COALESCE(rerun_of, id) FROM builds WHERE id = $1){}",
                if pg { " FOR UPDATE" } else { "" }
            );
            let original: Option<OriginalBuild> = sqlx::query_as(&sql)
                .bind(build)
                .fetch_optional(&mut *tx)
                .await?;
            let (original, name, team, pipeline, job) =
                original.ok_or_else(|| StoreError::not_found("build", build))?;
            let Some(job) = job else {
                return Err(StoreError::InvalidTransition {
                    kind: "build",
                    id: build.to_string(),
                    from: "one-off".into(),
                    to: "rerun".into(),
                });
            };
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM builds WHERE rerun_of = $1")
                .bind(original)
                .fetch_one(&mut *tx)
                .await?;
            let id = next_build_id(&mut tx).await?;
            let sql = format!(
                "INSERT INTO builds (id, name, status, team_id, pipeline_id, job_id,
                   manually_triggered, created_by, rerun_of, rerun_number, create_time)
                 VALUES ($9, $1, 'pending', $2, $3, $4, TRUE, $5, $6, $7, $8)
                 RETURNING {BUILD_COLUMNS}"
            );
            let rerun = sqlx::query_as::<_, Build>(&sql)
                .bind(format!("{name}.{}", count + 1))
                .bind(team)
                .bind(pipeline)
                .bind(job)
                .bind(created_by)
                .bind(original)
                .bind(count + 1)
                .bind(now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            refresh_job_builds(&mut tx, job).await?;
            tx.commit().await?;
            Ok(rerun)
        })
    }

    /// A build by id.
    pub async fn build(&self, id: BuildId) -> StoreResult<Build> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {BUILD_COLUMNS} FROM builds WHERE id = $1");
            sqlx::query_as::<_, Build>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("build", id))
        })
    }

    /// A job's builds, newest first, at most `limit`, older than `before` if given.
    pub async fn list_job_builds(
        &self,
        job: JobId,
        before: Option<BuildId>,
        limit: i64,
    ) -> StoreResult<Vec<Build>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} FROM builds WHERE job_id = $1 AND ($2 IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3"
            );
            Ok(sqlx::query_as::<_, Build>(&sql)
                .bind(job)
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }

    /// The builds that took version `digest` of `resource` as an input (`outputs`: that
    /// produced it), newest first.
    pub async fn builds_with_version(
        &self,
        resource: ResourceId,
        digest: &str,
        outputs: bool,
    ) -> StoreResult<Vec<Build>> {
        let table = if outputs {
            "build_outputs"
        } else {
            "build_inputs"
        };
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} FROM builds WHERE id IN
                   (SELECT build_id FROM {table} WHERE resource_id = $1 AND version_digest = $2)
                 ORDER BY id DESC"
            );
            Ok(sqlx::query_as::<_, Build>(&sql)
                .bind(resource)
                .bind(digest)
                .fetch_all(pool)
                .await?)
        })
    }

    /// A job's pending builds, oldest first.
    pub async fn pending_builds(&self, job: JobId) -> StoreResult<Vec<Build>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} FROM builds WHERE job_id = $1 AND status = 'pending' ORDER BY id"
            );
            Ok(sqlx::query_as::<_, Build>(&sql)
                .bind(job)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Finishes a pending or started build. For job builds: updates the job's latest and next
    /// builds, requests scheduling of downstream jobs, and on success records the
    /// successful-build-outputs row (outputs first, then inputs) and archives the pipelines
    /// earlier builds of the job set and this one did not.
    pub async fn finish_build(
        &self,
        id: BuildId,
        status: BuildStatus,
        now: Timestamp,
    ) -> StoreResult<()> {
        if !status.is_finished() {
            return Err(self.refused_transition(id, status).await);
        }
        let finished = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let row: Option<(Option<JobId>, Option<BuildId>)> = sqlx::query_as(
                "UPDATE builds SET status = $1, end_time = $2, completed = TRUE, private_plan = NULL
                 WHERE id = $3 AND status IN ('pending', 'started') RETURNING job_id, rerun_of",
            )
            .bind(status.as_str())
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((Some(job), rerun_of)) = row {
                refresh_job_builds(&mut tx, job).await?;
                sqlx::query(
                    "UPDATE jobs SET schedule_requested = $1
                     WHERE id IN (SELECT job_id FROM job_inputs WHERE passed_job_id = $2)",
                )
                .bind(now)
                .bind(job)
                .execute(&mut *tx)
                .await?;
                if status == BuildStatus::Succeeded {
                    sqlx::query(
                        "INSERT INTO successful_build_outputs (build_id, job_id, rerun_of, rank)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(job)
                    .bind(rerun_of)
                    .bind(rerun_of.unwrap_or(id))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO successful_build_output_entries (build_id, idx, resource_id, version_digest)
                         SELECT $1, ROW_NUMBER() OVER (ORDER BY kind, resource_id, name, version_digest),
                           resource_id, version_digest FROM (
                             SELECT 0 AS kind, resource_id, name, version_digest FROM build_outputs WHERE build_id = $1
                             UNION ALL
                             SELECT 1 AS kind, resource_id, name, version_digest FROM build_inputs WHERE build_id = $1
                           ) AS records",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    // Pipelines an earlier build of this job set and this one did not.
                    let stale: Vec<PipelineId> = sqlx::query_scalar(
                        "SELECT id FROM pipelines WHERE NOT archived AND parent_job_id = $1
                           AND parent_build_id < $2
                           AND id <> (SELECT pipeline_id FROM jobs WHERE id = $1)",
                    )
                    .bind(job)
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
                    archive_with_children(&mut tx, stale, now).await?;
                }
            }
            tx.commit().await?;
            row.is_some()
        });
        if !finished {
            return Err(self.refused_transition(id, status).await);
        }
        self.notify(Topic::BuildEvents(id), "finished").await
    }

    /// Requests an abort. A pending build is finished as aborted at once; a running build's
    /// engine is told through [`Topic::BuildAbort`].
    pub async fn abort_build(&self, id: BuildId, now: Timestamp) -> StoreResult<()> {
        let status = with_db!(self, |pool, pg| {
            let status: Option<String> = sqlx::query_scalar(
                "UPDATE builds SET aborted = TRUE WHERE id = $1 RETURNING status",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            status.ok_or_else(|| StoreError::not_found("build", id))?
        });
        if BuildStatus::try_from(status)? == BuildStatus::Pending {
            self.finish_build(id, BuildStatus::Aborted, now).await?;
        }
        self.notify(Topic::BuildAbort(id), "").await
    }

    pub(crate) async fn refused_transition(&self, id: BuildId, to: BuildStatus) -> StoreError {
        match self.build(id).await {
            Ok(build) => StoreError::InvalidTransition {
                kind: "build",
                id: id.to_string(),
                from: build.status.as_str().into(),
                to: to.as_str().into(),
            },
            Err(err) => err,
        }
    }
}

/// The id of a new build: the next value of the `build_id` counter, so an id is never given
/// twice, even after the newest builds were deleted (SQLite would otherwise reuse it).
pub(crate) async fn next_build_id<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
) -> StoreResult<BuildId>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let (id,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'build_id' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(BuildId(id))
}

/// Recomputes a job's latest completed and next (oldest unfinished) builds.
async fn refresh_job_builds<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    job: JobId,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    JobId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE jobs SET
           latest_completed_build_id = (SELECT MAX(id) FROM builds WHERE job_id = $1 AND completed),
           next_build_id = (SELECT MIN(id) FROM builds WHERE job_id = $1 AND NOT completed)
         WHERE id = $1",
    )
    .bind(job)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
