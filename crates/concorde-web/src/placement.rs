//! The workers this node places builds and checks on: the pool (its local worker, if it has
//! one, and every worker registered through the TSA) and the fetch locks its builds share. A
//! build that no worker fits waits, saying so once in its log, until one registers or someone
//! aborts it.

use std::sync::Arc;
use std::time::Duration;

use concorde_engine::CacheLocks;
use concorde_store::{BuildId, Store, StoreError, Topic, WorkerName};
use concorde_workers::{LocalEntry, Placed, Requirements, WorkerPool};
use tokio_util::sync::CancellationToken;

use crate::worker::LocalWorker;

/// How often a waiting build looks for a worker again.
const RETRY: Duration = Duration::from_secs(5);

/// The workers of a node.
#[derive(Clone, Debug)]
pub struct NodeWorkers {
    /// Every worker work may go to.
    pub pool: WorkerPool,
    /// One fetch at a time per resource cache, across this node's builds and checks.
    pub cache_locks: Arc<CacheLocks>,
}

/// How waiting for a worker ended without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoWorker {
    /// The build was aborted (or is gone with its pipeline).
    Aborted,
    /// The node is stopping.
    Stopped,
}

impl NodeWorkers {
    /// The workers of a node with `local` as its own worker (quickstart), or none (`web`).
    pub fn new(store: &Store, local: Option<&LocalWorker>) -> NodeWorkers {
        let local = local.map(|local| LocalEntry {
            name: WorkerName::new(&local.name),
            runtime: local.runtime.clone(),
            base_types: local.base_types.clone(),
        });
        NodeWorkers {
            pool: WorkerPool::new(store.clone(), local),
            cache_locks: Arc::default(),
        }
    }

    /// A worker for build `build`, waiting while none fits: `on_wait` runs once when the wait
    /// begins.
    pub async fn place_build(
        &self,
        store: &Store,
        build: BuildId,
        needs: &Requirements,
        stop: &CancellationToken,
        on_wait: impl AsyncFnOnce(),
    ) -> anyhow::Result<Result<Placed, NoWorker>> {
        // An abort of the build, or a worker registering (the TSA wakes the checkers, and so
        // waiting builds, on the same topic), ends a wait early.
        let mut aborts = store
            .listen(&[Topic::BuildAbort(build), Topic::CheckRequested])
            .await?;
        let mut on_wait = Some(on_wait);
        loop {
            match store.build(build).await {
                Ok(row) if row.aborted => return Ok(Err(NoWorker::Aborted)),
                Err(StoreError::NotFound { .. }) => return Ok(Err(NoWorker::Aborted)),
                _ => {}
            }
            if let Some(placed) = self.pool.choose(needs).await? {
                return Ok(Ok(placed));
            }
            if let Some(on_wait) = on_wait.take() {
                on_wait().await;
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(Err(NoWorker::Stopped)),
                _ = aborts.recv() => {}
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }
}

/// The worker tags a build's steps ask for, all together, sorted: a build runs on one worker,
/// which must have every one of them (a build whose steps ask for different tags waits for a
/// worker with all of them).
pub fn plan_tags(plan: &concorde_engine::Plan) -> Vec<String> {
    fn collect(value: &serde_json::Value, tags: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Array(found)) = map.get("tags") {
                    tags.extend(
                        found
                            .iter()
                            .filter_map(|tag| tag.as_str().map(str::to_owned)),
                    );
                }
                map.values().for_each(|value| collect(value, tags));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| collect(item, tags)),
            _ => {}
        }
    }
    let mut tags = Vec::new();
    if let Ok(json) = serde_json::to_value(plan) {
        collect(&json, &mut tags);
    }
    tags.retain(|tag| !tag.is_empty());
    tags.sort();
    tags.dedup();
    tags
}
