//! One-off builds (`fly execute`) and artifacts. A one-off build is created `started`, as
//! Concourse's API answers, but without a start time until a tracker begins running it, so a
//! build nobody ran yet is told apart from one whose node went away. Its plan is kept in
//! `private_plan` until it finishes; `plan` is the public form. Artifacts are files uploaded
//! for a build's inputs, or a build's outputs kept for download, each in a worker volume.

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::builds::{BUILD_COLUMNS, Build, next_build_id};
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{ArtifactId, BuildId, PipelineId, TeamId, Timestamp};
use crate::json_column::JsonColumn;
use crate::{Store, with_db};

/// A one-off build to create.
#[derive(Debug, Clone)]
pub struct NewOneOffBuild<'a> {
    /// The owning team.
    pub team: TeamId,
    /// The pipeline it belongs to (`fly execute --inputs-from`), if any.
    pub pipeline: Option<PipelineId>,
    /// The public plan, which the API shows.
    pub plan: &'a serde_json::Value,
    /// The plan the engine runs, kept until the build finishes.
    pub private_plan: &'a serde_json::Value,
    /// Who created it.
    pub created_by: Option<&'a str>,
    /// Creation time.
    pub now: Timestamp,
}

/// An unfinished one-off build, as trackers claim it.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOffBuild {
    /// The build row.
    pub build: Build,
    /// The plan to run (gone once the build finished).
    pub private_plan: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct OneOffRow {
    #[sqlx(flatten)]
    build: Build,
    #[sqlx(try_from = "JsonColumn<Option<serde_json::Value>>")]
    private_plan: Option<serde_json::Value>,
}

/// Files uploaded for a build or kept from one, in a worker volume.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Artifact {
    /// Its id.
    pub id: ArtifactId,
    /// The team it belongs to.
    pub team_id: Option<TeamId>,
    /// The build artifact name (empty for uploads).
    pub name: String,
    /// The build that kept it, for outputs.
    pub build_id: Option<BuildId>,
    /// The volume holding the files.
    pub volume: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

const ARTIFACT_COLUMNS: &str = "id, team_id, name, build_id, volume, created_at";

impl Store {
    /// Creates a one-off build, `started` and named by a global counter, and wakes the
    /// trackers.
    pub async fn create_one_off_build(&self, new: &NewOneOffBuild<'_>) -> StoreResult<Build> {
        let (plan, private_plan) = (new.plan.to_string(), new.private_plan.to_string());
        let build = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let number: i64 = sqlx::query_scalar(
                "INSERT INTO counters (name, value) VALUES ('one_off_name', 1)
                 ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            )
            .fetch_one(&mut *tx)
            .await?;
            let id = next_build_id(&mut tx).await?;
            let sql = format!(
                "INSERT INTO builds (id, name, status, team_id, pipeline_id, plan, private_plan,
                   manually_triggered, created_by, create_time)
                 VALUES ($1, $2, 'started', $3, $4, $5, $6, TRUE, $7, $8) RETURNING {BUILD_COLUMNS}"
            );
            let build = sqlx::query_as::<_, Build>(&sql)
                .bind(id)
                .bind(number.to_string())
                .bind(new.team)
                .bind(new.pipeline)
                .bind(&plan)
                .bind(&private_plan)
                .bind(new.created_by)
                .bind(new.now)
                .fetch_one(&mut *tx)
                .await
                .map_err(fk_to_not_found("team or pipeline", new.team))?;
            tx.commit().await?;
            build
        });
        self.notify(Topic::JobScheduling, "").await?;
        Ok(build)
    }

    /// Every unfinished one-off build, oldest first.
    pub async fn unfinished_one_off_builds(&self) -> StoreResult<Vec<OneOffBuild>> {
        let rows = with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS}, private_plan FROM builds
                 WHERE NOT completed AND job_id IS NULL AND resource_id IS NULL
                   AND resource_type_id IS NULL
                 ORDER BY id"
            );
            sqlx::query_as::<_, OneOffRow>(&sql).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|row| OneOffBuild {
                build: row.build,
                private_plan: row.private_plan,
            })
            .collect())
    }

    /// Records that a tracker began running a one-off build; false when one already did.
    pub async fn begin_one_off_build(&self, id: BuildId, now: Timestamp) -> StoreResult<bool> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query(
                "UPDATE builds SET start_time = $2
                 WHERE id = $1 AND start_time IS NULL AND NOT completed AND job_id IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
                == 1)
        })
    }

    /// A team's one-off builds, newest first.
    pub async fn list_one_off_builds(&self, team: TeamId) -> StoreResult<Vec<Build>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} FROM builds
                 WHERE team_id = $1 AND job_id IS NULL AND resource_id IS NULL
                   AND resource_type_id IS NULL
                 ORDER BY id DESC"
            );
            Ok(sqlx::query_as::<_, Build>(&sql)
                .bind(team)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Records an artifact of `team` held in `volume`: uploaded files (no build) or a build's
    /// kept output.
    pub async fn create_artifact(
        &self,
        team: TeamId,
        name: &str,
        build: Option<BuildId>,
        volume: &str,
        now: Timestamp,
    ) -> StoreResult<Artifact> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "INSERT INTO artifacts (team_id, name, build_id, volume, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING {ARTIFACT_COLUMNS}"
            );
            Ok(sqlx::query_as::<_, Artifact>(&sql)
                .bind(team)
                .bind(name)
                .bind(build)
                .bind(volume)
                .bind(now)
                .fetch_one(pool)
                .await
                .map_err(fk_to_not_found(
                    "team or build",
                    format!("{team}/{build:?}"),
                ))?)
        })
    }

    /// An artifact by id.
    pub async fn artifact(&self, id: ArtifactId) -> StoreResult<Artifact> {
        with_db!(self, |pool, pg| {
            let sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE id = $1");
            sqlx::query_as::<_, Artifact>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::not_found("artifact", id))
        })
    }

    /// The artifacts a build kept, oldest first.
    pub async fn build_artifacts(&self, build: BuildId) -> StoreResult<Vec<Artifact>> {
        with_db!(self, |pool, pg| {
            let sql =
                format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE build_id = $1 ORDER BY id");
            Ok(sqlx::query_as::<_, Artifact>(&sql)
                .bind(build)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Artifacts made before `before`, oldest first: uploads never used and outputs never
    /// fetched, whose volumes are due to go.
    pub async fn artifacts_created_before(&self, before: Timestamp) -> StoreResult<Vec<Artifact>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE created_at < $1 ORDER BY id"
            );
            Ok(sqlx::query_as::<_, Artifact>(&sql)
                .bind(before)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Forgets an artifact (its volume is the caller's to destroy).
    pub async fn delete_artifact(&self, id: ArtifactId) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            sqlx::query("DELETE FROM artifacts WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
