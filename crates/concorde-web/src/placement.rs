//! The workers this node places steps on: the pool (its local worker, if it has one, and
//! every worker registered through the TSA, ordered by the node's placement strategies) and
//! the fetch locks its builds share. Each build and check gets a `BuildPlacer` over them.

use std::sync::Arc;

use concorde_engine::CacheLocks;
use concorde_store::{Store, WorkerName};
use concorde_workers::{BuildOwner, BuildPlacer, LocalEntry, WorkerPool};

pub use concorde_workers::{Compression, PlacementConfig, PlacementStrategy};

use crate::worker::LocalWorker;

/// The workers of a node.
#[derive(Clone, Debug)]
pub struct NodeWorkers {
    /// Every worker work may go to.
    pub pool: WorkerPool,
    /// One fetch at a time per resource cache, across this node's builds and checks.
    pub cache_locks: Arc<CacheLocks>,
}

impl NodeWorkers {
    /// The workers of a node with `local` as its own worker (quickstart), or none (`web`),
    /// placing steps by `config`.
    pub fn new(store: &Store, local: Option<&LocalWorker>, config: PlacementConfig) -> NodeWorkers {
        let local = local.map(|local| LocalEntry {
            name: WorkerName::new(&local.name),
            runtime: local.runtime.clone(),
            base_types: local.base_types.clone(),
        });
        NodeWorkers {
            pool: WorkerPool::new(store.clone(), local).with_config(config),
            cache_locks: Arc::default(),
        }
    }

    /// The same, streaming volumes straight from worker to worker where both can, and
    /// compressing volume streams with `compression`.
    pub fn with_streaming(self, peer_to_peer: bool, compression: Compression) -> NodeWorkers {
        NodeWorkers {
            pool: self
                .pool
                .with_peer_streaming(peer_to_peer)
                .with_compression(compression),
            ..self
        }
    }

    /// The placer of build `owner`'s steps.
    pub fn build_placer(&self, owner: BuildOwner) -> Arc<BuildPlacer> {
        Arc::new(BuildPlacer::for_build(self.pool.clone(), owner))
    }

    /// The placer of check build `owner`.
    pub fn check_placer(&self, owner: BuildOwner) -> Arc<BuildPlacer> {
        Arc::new(BuildPlacer::for_check(self.pool.clone(), owner))
    }
}
