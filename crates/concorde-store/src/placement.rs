//! What placing a step reads and counts: the running workers that fit it, how many build
//! containers each has (fewest-build-containers), and the task slots of limit-active-tasks,
//! taken and given back atomically so several web nodes never overfill a worker.

use std::collections::HashMap;

use crate::error::StoreResult;
use crate::ids::{TeamId, WorkerName};
use crate::workers::{WORKER_COLUMNS, Worker, WorkerRow};
use crate::{Store, with_db};

/// What a step needs from the worker it runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlacementQuery {
    /// The step's team; team workers only take their own team's steps.
    pub team: Option<TeamId>,
    /// A base resource type the worker must provide (get, put, check of a base type).
    pub resource_type: Option<String>,
    /// The platform the worker must have (tasks).
    pub platform: Option<String>,
    /// The step's tags; untagged steps only go to untagged workers.
    pub tags: Vec<String>,
}

impl Store {
    /// The running workers a step may be placed on, by name: compatible platform, resource
    /// type and tags, and, when any compatible worker belongs to the step's team, only those.
    pub async fn placement_candidates(&self, query: &PlacementQuery) -> StoreResult<Vec<Worker>> {
        let running = with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT {WORKER_COLUMNS} FROM workers WHERE state = 'running' ORDER BY name"
            );
            sqlx::query_as::<_, WorkerRow>(&sql).fetch_all(pool).await?
        });
        let mut compatible = Vec::new();
        for row in running {
            let worker = Worker::try_from(row)?;
            let team_ok = worker.team_id.is_none() || worker.team_id == query.team;
            let type_ok = query.resource_type.as_ref().is_none_or(|wanted| {
                worker
                    .resource_types
                    .iter()
                    .any(|rt| &rt.type_name == wanted)
            });
            let platform_ok = query
                .platform
                .as_ref()
                .is_none_or(|wanted| &worker.platform == wanted);
            let tags_ok = if query.tags.is_empty() {
                worker.tags.is_empty()
            } else {
                query.tags.iter().all(|tag| worker.tags.contains(tag))
            };
            if team_ok && type_ok && platform_ok && tags_ok {
                compatible.push(worker);
            }
        }
        if compatible.iter().any(|worker| worker.team_id.is_some()) {
            compatible.retain(|worker| worker.team_id.is_some());
        }
        Ok(compatible)
    }

    /// How many containers of builds each worker has on record (workers with none are absent).
    pub async fn build_containers_per_worker(&self) -> StoreResult<HashMap<WorkerName, i64>> {
        let rows: Vec<(WorkerName, i64)> = with_db!(self, |pool, pg| {
            sqlx::query_as(
                "SELECT worker_name, COUNT(*) FROM containers
                 WHERE build_id IS NOT NULL GROUP BY worker_name",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Takes one of `worker`'s task slots: false when it already runs `max` tasks (`max` 0:
    /// no limit) or is gone.
    pub async fn claim_task_slot(&self, worker: &WorkerName, max: i64) -> StoreResult<bool> {
        let claimed = with_db!(self, |pool, pg| {
            sqlx::query(
                "UPDATE workers SET active_tasks = active_tasks + 1
                 WHERE name = $1 AND ($2 = 0 OR active_tasks < $2)",
            )
            .bind(worker)
            .bind(max)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(claimed == 1)
    }

    /// Gives back a task slot taken with [`Store::claim_task_slot`].
    pub async fn release_task_slot(&self, worker: &WorkerName) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            sqlx::query(
                "UPDATE workers SET active_tasks = active_tasks - 1
                 WHERE name = $1 AND active_tasks > 0",
            )
            .bind(worker)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
