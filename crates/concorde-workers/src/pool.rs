//! Every worker the web node may place work on: the node's own local worker (quickstart) and
//! the workers registered through the TSA, each reached through its transport and recorded
//! through the same client. A build goes to one running worker that fits (team, tags); of
//! those, the one with the fewest containers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_engine::BaseResourceType;
use concorde_store::{PlacementQuery, Store, StoreError, TeamId, Worker, WorkerName};
use concorde_worker::Runtime;
use concorde_worker_http::RemoteRuntime;

use crate::recorded::RecordedWorker;

/// A worker chosen for a build: the recorded client to reach it and the base types it runs.
#[derive(Clone, Debug)]
pub struct Placed {
    /// The worker, through its recorded client.
    pub worker: RecordedWorker,
    /// The base resource types it provides, by name.
    pub base_types: HashMap<String, BaseResourceType>,
}

/// What a build needs of its worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    /// The build's team: a team's workers take only its builds, and are preferred for them.
    pub team: Option<TeamId>,
    /// Tags every step of the build asked for.
    pub tags: Vec<String>,
}

impl Requirements {
    /// Concourse's message for a build no worker fits.
    pub fn unsatisfied(&self) -> String {
        let mut wanted = Vec::new();
        for tag in &self.tags {
            wanted.push(format!("tag '{tag}'"));
        }
        if wanted.is_empty() {
            "no workers available".to_owned()
        } else {
            format!("no workers satisfying: {}", wanted.join(", "))
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
        }
    }

    /// A running worker fitting `needs`, or `None` when there is none now.
    pub async fn choose(&self, needs: &Requirements) -> Result<Option<Placed>, StoreError> {
        let query = PlacementQuery {
            team: needs.team,
            resource_type: None,
            platform: None,
            tags: needs.tags.clone(),
        };
        let mut candidates = self.store.placement_candidates(&query).await?;
        // Fewest containers first; among equals, the order placement_candidates gives (name).
        candidates.sort_by_key(|worker| worker.active_containers);
        Ok(candidates.first().map(|worker| self.placed(worker)))
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
                    let transport: Arc<dyn Runtime> =
                        Arc::new(RemoteRuntime::new(&address).named(worker.name.as_str()));
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
            worker: RecordedWorker::new(self.store.clone(), worker.name.clone(), transport),
            base_types,
        }
    }
}
