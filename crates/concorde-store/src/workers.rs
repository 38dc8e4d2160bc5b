//! Workers: registration and heartbeats with a time to live, the lifecycle (running, stalled,
//! landing, landed, retiring), the base resource types each one advertises, and the list of
//! workers a step may be placed on.
//!
//! The state machine follows Concourse: registering always yields `running` (unless the worker
//! says otherwise); a heartbeat revives a `stalled` worker but never a draining one; landing and
//! retiring finish once no non-interruptible build runs on the worker.

use std::time::Duration;

use serde::Serialize;

use crate::backend::{WritePool, in_list, int_list};
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{TeamId, Timestamp, WorkerName};
use crate::states::state_enum;
use crate::{Store, with_db};

state_enum! {
    /// Where a worker is in its life.
    WorkerState, "worker state" {
        /// Heartbeating; the only state that gets new containers.
        Running = "running",
        /// Missed its heartbeat deadline; a heartbeat makes it `running` again.
        Stalled = "stalled",
        /// Asked to land: takes no new work, becomes `landed` once its builds are done.
        Landing = "landing",
        /// Landed: may be restarted and re-register.
        Landed = "landed",
        /// Asked to retire: deleted once its builds are done.
        Retiring = "retiring",
    }
}

pub use concorde_core::WorkerResourceType;

/// What a worker registers with (the worker JSON of the TSA protocol).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerSpec {
    /// Its name, the identity re-registrations are matched on.
    pub name: WorkerName,
    /// Container runtime address, `host:port`.
    pub addr: Option<String>,
    /// Volume server URL.
    pub baggageclaim_url: Option<String>,
    /// Owning team; `None` for a global worker.
    pub team: Option<TeamId>,
    /// `linux`, `windows`, `darwin`.
    pub platform: String,
    /// Tags: a tagged worker only runs steps asking for all of them.
    pub tags: Vec<String>,
    /// The base resource types it provides.
    pub resource_types: Vec<WorkerResourceType>,
    /// Worker version, e.g. `3.0`.
    pub version: String,
    /// Ephemeral workers are deleted, not stalled, when their heartbeat lapses.
    pub ephemeral: bool,
    /// When the worker process started.
    pub start_time: Timestamp,
    /// Containers it runs, as counted by the worker.
    pub active_containers: i64,
    /// Volumes it holds, as counted by the worker.
    pub active_volumes: i64,
    /// The state to register in; `None` means `running`.
    pub state: Option<WorkerState>,
}

/// A heartbeat: a new deadline and fresh counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// How long until the worker stalls without another heartbeat; `None` never expires.
    pub ttl: Option<Duration>,
    /// Containers it runs.
    pub active_containers: i64,
    /// Volumes it holds.
    pub active_volumes: i64,
    /// The heartbeat time.
    pub now: Timestamp,
}

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// Its name.
    pub name: WorkerName,
    /// Container runtime address; cleared when landed.
    pub addr: Option<String>,
    /// Volume server URL; cleared when landed.
    pub baggageclaim_url: Option<String>,
    /// Where it is in its life.
    pub state: WorkerState,
    /// Heartbeat deadline; `None` when stalled or registered without a TTL.
    pub expires: Option<Timestamp>,
    /// When it stalled, while stalled.
    pub stalled_since: Option<Timestamp>,
    /// Owning team; `None` for a global worker.
    pub team_id: Option<TeamId>,
    /// `linux`, `windows`, `darwin`.
    pub platform: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The base resource types it provides, by type name.
    pub resource_types: Vec<WorkerResourceType>,
    /// Worker version.
    pub version: String,
    /// Deleted rather than stalled when its heartbeat lapses.
    pub ephemeral: bool,
    /// When the worker process started.
    pub start_time: Timestamp,
    /// Containers, as last reported.
    pub active_containers: i64,
    /// Volumes, as last reported.
    pub active_volumes: i64,
    /// Task containers placed by the `limit-active-tasks` strategy.
    pub active_tasks: i64,
}

pub(crate) const WORKER_COLUMNS: &str = "name, addr, baggageclaim_url, state, expires, stalled_since, team_id, \
    platform, tags, resource_types, version, ephemeral, start_time, active_containers, active_volumes, \
    active_tasks";

#[derive(sqlx::FromRow)]
pub(crate) struct WorkerRow {
    name: WorkerName,
    addr: Option<String>,
    baggageclaim_url: Option<String>,
    #[sqlx(try_from = "String")]
    state: WorkerState,
    expires: Option<Timestamp>,
    stalled_since: Option<Timestamp>,
    team_id: Option<TeamId>,
    platform: String,
    tags: String,
    resource_types: String,
    version: String,
    ephemeral: bool,
    start_time: Timestamp,
    active_containers: i64,
    active_volumes: i64,
    active_tasks: i64,
}

