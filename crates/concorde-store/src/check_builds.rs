//! Check builds: every check (periodic, `check-resource`, a webhook, `check-resource-type`) is
//! a build named `check` with its resource or resource type, the version it starts from and
//! its events. Creating one points its resource (or type) at it, so the last check's status
//! and log are one lookup away; checkers claim the unfinished ones from here, so a requested
//! check survives a restart of the node that was asked.

use concorde_config::canonical_json;
use concorde_config::model::VersionMap;

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::builds::{BUILD_COLUMNS, Build, next_build_id};
use crate::error::{StoreError, StoreResult};
use crate::ids::{BuildId, PipelineId, ResourceId, ResourceTypeId, TeamId, Timestamp};
use crate::json_column::JsonColumn;
use crate::{Store, with_db};

/// The plan id of a check build's one step (the origin of its events).
pub const CHECK_PLAN_ID: &str = "check";

/// What a check build checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckTarget {
    /// A resource.
    Resource(ResourceId),
    /// A resource type.
    ResourceType(ResourceTypeId),
}

impl CheckTarget {
    /// The table holding the target, and its id.
    pub(crate) fn row(self) -> (&'static str, i64) {
        match self {
            CheckTarget::Resource(id) => ("resources", id.0),
            CheckTarget::ResourceType(id) => ("resource_types", id.0),
        }
    }

    /// What the target is, for errors.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            CheckTarget::Resource(_) => "resource",
            CheckTarget::ResourceType(_) => "resource type",
        }
    }

    /// The public plan of a check build of this target: what it checks, never its source.
    fn public_plan(self, name: &str, kind: &str) -> serde_json::Value {
        let key = match self {
            CheckTarget::Resource(_) => "resource",
            CheckTarget::ResourceType(_) => "resource_type",
        };
        let mut check = serde_json::json!({"name": name, "type": kind});
        check[key] = serde_json::json!(name);
        serde_json::json!({"id": CHECK_PLAN_ID, "check": check})
    }

    /// The `builds` column naming the target.
    fn build_column(self) -> &'static str {
        match self {
            CheckTarget::Resource(_) => "resource_id",
            CheckTarget::ResourceType(_) => "resource_type_id",
        }
    }

    /// What a check build row checks, `None` for other builds.
    pub fn of(build: &Build) -> Option<CheckTarget> {
        match (build.resource_id, build.resource_type_id) {
            (Some(resource), _) => Some(CheckTarget::Resource(resource)),
            (None, Some(kind)) => Some(CheckTarget::ResourceType(kind)),
            (None, None) => None,
        }
    }
}

/// A check build to create, `pending` until a checker starts it.
#[derive(Debug, Clone)]
pub struct NewCheckBuild<'a> {
    /// What it checks.
    pub target: CheckTarget,
    /// The version to check from instead of the latest known one.
    pub from: Option<&'a VersionMap>,
    /// Asked for by a person or a webhook, rather than due by `check_every`.
    pub manually_triggered: bool,
    /// Who asked, when a person did.
    pub created_by: Option<&'a str>,
    /// Creation time.
    pub now: Timestamp,
}

/// An unfinished check build, as checkers claim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckBuild {
    /// The build row.
    pub build: Build,
    /// What it checks.
    pub target: CheckTarget,
    /// The version it checks from, if one was asked for.
    pub from: Option<VersionMap>,
}

#[derive(sqlx::FromRow)]
struct CheckBuildRow {
    #[sqlx(flatten)]
    build: Build,
    #[sqlx(try_from = "JsonColumn<Option<VersionMap>>")]
    check_from: Option<VersionMap>,
}

