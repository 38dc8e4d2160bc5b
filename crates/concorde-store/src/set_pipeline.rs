//! Setting a pipeline: the one domain operation behind `PUT .../config` and the
//! `set_pipeline` step. Validation, the main-team rule, unchanged detection, optimistic
//! concurrency, the pause state of a new pipeline, every job, resource, type and job input,
//! and the scheduling request all happen in one transaction: a crash or a lost connection
//! anywhere in it leaves nothing half-set. Resources whose config or type changed become due
//! for a check at once; the checker is woken when it commits.

use std::collections::HashMap;

use concorde_config::model::{JsonMap, Pipeline as PipelineConfig};
use concorde_config::{Severity, canonical_json, validate_pipeline};

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{BuildId, JobId, PipelineId, ResourceId, TeamId, Timestamp};
use crate::pipeline_spec::pipeline_spec;
use crate::pipelines::archive_with_children;
use crate::pipelines::{PIPELINE_COLUMNS, Pipeline, instance_key};
use crate::{Store, with_db};

/// The team whose members administer the installation, and may set any team's pipelines.
pub const MAIN_TEAM: &str = "main";

/// Who sets a pipeline, which decides the rules Concourse applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// A user through the API (`fly set-pipeline`): a new pipeline starts paused, and saving
    /// over an existing one fails unless its config version is `expected_version` (a new
    /// pipeline ignores it, as Concourse does).
    User {
        /// The `X-Concourse-Config-Version` the user read.
        expected_version: i64,
    },
    /// A `set_pipeline` step of a build of `team`: a new pipeline starts unpaused, an
    /// unchanged config is not saved again, and only the main team (or an admin team) may
    /// set another team's pipelines.
    Step {
        /// The team of the build running the step.
        team: TeamId,
        /// The job and build running the step, for a job's build: the pipeline is archived
        /// when a later successful build of that job no longer sets it, or the job goes.
        parent: Option<(JobId, BuildId)>,
    },
}

/// One request to set a pipeline.
#[derive(Debug, Clone)]
pub struct SetPipeline<'a> {
    /// The team that owns (or will own) the pipeline.
    pub team: TeamId,
    /// The pipeline's name.
    pub name: &'a str,
    /// Instance vars of an instanced pipeline.
    pub instance_vars: Option<&'a JsonMap>,
    /// The config; validated again here, so no invalid config is ever stored.
    pub config: &'a PipelineConfig,
    /// Who sets it.
    pub set_by: SetBy,
    /// The save time.
    pub now: Timestamp,
}

/// What setting a pipeline did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The pipeline did not exist.
    Created,
    /// The pipeline existed and its config was saved (a new config version).
    Updated,
    /// A `set_pipeline` step found the same config stored: nothing was written.
    Unchanged,
}

/// The pipeline as stored after setting it, and what happened.
#[derive(Debug, Clone)]
pub struct PipelineSet {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Created, updated or unchanged.
    pub outcome: SetOutcome,
}

