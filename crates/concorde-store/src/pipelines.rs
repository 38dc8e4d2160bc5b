//! Pipelines: saving a whole configuration (jobs, resources, resource types, job inputs) in one
//! transaction with optimistic concurrency, and the pipeline-level switches.

use crate::backend::WritePool;
use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{JobId, PipelineId, ResourceId, TeamId, Timestamp};
use crate::teams::{expect_one, parse_json};
use crate::versions::canonical_json;
use crate::{MAX_CONFIG_BYTES, Store, with_db};

/// A pipeline (one instance, for instanced pipelines).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pipeline {
    /// Its id.
    pub id: PipelineId,
    /// Owning team.
    pub team_id: TeamId,
    /// Name; unique per team together with the instance vars.
    pub name: String,
    /// Canonical JSON of the instance vars; `None` for a plain pipeline.
    pub instance_vars: Option<String>,
    /// The whole pipeline config, as JSON.
    pub config: String,
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
}

/// How a caller names a pipeline: team, name, and instance vars (JSON) if instanced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRef {
    /// Owning team.
    pub team: TeamId,
    /// Pipeline name.
    pub name: String,
    /// Instance vars as JSON, or `None`.
    pub instance_vars: Option<String>,
}

/// A pipeline save: the whole desired state of the pipeline's objects.
#[derive(Debug, Clone)]
pub struct SavePipeline {
    /// Which pipeline.
    pub pipeline: PipelineRef,
    /// The pipeline config, as JSON.
    pub config: String,
    /// The `config_version` the caller read; 0 when creating.
    pub expected_version: i64,
    /// Every job; jobs missing here become inactive (their history is kept).
    pub jobs: Vec<JobSpec>,
    /// Every resource; missing ones become inactive.
    pub resources: Vec<ResourceSpec>,
    /// Every resource type; missing ones become inactive.
    pub resource_types: Vec<ResourceSpec>,
    /// The save time.
    pub now: Timestamp,
}

/// A job as configured.
#[derive(Debug, Clone, Default)]
pub struct JobSpec {
    /// Name, unique in the pipeline.
    pub name: String,
    /// The job config, as JSON.
    pub config: String,
    /// Its `get` steps, for scheduling requests.
    pub inputs: Vec<JobInputSpec>,
}

/// One `get` step of a job, as far as scheduling cares.
#[derive(Debug, Clone, Default)]
pub struct JobInputSpec {
    /// The step name.
    pub name: String,
    /// The resource's name.
    pub resource: String,
    /// Names of the jobs in `passed:`.
    pub passed: Vec<String>,
    /// Whether new versions trigger the job.
    pub trigger: bool,
}

/// A resource or resource type as configured.
#[derive(Debug, Clone, Default)]
pub struct ResourceSpec {
    /// Name, unique in the pipeline.
    pub name: String,
    /// The type name.
    pub type_name: String,
    /// The config, as JSON.
    pub config: String,
    /// `check_every`, as written.
    pub check_every: Option<String>,
    /// `version:` pin from the config, as JSON (resources only).
    pub pinned_version: Option<String>,
}

const PIPELINE_COLUMNS: &str = "id, team_id, name, instance_vars, config, config_version, paused, \
    paused_by, public, archived, ordering, last_updated";

fn check_size(config: &str) -> StoreResult<()> {
    if config.len() > MAX_CONFIG_BYTES {
        return Err(StoreError::ConfigTooLarge {
            size: config.len(),
            max: MAX_CONFIG_BYTES,
        });
    }
    Ok(())
}

/// The instance key: canonical JSON of the vars, or `""` for a plain pipeline.
fn instance_key(vars: Option<&str>) -> StoreResult<(Option<String>, String)> {
    match vars {
        None => Ok((None, String::new())),
        Some(text) => {
            let canonical = canonical_json(&parse_json("instance vars", text)?);
            Ok((Some(canonical.clone()), canonical))
        }
    }
}

