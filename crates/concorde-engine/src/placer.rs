//! Where a step's containers go. The engine asks a [`Placer`] for a worker per step, saying
//! what the step needs (tags, a base resource type, the workers its inputs live on), and gets
//! the client to that worker with the base types it runs. A build's steps may so run on
//! different workers; an input made elsewhere is streamed over (`exec/stream.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::base_type::BaseResourceType;
use crate::plan::PlanId;
use crate::worker_client::WorkerClient;

/// What a step needs of the worker its container runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepNeeds {
    /// The step.
    pub plan_id: PlanId,
    /// `task`, `get`, `put` or `check`.
    pub step_type: &'static str,
    /// Worker tags the step asks for (a worker with tags takes only steps that ask for them).
    pub tags: Vec<String>,
    /// The base resource type the step's scripts run on, when it runs a base type's scripts.
    pub base_type: Option<String>,
    /// The worker holding each of the step's inputs (its image included), once per input.
    pub input_workers: Vec<String>,
}

/// A worker placed for a step.
#[derive(Clone, Debug)]
pub struct StepWorker {
    /// The client through which the step reaches it.
    pub client: Arc<dyn WorkerClient>,
    /// The base resource types it provides, by name.
    pub base_types: Arc<HashMap<String, BaseResourceType>>,
}

impl StepWorker {
    /// The worker's name.
    pub fn name(&self) -> &str {
        self.client.name()
    }
}

/// How asking for a worker went.
#[derive(Debug)]
pub enum Placement {
    /// This worker takes the step.
    Placed(StepWorker),
    /// No worker fits now, for this reason (Concourse's "no workers satisfying: ...").
    NoneFits(String),
}

/// Picks the workers of one build's (or check's) steps.
#[async_trait::async_trait]
pub trait Placer: Send + Sync {
    /// A worker for `needs` now, or why there is none; `Err` when the step cannot wait for
    /// one (a check) or placing failed.
    async fn place(&self, needs: &StepNeeds) -> Result<Placement, String>;
    /// Returns when placing again may succeed: a worker registered, or a retry interval passed.
    async fn changed(&self);
    /// The step placed on `worker` by `needs` has finished (placers that count running tasks
    /// per worker release it here).
    async fn finished(&self, _needs: &StepNeeds, _worker: &StepWorker) {}
}