impl Store {
    /// Creates a pending check build of `target` and makes it the target's last check build,
    /// in one transaction; wakes the checkers.
    pub async fn create_check_build(&self, new: &NewCheckBuild<'_>) -> StoreResult<Build> {
        let (table, target_id) = new.target.row();
        let from = new
            .from
            .map(|version| canonical_json(&serde_json::json!(version)));
        let build = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "SELECT t.pipeline_id, p.team_id, t.name, t.type FROM {table} t
                 JOIN pipelines p ON p.id = t.pipeline_id WHERE t.id = $1"
            );
            let owner: Option<(PipelineId, TeamId, String, String)> = sqlx::query_as(&sql)
                .bind(target_id)
                .fetch_optional(&mut *tx)
                .await?;
            let (pipeline, team, name, kind) =
                owner.ok_or_else(|| StoreError::not_found(new.target.kind(), target_id))?;
            let plan = new.target.public_plan(&name, &kind).to_string();
            let id = next_build_id(&mut tx).await?;
            let sql = format!(
                "INSERT INTO builds (id, name, status, team_id, pipeline_id, {}, plan,
                   manually_triggered, created_by, check_from, create_time)
                 VALUES ($9, 'check', 'pending', $1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING {BUILD_COLUMNS}",
                new.target.build_column()
            );
            let build = sqlx::query_as::<_, Build>(&sql)
                .bind(team)
                .bind(pipeline)
                .bind(target_id)
                .bind(&plan)
                .bind(new.manually_triggered)
                .bind(new.created_by)
                .bind(&from)
                .bind(new.now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let sql = format!("UPDATE {table} SET last_check_build_id = $1 WHERE id = $2");
            sqlx::query(&sql)
                .bind(build.id)
                .bind(target_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            build
        });
        self.notify(Topic::CheckRequested, &build.id.to_string())
            .await?;
        Ok(build)
    }

    /// Every check build not finished yet (pending or started), oldest first.
    pub async fn unfinished_check_builds(&self) -> StoreResult<Vec<CheckBuild>> {
        let rows = with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {BUILD_COLUMNS}, check_from FROM builds
                 WHERE NOT completed AND (resource_id IS NOT NULL OR resource_type_id IS NOT NULL)
                 ORDER BY id"
            );
            sqlx::query_as::<_, CheckBuildRow>(&sql)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let target = CheckTarget::of(&row.build)?;
                Some(CheckBuild {
                    build: row.build,
                    target,
                    from: row.check_from,
                })
            })
            .collect())
    }

    /// Marks a pending check build started; false when it was not pending any more (another
    /// checker started it, or it was aborted).
    pub async fn start_check_build(&self, id: BuildId, now: Timestamp) -> StoreResult<bool> {
        let started = with_db!(self, |pool, pg| {
            sqlx::query(
                "UPDATE builds SET status = 'started', start_time = $2
                 WHERE id = $1 AND status = 'pending' AND NOT aborted",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        });
        if started {
            self.notify(Topic::BuildEvents(id), "started").await?;
        }
        Ok(started)
    }

    /// Deletes the target's finished check builds that ended before `ended_before`, with
    /// their events, except its last check build; how many went.
    pub async fn forget_check_builds(
        &self,
        target: CheckTarget,
        ended_before: Timestamp,
    ) -> StoreResult<u64> {
        let (table, target_id) = target.row();
        let column = target.build_column();
        with_db!(self, |pool, pg| {
            let sql = format!(
                "DELETE FROM builds WHERE {column} = $1 AND completed AND end_time < $2
                   AND id <> COALESCE((SELECT last_check_build_id FROM {table} WHERE id = $1), 0)"
            );
            Ok(sqlx::query(&sql)
                .bind(target_id)
                .bind(ended_before)
                .execute(pool)
                .await?
                .rows_affected())
        })
    }

    /// The builds with these ids that exist, in id order.
    pub async fn builds_by_id(&self, ids: &[BuildId]) -> StoreResult<Vec<Build>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers: listing them in the text needs no escaping.
        let list = ids
            .iter()
            .map(|id| id.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        with_db!(self, |pool, pg| {
            let sql =
                format!("SELECT {BUILD_COLUMNS} FROM builds WHERE id IN ({list}) ORDER BY id");
            Ok(sqlx::query_as::<_, Build>(&sql).fetch_all(pool).await?)
        })
    }
}