impl Store {
    /// Creates or updates a pipeline and all its objects atomically.
    ///
    /// `ConfigVersionMismatch` when `expected_version` is not the stored version (0 for a new
    /// pipeline); `NotFound` for an input naming an unknown resource or passed job.
    pub async fn save_pipeline(&self, save: &SavePipeline) -> StoreResult<Pipeline> {
        check_size(&save.config)?;
        parse_json("pipeline config", &save.config)?;
        for job in &save.jobs {
            check_size(&job.config)?;
            parse_json("job config", &job.config)?;
        }
        for spec in save.resources.iter().chain(&save.resource_types) {
            check_size(&spec.config)?;
            parse_json("resource config", &spec.config)?;
        }
        let pinned: Vec<Option<String>> = save
            .resources
            .iter()
            .map(|r| {
                r.pinned_version
                    .as_deref()
                    .map(|v| parse_json("pinned version", v))
            })
            .map(|v| v.transpose().map(|v| v.as_ref().map(canonical_json)))
            .collect::<StoreResult<_>>()?;
        let (vars, key) = instance_key(save.pipeline.instance_vars.as_deref())?;
        let p = &save.pipeline;
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let existing: Option<(PipelineId, i64)> = sqlx::query_as(
                "SELECT id, config_version FROM pipelines
                 WHERE team_id = $1 AND name = $2 AND instance_key = $3",
            )
            .bind(p.team)
            .bind(&p.name)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
            let actual = existing.map_or(0, |(_, version)| version);
            if actual != save.expected_version {
                return Err(StoreError::ConfigVersionMismatch {
                    expected: save.expected_version,
                    actual,
                });
            }
            let pipeline_id = match existing {
                Some((id, _)) => {
                    sqlx::query(
                        "UPDATE pipelines SET config = $1, config_version = config_version + 1,
                         archived = FALSE, last_updated = $2 WHERE id = $3",
                    )
                    .bind(&save.config)
                    .bind(save.now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
                None => sqlx::query_scalar::<_, PipelineId>(
                    "INSERT INTO pipelines (team_id, name, instance_vars, instance_key, config,
                       config_version, paused, ordering, last_updated)
                     VALUES ($1, $2, $3, $4, $5, 1, TRUE,
                       (SELECT COALESCE(MAX(ordering), 0) + 1 FROM pipelines WHERE team_id = $1), $6)
                     RETURNING id",
                )
                .bind(p.team)
                .bind(&p.name)
                .bind(&vars)
                .bind(&key)
                .bind(&save.config)
                .bind(save.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| match &err {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::not_found("team", p.team)
                    }
                    _ => unique_to_exists("pipeline", &p.name)(err),
                })?,
            };
            for table in ["resources", "resource_types", "jobs"] {
                let sql = format!("UPDATE {table} SET active = FALSE WHERE pipeline_id = $1");
                sqlx::query(&sql)
                    .bind(pipeline_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut resource_ids = std::collections::HashMap::new();
            for (spec, pin) in save.resources.iter().zip(&pinned) {
                let id: ResourceId = sqlx::query_scalar(
                    "INSERT INTO resources (pipeline_id, name, type, config, check_every, config_pinned_version)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (pipeline_id, name) DO UPDATE SET type = excluded.type,
                       config = excluded.config, check_every = excluded.check_every,
                       config_pinned_version = excluded.config_pinned_version, active = TRUE
                     RETURNING id",
                )
                .bind(pipeline_id)
                .bind(&spec.name)
                .bind(&spec.type_name)
                .bind(&spec.config)
                .bind(&spec.check_every)
                .bind(pin)
                .fetch_one(&mut *tx)
                .await?;
                resource_ids.insert(spec.name.as_str(), id);
            }
            for spec in &save.resource_types {
                sqlx::query(
                    "INSERT INTO resource_types (pipeline_id, name, type, config, check_every)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (pipeline_id, name) DO UPDATE SET type = excluded.type,
                       config = excluded.config, check_every = excluded.check_every, active = TRUE",
                )
                .bind(pipeline_id)
                .bind(&spec.name)
                .bind(&spec.type_name)
                .bind(&spec.config)
                .bind(&spec.check_every)
                .execute(&mut *tx)
                .await?;
            }
            let mut job_ids = std::collections::HashMap::new();
            for job in &save.jobs {
                let id: JobId = sqlx::query_scalar(
                    "INSERT INTO jobs (pipeline_id, name, config, schedule_requested) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (pipeline_id, name) DO UPDATE SET config = excluded.config,
                       active = TRUE, schedule_requested = excluded.schedule_requested
                     RETURNING id",
                )
                .bind(pipeline_id)
                .bind(&job.name)
                .bind(&job.config)
                .bind(save.now)
                .fetch_one(&mut *tx)
                .await?;
                job_ids.insert(job.name.as_str(), id);
            }
            sqlx::query(
                "DELETE FROM job_inputs WHERE job_id IN (SELECT id FROM jobs WHERE pipeline_id = $1)",
            )
            .bind(pipeline_id)
            .execute(&mut *tx)
            .await?;
            for job in &save.jobs {
                for input in &job.inputs {
                    let resource = *resource_ids
                        .get(input.resource.as_str())
                        .ok_or_else(|| StoreError::not_found("resource", &input.resource))?;
                    let passed: Vec<Option<JobId>> = if input.passed.is_empty() {
                        vec![None]
                    } else {
                        input
                            .passed
                            .iter()
                            .map(|name| {
                                let id = job_ids.get(name.as_str()).copied();
                                id.map(Some)
                                    .ok_or_else(|| StoreError::not_found("job", name))
                            })
                            .collect::<StoreResult<_>>()?
                    };
                    for passed_job in passed {
                        sqlx::query(
                            "INSERT INTO job_inputs (job_id, name, resource_id, passed_job_id, is_trigger)
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(job_ids[job.name.as_str()])
                        .bind(&input.name)
                        .bind(resource)
                        .bind(passed_job)
                        .bind(input.trigger)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            let sql = format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = $1");
            let pipeline = sqlx::query_as::<_, Pipeline>(&sql)
                .bind(pipeline_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(pipeline)
        })
    }

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
        let (_, key) = instance_key(pipeline.instance_vars.as_deref())?;
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
                "SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE team_id = $1 ORDER BY ordering, name, instance_key"
            );
            Ok(sqlx::query_as::<_, Pipeline>(&sql)
                .bind(team)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Pauses (recording who) or unpauses a pipeline. Unpausing requests scheduling of its jobs.
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
            Ok(())
        })
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

    /// Archives a pipeline: paused, every job, resource and type inactive; history kept.
    pub async fn archive_pipeline(&self, id: PipelineId, now: Timestamp) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let res = sqlx::query(
                "UPDATE pipelines SET archived = TRUE, paused = TRUE, paused_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            expect_one(res.rows_affected(), "pipeline", id)?;
            for table in ["resources", "resource_types", "jobs"] {
                let sql = format!("UPDATE {table} SET active = FALSE WHERE pipeline_id = $1");
                sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
            }
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

    /// Deletes a pipeline and everything in it, builds and logs included.
    pub async fn delete_pipeline(&self, id: PipelineId) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("DELETE FROM pipelines WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "pipeline", id)
        })
    }
}
