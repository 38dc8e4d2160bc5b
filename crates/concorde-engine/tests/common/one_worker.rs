//! A placer for the engine's own tests and benchmarks: every step goes to one worker, which
//! provides the base types it was given. It waits for nothing, so a step it cannot place (a
//! base type it lacks) errors with the placer's reason.

use std::collections::HashMap;
use std::sync::Arc;

use concorde_engine::{BaseResourceType, Placement, Placer, StepNeeds, StepWorker, WorkerClient};

/// One worker for every step.
#[derive(Debug)]
pub struct OneWorker {
    worker: StepWorker,
}

impl OneWorker {
    pub fn new(
        client: Arc<dyn WorkerClient>,
        base_types: HashMap<String, BaseResourceType>,
    ) -> OneWorker {
        OneWorker {
            worker: StepWorker {
                client,
                base_types: Arc::new(base_types),
            },
        }
    }
}

#[async_trait::async_trait]
impl Placer for OneWorker {
    async fn place(&self, needs: &StepNeeds) -> Result<Placement, String> {
        match &needs.base_type {
            Some(base) if !self.worker.base_types.contains_key(base) => {
                Err(format!("no workers satisfying: resource type '{base}'"))
            }
            _ => Ok(Placement::Placed(self.worker.clone())),
        }
    }

    async fn changed(&self) {}
}
