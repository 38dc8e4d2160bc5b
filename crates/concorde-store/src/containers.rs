//! Containers: the rows the web node writes before asking a worker for a container, their
//! owners (a build step, a step's image fetch, a resource check), the state machine
//! `creating → created → destroying` (and `creating → failed → destroying`), hijack
//! bookkeeping, and the listings `fly containers` shows.
//!
//! A transition is `UPDATE ... WHERE state IN (expected, target)`: repeating one is harmless,
//! and any other current state is refused with `InvalidTransition`, so two nodes can never
//! both move one container. Rows are only deleted once the worker reports the container gone
//! (see `reports.rs`) or by the collectors in `gc.rs`.

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult, unique_to_exists};
use crate::ids::{
    BuildId, ContainerHandle, ContainerId, JobId, PipelineId, ScopeId, TeamId, Timestamp,
    WorkerName,
};
use crate::states::state_enum;
use crate::{Store, with_db};

state_enum! {
    /// Where a container is in its life.
    ContainerState, "container state" {
        /// The row exists; the worker may or may not have the container yet.
        Creating = "creating",
        /// The worker created it.
        Created = "created",
        /// Garbage: the worker will destroy it, then the row goes.
        Destroying = "destroying",
        /// Creating it failed; garbage collection moves it to `destroying`.
        Failed = "failed",
    }
}

/// What a container exists for. While its owner needs it, garbage collection leaves it alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContainerOwner {
    /// A step of a build (task, get, put), by the step's plan id.
    BuildStep {
        /// The build.
        build: BuildId,
        /// The step's plan id.
        plan_id: String,
    },
    /// Checking the version of the image of a build step (custom type or task image).
    ImageCheck {
        /// The build.
        build: BuildId,
        /// The plan id of the step whose image this is.
        plan_id: String,
    },
    /// Fetching the image of a build step (custom type or task image).
    ImageGet {
        /// The build.
        build: BuildId,
        /// The plan id of the step whose image this is.
        plan_id: String,
    },
    /// Checking a resource config scope for new versions.
    Check {
        /// The scope.
        scope: ScopeId,
    },
}

impl ContainerOwner {
    fn kind(&self) -> &'static str {
        match self {
            ContainerOwner::BuildStep { .. } => "step",
            ContainerOwner::ImageCheck { .. } => "image_check",
            ContainerOwner::ImageGet { .. } => "image_get",
            ContainerOwner::Check { .. } => "check",
        }
    }

    fn build_and_plan(&self) -> (Option<BuildId>, Option<&str>) {
        match self {
            ContainerOwner::BuildStep { build, plan_id }
            | ContainerOwner::ImageCheck { build, plan_id }
            | ContainerOwner::ImageGet { build, plan_id } => (Some(*build), Some(plan_id)),
            ContainerOwner::Check { .. } => (None, None),
        }
    }

    fn scope(&self) -> Option<ScopeId> {
        match self {
            ContainerOwner::Check { scope } => Some(*scope),
            _ => None,
        }
    }
}

/// What `fly containers` and `fly hijack` show about a container. Display only: nothing
/// decides on these fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerMeta {
    /// `check`, `get`, `put`, `task` or `run`.
    #[serde(rename = "type")]
    pub step_type: String,
    /// The step's name.
    pub step_name: String,
    /// Attempt numbers, e.g. `1.2`, for steps under `attempts:`.
    pub attempt: String,
    /// Working directory of the step's process.
    pub working_directory: String,
    /// User the step's process runs as.
    pub user: String,
    /// Pipeline name, for display.
    pub pipeline_name: Option<String>,
    /// Job name, for display.
    pub job_name: Option<String>,
    /// Job id, for display.
    pub job_id: Option<JobId>,
    /// Build name, for display.
    pub build_name: Option<String>,
}

/// A container row to create, in state `creating`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContainer {
    /// Its handle, unique across workers.
    pub handle: ContainerHandle,
    /// The worker it goes on.
    pub worker: WorkerName,
    /// What it is for.
    pub owner: ContainerOwner,
    /// Team of a check container; build containers take their build's team.
    pub team: Option<TeamId>,
    /// Pipeline of a check container; build containers take their build's pipeline.
    pub pipeline: Option<PipelineId>,
    /// For check containers: when the check session ends, after which it is garbage.
    pub check_expires: Option<Timestamp>,
    /// Display metadata.
    pub meta: ContainerMeta,
    /// Creation time.
    pub now: Timestamp,
}

