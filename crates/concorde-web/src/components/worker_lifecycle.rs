//! Concourse's `collector_workers`: running workers whose heartbeats lapsed past their TTL
//! become `stalled` (ephemeral ones are removed) and get no new work; landing and retiring
//! workers with no build left that must not be interrupted become `landed` or go.

use std::time::Duration;

use concorde_store::{Store, Topic};
use tracing::info;

use crate::components::{Component, Tick};

/// The worker lifecycle component.
pub struct WorkerLifecycle {
    store: Store,
}

impl WorkerLifecycle {
    /// The lifecycle over `store`.
    pub fn new(store: Store) -> WorkerLifecycle {
        WorkerLifecycle { store }
    }
}

#[async_trait::async_trait]
impl Component for WorkerLifecycle {
    fn name(&self) -> &'static str {
        "collector_workers"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn wake_topics(&self) -> Vec<Topic> {
        Vec::new()
    }

    async fn tick(&self) -> anyhow::Result<Tick> {
        let expired = self.store.stall_expired_workers(crate::now()).await?;
        for name in &expired.stalled {
            info!(worker = %name, "worker stalled: its heartbeats stopped");
        }
        for name in &expired.deleted_ephemeral {
            info!(worker = %name, "ephemeral worker removed: its heartbeats stopped");
        }
        let drained = self.store.finish_draining_workers().await?;
        for name in &drained.landed {
            info!(worker = %name, "worker landed");
        }
        for name in &drained.retired {
            info!(worker = %name, "worker retired");
        }
        Ok(Tick::Idle)
    }
}
