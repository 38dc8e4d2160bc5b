//! The web node's side of its workers. A [`RecordedWorker`] is one worker as the web node
//! reaches it: a transport (the in-process runtime of a node's local worker, or HTTP) plus the
//! store, where every container and volume is recorded (`creating`) before the worker is asked
//! for it and marked (`created`, `failed`, `destroying`, then forgotten) as the worker answers.
//! [`BuildClient`] is that worker as one build or check sees it: the engine's
//! [`concorde_engine::WorkerClient`], which knows what each container and volume is for
//! (which build step, check, resource cache, task cache or artifact) and records its owner.
//! [`WorkerPool`] holds every worker a node may place work on, local or remote (reached with
//! `concorde-worker-http`'s client at the address the TSA registered), and orders the ones
//! that fit a step by the node's [`PlacementStrategy`] chain; [`BuildPlacer`] is the engine's
//! placer for one build or check over it.

mod build_client;
mod caches;
mod placer;
mod pool;
mod reclaim;
mod recorded;
mod strategy;

pub use build_client::{BuildClient, BuildOwner};
pub use concorde_worker_http::Compression;
pub use placer::{BuildPlacer, unsatisfied};
pub use pool::{LocalEntry, Placed, PoolPlacement, WorkerPool};
pub use reclaim::Reclaimed;
pub use recorded::RecordedWorker;
pub use strategy::{PlacementConfig, PlacementStrategy};
