//! Every worker the web node may place work on: the node's own local worker (quickstart) and
//! the workers registered through the TSA, each reached through its transport and recorded
//! through the same client. A step goes to a running worker that fits it (team, tags, base
//! resource type), the first that the node's placement strategies order first and approve.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_engine::{BaseResourceType, StepNeeds};
use concorde_store::{PlacementQuery, Store, StoreError, Worker, WorkerName};
use concorde_worker::Runtime;
use concorde_worker_http::{Compression, RemoteRuntime};

use crate::recorded::RecordedWorker;
use crate::strategy::{PlacementConfig, order_candidates};

/// A worker chosen for a step: the recorded client to reach it and the base types it runs.
#[derive(Clone, Debug)]
pub struct Placed {
    /// The worker, through its recorded client.
    pub worker: RecordedWorker,
    /// The base resource types it provides, by name.
    pub base_types: HashMap<String, BaseResourceType>,
}

/// How placing a step on the pool went.
#[derive(Debug)]
pub enum PoolPlacement {
    /// This worker takes it.
    Placed(Placed),
    /// No running worker fits the step.
    NoneFits,
    /// Workers fit, but every one is at its limit of tasks.
    AllBusy,
}

impl PoolPlacement {
    /// The worker, if one takes the step.
    pub fn placed(self) -> Option<Placed> {
        match self {
            PoolPlacement::Placed(placed) => Some(placed),
            PoolPlacement::NoneFits | PoolPlacement::AllBusy => None,
        }
    }
}

/// A node's own worker, reached in process.
#[derive(Clone)]
pub struct LocalEntry {
    /// Its registered name.
    pub name: WorkerName,
    /// Its runtime.
    pub runtime: Arc<dyn Runtime>,
    /// Its base resource types, by name.
    pub base_types: HashMap<String, BaseResourceType>,
}

/// A remote worker's transport, with the address it was made for.
type Remote = (String, Arc<dyn Runtime>);

/// The workers of the cluster, as this node reaches them.
#[derive(Clone)]
pub struct WorkerPool {
    store: Store,
    local: Option<Arc<LocalEntry>>,
    /// Transports to remote workers, by name.
    remotes: Arc<Mutex<HashMap<WorkerName, Remote>>>,
    config: Arc<PlacementConfig>,
    /// Volumes go straight from worker to worker where both can (`--enable-p2p-volume-streaming`).
    peer_streaming: bool,
    /// How volume streams to and from remote workers are compressed.
    compression: Compression,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("local", &self.local.as_ref().map(|local| &local.name))
            .finish_non_exhaustive()
    }
}

impl WorkerPool {
    /// The pool of a node; `local` is the node's own in-process worker, if it has one.
    pub fn new(store: Store, local: Option<LocalEntry>) -> WorkerPool {
        WorkerPool {
            store,
            local: local.map(Arc::new),
            remotes: Arc::default(),
            config: Arc::default(),
            peer_streaming: false,
            compression: Compression::Raw,
        }
    }

    /// The pool compressing volume streams to and from its remote workers with `compression`.
    pub fn with_compression(mut self, compression: Compression) -> WorkerPool {
        self.compression = compression;
        self
    }

    /// The pool streaming volumes straight from worker to worker where both can.
    pub fn with_peer_streaming(mut self, enabled: bool) -> WorkerPool {
        self.peer_streaming = enabled;
        self
    }

    /// The pool placing steps with `config`'s strategies.
    pub fn with_config(mut self, config: PlacementConfig) -> WorkerPool {
        self.config = Arc::new(config);
        self
    }

    /// How it places steps.
    pub fn config(&self) -> &PlacementConfig {
        &self.config
    }

    /// The store its workers are registered in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether any running worker fits `query` now.
    pub async fn fits(&self, query: &PlacementQuery) -> Result<bool, StoreError> {
        Ok(!self.store.placement_candidates(query).await?.is_empty())
    }

    /// A running worker fitting `query` for step `needs`, in the order of the node's
    /// strategies, that takes the step (limit-active-tasks: a task slot is claimed on it).
    pub async fn place(
        &self,
        query: &PlacementQuery,
        needs: &StepNeeds,
    ) -> Result<PoolPlacement, StoreError> {
        let mut candidates = self.store.placement_candidates(query).await?;
        if candidates.is_empty() {
            return Ok(PoolPlacement::NoneFits);
        }
        let build_containers = if self.config.counts_build_containers() {
            self.store.build_containers_per_worker().await?
        } else {
            HashMap::new()
        };
        order_candidates(
            &mut candidates,
            needs,
            &self.config,
            &build_containers,
            random_seed(),
        );
        let limits_tasks = self.config.limits_tasks(needs);
        for worker in candidates {
            if limits_tasks
                && !self
                    .store
                    .claim_task_slot(&worker.name, self.config.max_active_tasks)
                    .await?
            {
                continue;
            }
            return Ok(PoolPlacement::Placed(self.placed(&worker)));
        }
        Ok(PoolPlacement::AllBusy)
    }

    /// The worker `name` as registered, whatever its state (to reach what is already on it).
    pub async fn named(&self, name: &WorkerName) -> Result<Placed, StoreError> {
        let worker = self.store.worker(name).await?;
        Ok(self.placed(&worker))
    }

    fn placed(&self, worker: &Worker) -> Placed {
        if let Some(local) = self
            .local
            .as_ref()
            .filter(|local| local.name == worker.name)
        {
            return Placed {
                worker: RecordedWorker::new(
                    self.store.clone(),
                    local.name.clone(),
                    local.runtime.clone(),
                ),
                base_types: local.base_types.clone(),
            };
        }
        let address = worker.addr.clone().unwrap_or_default();
        let transport = {
            let mut remotes = match self.remotes.lock() {
                Ok(remotes) => remotes,
                Err(poisoned) => poisoned.into_inner(),
            };
            match remotes.get(&worker.name) {
                Some((known, transport)) if *known == address => transport.clone(),
                _ => {
                    let transport: Arc<dyn Runtime> = Arc::new(
                        RemoteRuntime::new(&address)
                            .named(worker.name.as_str())
                            .with_compression(self.compression),
                    );
                    remotes.insert(worker.name.clone(), (address.clone(), transport.clone()));
                    transport
                }
            }
        };
        let base_types = worker
            .resource_types
            .iter()
            .filter_map(|kind| {
                BaseResourceType::from_image_uri(&kind.type_name, &kind.image, kind.privileged)
            })
            .map(|base| (base.name.clone(), base))
            .collect();
        Placed {
            worker: RecordedWorker::new(self.store.clone(), worker.name.clone(), transport)
                .with_peer_streaming(self.peer_streaming),
            base_types,
        }
    }
}

/// A fresh seed for shuffling candidates.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}