impl TryFrom<WorkerRow> for Worker {
    type Error = StoreError;
    fn try_from(row: WorkerRow) -> StoreResult<Worker> {
        let corrupt = |what| {
            move |err: serde_json::Error| StoreError::Corrupt {
                what,
                detail: err.to_string(),
            }
        };
        Ok(Worker {
            tags: serde_json::from_str(&row.tags).map_err(corrupt("worker tags"))?,
            resource_types: serde_json::from_str(&row.resource_types)
                .map_err(corrupt("worker resource types"))?,
            name: row.name,
            addr: row.addr,
            baggageclaim_url: row.baggageclaim_url,
            state: row.state,
            expires: row.expires,
            stalled_since: row.stalled_since,
            team_id: row.team_id,
            platform: row.platform,
            version: row.version,
            ephemeral: row.ephemeral,
            start_time: row.start_time,
            active_containers: row.active_containers,
            active_volumes: row.active_volumes,
            active_tasks: row.active_tasks,
        })
    }
}

fn to_json<T: Serialize>(what: &'static str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|source| StoreError::InvalidJson { what, source })
}

impl Store {
    /// Registers a worker, or re-registers it: every column is overwritten, the deadline is
    /// `now + ttl` (`None`: never expires), the state is the one given or `running`, and the
    /// base resource types it advertises replace the previous ones (a type whose image or
    /// version changed gets a new row, orphaning volumes of the old image).
    ///
    /// `AlreadyExists` when a worker of that name belongs to another team (or is global while
    /// this one is not); `NotFound` for an unknown team.
    pub async fn register_worker(
        &self,
        spec: &WorkerSpec,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> StoreResult<Worker> {
        let tags: Vec<&String> = spec.tags.iter().filter(|tag| !tag.is_empty()).collect();
        let tags = to_json("worker tags", &tags)?;
        let types = to_json("worker resource types", &spec.resource_types)?;
        let state = spec.state.unwrap_or(WorkerState::Running);
        let expires = ttl.map(|ttl| now.plus(ttl));
        let row = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "INSERT INTO workers (name, addr, baggageclaim_url, state, expires, team_id, platform, tags,
                   resource_types, version, ephemeral, start_time, active_containers, active_volumes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (name) DO UPDATE SET addr = excluded.addr,
                   baggageclaim_url = excluded.baggageclaim_url, state = excluded.state,
                   expires = excluded.expires, stalled_since = NULL, platform = excluded.platform,
                   tags = excluded.tags, resource_types = excluded.resource_types,
                   version = excluded.version, ephemeral = excluded.ephemeral,
                   start_time = excluded.start_time, active_containers = excluded.active_containers,
                   active_volumes = excluded.active_volumes
                 WHERE workers.team_id IS NOT DISTINCT FROM excluded.team_id
                 RETURNING {WORKER_COLUMNS}"
            );
            let row = sqlx::query_as::<_, WorkerRow>(&sql)
                .bind(&spec.name)
                .bind(&spec.addr)
                .bind(&spec.baggageclaim_url)
                .bind(state.as_str())
                .bind(expires)
                .bind(spec.team)
                .bind(&spec.platform)
                .bind(&tags)
                .bind(&types)
                .bind(&spec.version)
                .bind(spec.ephemeral)
                .bind(spec.start_time)
                .bind(spec.active_containers)
                .bind(spec.active_volumes)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fk_to_not_found("team", format!("{:?}", spec.team)))?;
            let Some(row) = row else {
                return Err(StoreError::AlreadyExists {
                    kind: "worker of another team",
                    name: spec.name.to_string(),
                });
            };
            let mut advertised = Vec::with_capacity(spec.resource_types.len());
            for rt in &spec.resource_types {
                let base: i64 = sqlx::query_scalar(
                    "INSERT INTO base_resource_types (name) VALUES ($1)
                     ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
                )
                .bind(&rt.type_name)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM worker_base_resource_types WHERE worker_name = $1
                       AND base_resource_type_id = $2 AND (image <> $3 OR version <> $4)",
                )
                .bind(&spec.name)
                .bind(base)
                .bind(&rt.image)
                .bind(&rt.version)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO worker_base_resource_types (worker_name, base_resource_type_id, image,
                       version, privileged, unique_version_history) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (worker_name, base_resource_type_id) DO UPDATE SET
                       privileged = excluded.privileged, unique_version_history = excluded.unique_version_history",
                )
                .bind(&spec.name)
                .bind(base)
                .bind(&rt.image)
                .bind(&rt.version)
                .bind(rt.privileged)
                .bind(rt.unique_version_history)
                .execute(&mut *tx)
                .await?;
                advertised.push(base);
            }
            let sql = format!(
                "DELETE FROM worker_base_resource_types WHERE worker_name = $1 AND NOT ({})",
                in_list(pg, "base_resource_type_id", 2)
            );
            sqlx::query(&sql)
                .bind(&spec.name)
                .bind(int_list(pool, advertised))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        });
        row.try_into()
    }

    /// Records a heartbeat: a new deadline, fresh counts, and `running` again if it was
    /// stalled. Landing, landed and retiring workers keep their state.
    pub async fn heartbeat_worker(
        &self,
        name: &WorkerName,
        beat: &Heartbeat,
    ) -> StoreResult<Worker> {
        let expires = beat.ttl.map(|ttl| beat.now.plus(ttl));
        let row = with_db!(self, |pool, pg| {
            let sql = format!(
                "UPDATE workers SET expires = $2, active_containers = $3, active_volumes = $4,
                   stalled_since = NULL,
                   state = CASE WHEN state IN ('landing', 'landed', 'retiring') THEN state ELSE 'running' END
                 WHERE name = $1 RETURNING {WORKER_COLUMNS}"
            );
            sqlx::query_as::<_, WorkerRow>(&sql)
                .bind(name)
                .bind(expires)
                .bind(beat.active_containers)
                .bind(beat.active_volumes)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::not_found("worker", name))?
            .try_into()
    }

    /// A worker by name.
    pub async fn worker(&self, name: &WorkerName) -> StoreResult<Worker> {
        let row = with_db!(self, |pool, pg| {
            let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE name = $1");
            sqlx::query_as::<_, WorkerRow>(&sql)
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or_else(|| StoreError::not_found("worker", name))?
            .try_into()
    }

    /// Every worker, by name.
    pub async fn list_workers(&self) -> StoreResult<Vec<Worker>> {
        let rows = with_db!(self, |pool, pg| {
            let sql = format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY name");
            sqlx::query_as::<_, WorkerRow>(&sql).fetch_all(pool).await?
        });
        rows.into_iter().map(Worker::try_from).collect()
    }

    /// Starts landing a worker: it takes no new work and becomes `landed` once its builds are
    /// done. A landed worker stays landed.
    pub async fn land_worker(&self, name: &WorkerName) -> StoreResult<Worker> {
        self.drain_worker(name, WorkerState::Landing).await
    }

    /// Starts retiring a worker: it takes no new work and is deleted once its builds are done.
    /// A landed worker cannot retire (`InvalidTransition`): it has no address to drain through.
    pub async fn retire_worker(&self, name: &WorkerName) -> StoreResult<Worker> {
        self.drain_worker(name, WorkerState::Retiring).await
    }

    async fn drain_worker(&self, name: &WorkerName, to: WorkerState) -> StoreResult<Worker> {
        let row = with_db!(self, |pool, pg| {
            let sql = format!(
                "UPDATE workers SET state = $2 WHERE name = $1 AND state <> 'landed' RETURNING {WORKER_COLUMNS}"
            );
            sqlx::query_as::<_, WorkerRow>(&sql)
                .bind(name)
                .bind(to.as_str())
                .fetch_optional(pool)
                .await?
        });
        if let Some(row) = row {
            return row.try_into();
        }
        // Not updated: the worker is missing or landed. Landing a landed worker is a no-op.
        let worker = self.worker(name).await?;
        if to == WorkerState::Landing {
            return Ok(worker);
        }
        Err(StoreError::InvalidTransition {
            kind: "worker",
            id: name.to_string(),
            from: worker.state.as_str().into(),
            to: to.as_str().into(),
        })
    }

    /// Deletes a worker that is not running (`fly prune-worker`), with its containers and
    /// volumes rows. A running worker is refused with `InvalidTransition`.
    pub async fn prune_worker(&self, name: &WorkerName) -> StoreResult<()> {
        let deleted = with_db!(self, |pool, pg| {
            sqlx::query("DELETE FROM workers WHERE name = $1 AND state <> 'running'")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if deleted == 0 {
            let worker = self.worker(name).await?;
            return Err(StoreError::InvalidTransition {
                kind: "worker",
                id: name.to_string(),
                from: worker.state.as_str().into(),
                to: "pruned".into(),
            });
        }
        Ok(())
    }

    /// Deletes a worker in any state, with its containers and volumes rows.
    pub async fn delete_worker(&self, name: &WorkerName) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("DELETE FROM workers WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?;
            crate::teams::expect_one(res.rows_affected(), "worker", name)
        })
    }
}