/// A container row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Its id.
    pub id: ContainerId,
    /// Its handle.
    pub handle: ContainerHandle,
    /// The worker it is on.
    pub worker_name: WorkerName,
    /// Where it is in its life.
    pub state: ContainerState,
    /// What it is for; `None` once the owner is gone, or for a container a worker reported
    /// that the web node never created.
    pub owner: Option<ContainerOwner>,
    /// Team it is visible to.
    pub team_id: Option<TeamId>,
    /// Pipeline it belongs to, if any.
    pub pipeline_id: Option<PipelineId>,
    /// Display metadata.
    pub meta: ContainerMeta,
    /// For check containers: when the check session ends.
    pub check_expires: Option<Timestamp>,
    /// Since when the worker no longer reports it, if it does not.
    pub missing_since: Option<Timestamp>,
    /// When someone last hijacked (intercepted) it; `None` if never.
    pub last_hijack: Option<Timestamp>,
    /// Orphaned, but kept because it was hijacked within the grace period; destroyed once the
    /// grace period passes without another hijack.
    pub discontinued: bool,
    /// When the row was created.
    pub created_at: Timestamp,
}

impl Container {
    /// Whether someone ever hijacked it.
    pub fn hijacked(&self) -> bool {
        self.last_hijack.is_some()
    }
}

/// Which containers to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFilter {
    /// Only this worker's.
    pub worker: Option<WorkerName>,
    /// Only this team's.
    pub team: Option<TeamId>,
    /// Only this pipeline's.
    pub pipeline: Option<PipelineId>,
    /// Only this build's.
    pub build: Option<BuildId>,
}

pub(crate) const CONTAINER_COLUMNS: &str = "id, handle, worker_name, state, owner_kind, build_id, \
    plan_id, check_scope_id, team_id, pipeline_id, meta, check_expires, missing_since, last_hijack, \
    discontinued, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ContainerRow {
    id: ContainerId,
    handle: ContainerHandle,
    worker_name: WorkerName,
    #[sqlx(try_from = "String")]
    state: ContainerState,
    owner_kind: String,
    build_id: Option<BuildId>,
    plan_id: Option<String>,
    check_scope_id: Option<ScopeId>,
    team_id: Option<TeamId>,
    pipeline_id: Option<PipelineId>,
    meta: String,
    check_expires: Option<Timestamp>,
    missing_since: Option<Timestamp>,
    last_hijack: Option<Timestamp>,
    discontinued: bool,
    created_at: Timestamp,
}

impl TryFrom<ContainerRow> for Container {
    type Error = StoreError;
    fn try_from(row: ContainerRow) -> StoreResult<Container> {
        let build_plan = row.build_id.zip(row.plan_id);
        let owner = match (row.owner_kind.as_str(), build_plan, row.check_scope_id) {
            ("step", Some((build, plan_id)), _) => {
                Some(ContainerOwner::BuildStep { build, plan_id })
            }
            ("image_check", Some((build, plan_id)), _) => {
                Some(ContainerOwner::ImageCheck { build, plan_id })
            }
            ("image_get", Some((build, plan_id)), _) => {
                Some(ContainerOwner::ImageGet { build, plan_id })
            }
            ("check", _, Some(scope)) => Some(ContainerOwner::Check { scope }),
            _ => None,
        };
        let meta = serde_json::from_str(&row.meta).map_err(|err| StoreError::Corrupt {
            what: "container meta",
            detail: err.to_string(),
        })?;
        Ok(Container {
            id: row.id,
            handle: row.handle,
            worker_name: row.worker_name,
            state: row.state,
            owner,
            team_id: row.team_id,
            pipeline_id: row.pipeline_id,
            meta,
            check_expires: row.check_expires,
            missing_since: row.missing_since,
            last_hijack: row.last_hijack,
            discontinued: row.discontinued,
            created_at: row.created_at,
        })
    }
}

