//! The engine's [`Placer`] for one build or check: each step goes to a running worker that
//! fits it (team, tags, base resource type), chosen by the node's placement strategies, and
//! is reached through a client that records for this build. A step no worker fits waits,
//! woken when a worker registers (the TSA notifies the checkers' topic) or every few seconds;
//! a check does not wait: no worker is its error. A task that every fitting worker is too
//! busy for (limit-active-tasks) waits too, and is woken when a task ends.

use std::time::Duration;

use concorde_engine::{Placement, Placer, StepNeeds, StepWorker};
use concorde_store::{Listener, PlacementQuery, Topic, WorkerName};
use tokio::sync::Mutex;

use crate::build_client::BuildOwner;
use crate::pool::{PoolPlacement, WorkerPool};

/// How often a waiting step looks for a worker again without being woken.
const RETRY: Duration = Duration::from_secs(5);

/// Why a task waits when every fitting worker runs as many tasks as it may (Concourse's words).
const ALL_BUSY: &str = "All workers are busy at the moment, please stand-by.";

/// Places the steps of one build or check.
#[derive(Debug)]
pub struct BuildPlacer {
    pool: WorkerPool,
    owner: BuildOwner,
    waits: bool,
    /// Wakes waiting steps when a worker registers; made at the first wait.
    registrations: Mutex<Option<Listener>>,
}

impl BuildPlacer {
    /// The placer of build `owner`'s steps, which wait for a worker when none fits.
    pub fn for_build(pool: WorkerPool, owner: BuildOwner) -> BuildPlacer {
        BuildPlacer {
            pool,
            owner,
            waits: true,
            registrations: Mutex::new(None),
        }
    }

    /// The placer of a check, which errors when no worker fits.
    pub fn for_check(pool: WorkerPool, owner: BuildOwner) -> BuildPlacer {
        BuildPlacer {
            waits: false,
            ..BuildPlacer::for_build(pool, owner)
        }
    }

    async fn try_place(&self, needs: &StepNeeds) -> Result<Placement, String> {
        let query = PlacementQuery {
            team: Some(self.owner.team),
            resource_type: needs.base_type.clone(),
            platform: None,
            tags: needs.tags.clone(),
        };
        let placed = self
            .pool
            .place(&query, needs)
            .await
            .map_err(|err| format!("placing step {}: {err}", needs.plan_id))?;
        Ok(match placed {
            PoolPlacement::Placed(placed) => Placement::Placed(StepWorker {
                client: std::sync::Arc::new(placed.worker.for_build(self.owner.clone())),
                base_types: std::sync::Arc::new(placed.base_types),
            }),
            PoolPlacement::NoneFits => Placement::NoneFits(unsatisfied(needs)),
            PoolPlacement::AllBusy => Placement::NoneFits(ALL_BUSY.to_owned()),
        })
    }
}

/// Concourse's message for a step no worker fits.
pub fn unsatisfied(needs: &StepNeeds) -> String {
    let mut wanted = Vec::new();
    if let Some(base) = &needs.base_type {
        wanted.push(format!("resource type '{base}'"));
    }
    for tag in &needs.tags {
        wanted.push(format!("tag '{tag}'"));
    }
    if wanted.is_empty() {
        "no workers available".to_owned()
    } else {
        format!("no workers satisfying: {}", wanted.join(", "))
    }
}

#[async_trait::async_trait]
impl Placer for BuildPlacer {
    async fn place(&self, needs: &StepNeeds) -> Result<Placement, String> {
        let first = self.try_place(needs).await?;
        match first {
            Placement::Placed(_) => return Ok(first),
            Placement::NoneFits(reason) if !self.waits => {
                // With nothing asked of it, any worker would do: there is none at all.
                let asks = needs.base_type.is_some() || !needs.tags.is_empty();
                return Err(if asks {
                    reason
                } else {
                    "no workers available for checking".to_owned()
                });
            }
            Placement::NoneFits(_) => {}
        }
        // Listen before looking again, so a worker registering in between is not missed.
        {
            let mut registrations = self.registrations.lock().await;
            if registrations.is_none() {
                let listener = self
                    .pool
                    .store()
                    .listen(&[Topic::CheckRequested])
                    .await
                    .map_err(|err| err.to_string())?;
                *registrations = Some(listener);
            }
        }
        self.try_place(needs).await
    }

    async fn changed(&self) {
        let mut registrations = self.registrations.lock().await;
        match registrations.as_mut() {
            Some(listener) => {
                let _ = tokio::time::timeout(RETRY, listener.recv()).await;
            }
            None => tokio::time::sleep(RETRY).await,
        }
    }

    async fn finished(&self, needs: &StepNeeds, worker: &StepWorker) {
        if !self.pool.config().limits_tasks(needs) {
            return;
        }
        let name = WorkerName::new(worker.name());
        let store = self.pool.store();
        if let Err(err) = store.release_task_slot(&name).await {
            tracing::warn!(worker = %worker.name(), error = %err, "could not release a task slot");
            return;
        }
        // Steps waiting for a slot listen where waiting steps hear of new workers.
        if let Err(err) = store.notify(Topic::CheckRequested, name.as_str()).await {
            tracing::warn!(error = %err, "could not wake steps waiting for a worker");
        }
    }
}
