//! The web node's side of its workers. A [`RecordedWorker`] is one worker as the web node
//! reaches it: a transport (today the in-process runtime of a node's local worker) plus the
//! store, where every container and volume is recorded (`creating`) before the worker is asked
//! for it and marked (`created`, `failed`, `destroying`, then forgotten) as the worker answers.
//! [`BuildClient`] is that worker as one build or check sees it: the engine's
//! [`concorde_engine::WorkerClient`], which knows what each container and volume is for
//! (which build step, check, resource cache, task cache or artifact) and records its owner.

mod build_client;
mod caches;
mod reclaim;
mod recorded;

pub use build_client::{BuildClient, BuildOwner};
pub use reclaim::Reclaimed;
pub use recorded::RecordedWorker;