impl Store {
    /// Sets a pipeline's config, atomically; see the module documentation.
    ///
    /// `InvalidConfig` when validation finds errors, `ConfigTooLarge` for an oversize config,
    /// `SetOtherTeamsPipeline` when a step of another team than main sets this team's
    /// pipeline, `ConfigVersionMismatch` when a user's expected version is stale.
    pub async fn set_pipeline(&self, request: &SetPipeline<'_>) -> StoreResult<PipelineSet> {
        let errors: Vec<String> = validate_pipeline(request.config)
            .into_iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
            .map(|diagnostic| diagnostic.message)
            .collect();
        if !errors.is_empty() {
            return Err(StoreError::InvalidConfig { errors });
        }
        let spec = pipeline_spec(request.config)?;
        let key = instance_key(request.instance_vars);
        // The stored instance vars are their canonical JSON, which is also the key.
        let vars = request.instance_vars.is_some().then(|| key.clone());
        let set = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            if let SetBy::Step { team, .. } = request.set_by
                && team != request.team
            {
                let setter: Option<(String, bool)> =
                    sqlx::query_as("SELECT name, admin FROM teams WHERE id = $1")
                        .bind(team)
                        .fetch_optional(&mut *tx)
                        .await?;
                if !setter.is_some_and(|(name, admin)| name == MAIN_TEAM || admin) {
                    return Err(StoreError::SetOtherTeamsPipeline);
                }
            }
            let existing: Option<(PipelineId, i64, String, bool)> = sqlx::query_as(
                "SELECT id, config_version, config, archived FROM pipelines
                 WHERE team_id = $1 AND name = $2 AND instance_key = $3",
            )
            .bind(request.team)
            .bind(request.name)
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
            if let (SetBy::Step { .. }, Some((id, _, stored, false))) = (request.set_by, &existing)
                && same_config(stored, &spec.config)
            {
                // Set again by this build: not a child its job stopped setting.
                record_parent(&mut tx, *id, request.set_by).await?;
                let sql = format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = $1");
                let pipeline = sqlx::query_as::<_, Pipeline>(&sql)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(PipelineSet {
                    pipeline,
                    outcome: SetOutcome::Unchanged,
                });
            }
            if let (SetBy::User { expected_version }, Some((_, actual, ..))) =
                (request.set_by, &existing)
                && expected_version != *actual
            {
                let actual = *actual;
                return Err(StoreError::ConfigVersionMismatch {
                    expected: expected_version,
                    actual,
                });
            }
            let (pipeline_id, outcome) = match &existing {
                Some((id, ..)) => {
                    sqlx::query(
                        "UPDATE pipelines SET config = $1, config_version = config_version + 1,
                         archived = FALSE, last_updated = $2 WHERE id = $3",
                    )
                    .bind(&spec.config)
                    .bind(request.now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    (*id, SetOutcome::Updated)
                }
                None => {
                    let paused = matches!(request.set_by, SetBy::User { .. });
                    let id = sqlx::query_scalar::<_, PipelineId>(
                        "INSERT INTO pipelines (team_id, name, instance_vars, instance_key, config,
                           config_version, paused, ordering, secondary_ordering, last_updated)
                         VALUES ($1, $2, $3, $4, $5, 1, $6,
                           COALESCE(
                             (SELECT MIN(ordering) FROM pipelines WHERE team_id = $1 AND name = $2),
                             (SELECT COALESCE(MAX(ordering), 0) + 1 FROM pipelines WHERE team_id = $1)),
                           (SELECT COALESCE(MAX(secondary_ordering), -1) + 1 FROM pipelines
                              WHERE team_id = $1 AND name = $2),
                           $7)
                         RETURNING id",
                    )
                    .bind(request.team)
                    .bind(request.name)
                    .bind(&vars)
                    .bind(&key)
                    .bind(&spec.config)
                    .bind(paused)
                    .bind(request.now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|err| match &err {
                        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                            StoreError::not_found("team", request.team)
                        }
                        _ => unique_to_exists("pipeline", request.name)(err),
                    })?;
                    (id, SetOutcome::Created)
                }
            };
            record_parent(&mut tx, pipeline_id, request.set_by).await?;
            // `old_name:` renames the row, so the new name inherits its history (builds,
            // versions), unless the new name already has a row of its own.
            let renames = spec
                .jobs
                .iter()
                .map(|job| ("jobs", &job.name, &job.old_name))
                .chain(
                    spec.resources
                        .iter()
                        .map(|resource| ("resources", &resource.name, &resource.old_name)),
                );
            for (table, name, old_name) in renames {
                let Some(old_name) = old_name.as_ref().filter(|old| *old != name) else {
                    continue;
                };
                let sql = format!(
                    "UPDATE {table} SET name = $1 WHERE pipeline_id = $2 AND name = $3
                       AND NOT EXISTS (SELECT 1 FROM {table} WHERE pipeline_id = $2 AND name = $1)"
                );
                sqlx::query(&sql)
                    .bind(name)
                    .bind(pipeline_id)
                    .bind(old_name)
                    .execute(&mut *tx)
                    .await?;
            }
            for table in ["resources", "resource_types", "jobs"] {
                let sql = format!("UPDATE {table} SET active = FALSE WHERE pipeline_id = $1");
                sqlx::query(&sql)
                    .bind(pipeline_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut resource_ids: HashMap<&str, ResourceId> = HashMap::new();
            for spec in &spec.resources {
                let id: ResourceId = sqlx::query_scalar(
                    "INSERT INTO resources (pipeline_id, name, type, config, check_every, config_pinned_version)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (pipeline_id, name) DO UPDATE SET type = excluded.type,
                       config = excluded.config, check_every = excluded.check_every,
                       config_pinned_version = excluded.config_pinned_version, active = TRUE,
                       last_check_start = CASE
                         WHEN resources.type = excluded.type AND resources.config = excluded.config
                         THEN resources.last_check_start END
                     RETURNING id",
                )
                .bind(pipeline_id)
                .bind(&spec.name)
                .bind(&spec.type_name)
                .bind(&spec.config)
                .bind(&spec.check_every)
                .bind(&spec.pinned_version)
                .fetch_one(&mut *tx)
                .await?;
                resource_ids.insert(spec.name.as_str(), id);
            }
            // A resource whose type changed is checked again at once, as is one whose own
            // config changed (above): its versions may come from elsewhere now.
            let old_types: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT name, type, config FROM resource_types WHERE pipeline_id = $1",
            )
            .bind(pipeline_id)
            .fetch_all(&mut *tx)
            .await?;
            for spec in &spec.resource_types {
                let unchanged = old_types.iter().any(|(name, kind, config)| {
                    name == &spec.name && kind == &spec.type_name && config == &spec.config
                });
                if !unchanged {
                    sqlx::query(
                        "UPDATE resources SET last_check_start = NULL
                         WHERE pipeline_id = $1 AND type = $2",
                    )
                    .bind(pipeline_id)
                    .bind(&spec.name)
                    .execute(&mut *tx)
                    .await?;
                }
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
            let mut job_ids: HashMap<&str, JobId> = HashMap::new();
            for job in &spec.jobs {
                let id: JobId = sqlx::query_scalar(
                    "INSERT INTO jobs (pipeline_id, name, config, schedule_requested) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (pipeline_id, name) DO UPDATE SET config = excluded.config,
                       active = TRUE, schedule_requested = excluded.schedule_requested
                     RETURNING id",
                )
                .bind(pipeline_id)
                .bind(&job.name)
                .bind(&job.config)
                .bind(request.now)
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
            for job in &spec.jobs {
                for input in &job.inputs {
                    // Invariant: validation guarantees every input's resource and passed job
                    // exist in the config, so both lookups succeed.
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
            // Pipelines set by jobs that are gone from the config are archived.
            let orphaned: Vec<PipelineId> = sqlx::query_scalar(
                "SELECT id FROM pipelines WHERE NOT archived AND id <> $1 AND parent_job_id IN
                   (SELECT id FROM jobs WHERE pipeline_id = $1 AND NOT active)",
            )
            .bind(pipeline_id)
            .fetch_all(&mut *tx)
            .await?;
            archive_with_children(&mut tx, orphaned, request.now).await?;
            let sql = format!("SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE id = $1");
            let pipeline = sqlx::query_as::<_, Pipeline>(&sql)
                .bind(pipeline_id)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(PipelineSet { pipeline, outcome })
        })?;
        self.announce_set(&set).await?;
        Ok(set)
    }

    /// After a commit: the components learn that jobs want scheduling and the checker that
    /// resources may be due (a new pipeline's, and those whose config changed, are due at
    /// once). Notifications are hints: a lost one delays work by one component interval.
    async fn announce_set(&self, set: &PipelineSet) -> StoreResult<()> {
        if set.outcome == SetOutcome::Unchanged {
            return Ok(());
        }
        self.notify(Topic::CheckRequested, "").await?;
        self.notify(Topic::JobScheduling, "").await
    }
}

/// Records who set a pipeline: the job and build of a `set_pipeline` step, or nobody (a
/// user's `set-pipeline` takes the pipeline over from any job that set it).
async fn record_parent<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    pipeline: PipelineId,
    set_by: SetBy,
) -> StoreResult<()>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    PipelineId: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<JobId>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<BuildId>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let (job, build) = match set_by {
        SetBy::Step {
            parent: Some((job, build)),
            ..
        } => (Some(job), Some(build)),
        SetBy::Step { parent: None, .. } | SetBy::User { .. } => (None, None),
    };
    sqlx::query("UPDATE pipelines SET parent_job_id = $1, parent_build_id = $2 WHERE id = $3")
        .bind(job)
        .bind(build)
        .bind(pipeline)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether two stored configs say the same, whatever their key order.
fn same_config(stored: &str, new: &str) -> bool {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    match (parse(stored), parse(new)) {
        (Some(stored), Some(new)) => canonical_json(&stored) == canonical_json(&new),
        _ => false,
    }
}