impl Store {
    /// Creates a container row in state `creating`, before the worker is asked for it.
    ///
    /// `AlreadyExists` for a handle in use; `NotFound` for an unknown worker, build or scope.
    pub async fn create_container(&self, new: &NewContainer) -> StoreResult<Container> {
        let meta = serde_json::to_string(&new.meta).map_err(|source| StoreError::InvalidJson {
            what: "container meta",
            source,
        })?;
        let (build, plan_id) = new.owner.build_and_plan();
        let row = with_db!(self, |pool, pg| {
            let sql = format!(
                "INSERT INTO containers (handle, worker_name, state, owner_kind, build_id, plan_id,
                   check_scope_id, team_id, pipeline_id, check_expires, meta, created_at)
                 VALUES ($1, $2, 'creating', $3, $4, $5, $6,
                   COALESCE((SELECT team_id FROM builds WHERE id = $4), $7),
                   COALESCE((SELECT pipeline_id FROM builds WHERE id = $4), $8), $9, $10, $11)
                 RETURNING {CONTAINER_COLUMNS}"
            );
            sqlx::query_as::<_, ContainerRow>(&sql)
                .bind(&new.handle)
                .bind(&new.worker)
                .bind(new.owner.kind())
                .bind(build)
                .bind(plan_id)
                .bind(new.owner.scope())
                .bind(new.team)
                .bind(new.pipeline)
                .bind(new.check_expires)
                .bind(&meta)
                .bind(new.now)
                .fetch_one(pool)
                .await
                .map_err(|err| match &err {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::not_found(
                            "worker, build or scope",
                            format!("{} / {:?}", new.worker, new.owner),
                        )
                    }
                    _ => unique_to_exists("container", &new.handle)(err),
                })?
        });
        row.try_into()
    }

    /// A container by handle.
    pub async fn container(&self, handle: &ContainerHandle) -> StoreResult<Container> {
        let row = with_db!(self, |pool, pg| {
            let sql = format!("SELECT {CONTAINER_COLUMNS} FROM containers WHERE handle = $1");
            sqlx::query_as::<_, ContainerRow>(&sql)
                .bind(handle)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::not_found("container", handle))?
            .try_into()
    }

    /// The live (`creating` or `created`) container of an owner on any worker, so a retried
    /// step or a repeated check reuses it. Check containers past `check_expires` do not count.
    pub async fn find_container_by_owner(
        &self,
        owner: &ContainerOwner,
        now: Timestamp,
    ) -> StoreResult<Option<Container>> {
        let (build, plan_id) = owner.build_and_plan();
        let row = with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {CONTAINER_COLUMNS} FROM containers
                 WHERE owner_kind = $1 AND state IN ('creating', 'created')
                   AND (($2 IS NOT NULL AND build_id = $2 AND plan_id = $3)
                     OR ($4 IS NOT NULL AND check_scope_id = $4 AND (check_expires IS NULL OR check_expires > $5)))
                 ORDER BY id DESC LIMIT 1"
            );
            sqlx::query_as::<_, ContainerRow>(&sql)
                .bind(owner.kind())
                .bind(build)
                .bind(plan_id)
                .bind(owner.scope())
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        row.map(Container::try_from).transpose()
    }

    /// Containers matching every given filter, oldest first (`fly containers`).
    pub async fn list_containers(&self, filter: &ContainerFilter) -> StoreResult<Vec<Container>> {
        let rows = with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {CONTAINER_COLUMNS} FROM containers
                 WHERE ($1 IS NULL OR worker_name = $1) AND ($2 IS NULL OR team_id = $2)
                   AND ($3 IS NULL OR pipeline_id = $3) AND ($4 IS NULL OR build_id = $4)
                 ORDER BY id"
            );
            sqlx::query_as::<_, ContainerRow>(&sql)
                .bind(&filter.worker)
                .bind(filter.team)
                .bind(filter.pipeline)
                .bind(filter.build)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Container::try_from).collect()
    }

    /// `creating → created`: the worker made it.
    pub async fn container_created(&self, handle: &ContainerHandle) -> StoreResult<()> {
        self.transition_container(handle, &[ContainerState::Creating], ContainerState::Created)
            .await
    }

    /// `creating → failed`: making it failed (image, volumes, runtime).
    pub async fn container_failed(&self, handle: &ContainerHandle) -> StoreResult<()> {
        self.transition_container(handle, &[ContainerState::Creating], ContainerState::Failed)
            .await
    }

    /// `created | failed → destroying`: the worker should destroy it. A `creating` container
    /// is refused: a node may still be creating it.
    pub async fn destroy_container(&self, handle: &ContainerHandle) -> StoreResult<()> {
        let from = [ContainerState::Created, ContainerState::Failed];
        self.transition_container(handle, &from, ContainerState::Destroying)
            .await
    }

    /// Records a hijack (`fly intercept`) of a `created` container now; while hijacks keep
    /// coming within the grace period, garbage collection keeps it.
    pub async fn mark_container_hijacked(
        &self,
        handle: &ContainerHandle,
        now: Timestamp,
    ) -> StoreResult<()> {
        let updated = with_db!(self, |pool, pg| {
            sqlx::query(
                "UPDATE containers SET last_hijack = $2 WHERE handle = $1 AND state = 'created'",
            )
            .bind(handle)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            return Err(self.refused_container(handle, "hijacked").await);
        }
        Ok(())
    }

    async fn transition_container(
        &self,
        handle: &ContainerHandle,
        from: &[ContainerState],
        to: ContainerState,
    ) -> StoreResult<()> {
        let mut states: Vec<&str> = from.iter().map(|state| state.as_str()).collect();
        states.push(to.as_str());
        // The states are constants of this module, not user input.
        let allowed = states
            .iter()
            .map(|state| format!("'{state}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let updated = with_db!(self, |pool, pg| {
            let sql = format!(
                "UPDATE containers SET state = $2 WHERE handle = $1 AND state IN ({allowed})"
            );
            sqlx::query(&sql)
                .bind(handle)
                .bind(to.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if updated == 0 {
            return Err(self.refused_container(handle, to.as_str()).await);
        }
        Ok(())
    }

    async fn refused_container(&self, handle: &ContainerHandle, to: &str) -> StoreError {
        match self.container(handle).await {
            Ok(container) => StoreError::InvalidTransition {
                kind: "container",
                id: handle.to_string(),
                from: container.state.as_str().into(),
                to: to.into(),
            },
            Err(err) => err,
        }
    }
}
