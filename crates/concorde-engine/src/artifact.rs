//! An artifact of a build: a volume and the worker it lives on.

use std::sync::Arc;

use concorde_worker::VolumeHandle;

use crate::worker_client::WorkerClient;

/// A volume of the build (a get's fetch, a task's output, an upload) on its worker.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The worker holding it, through the build's client.
    pub worker: Arc<dyn WorkerClient>,
    /// The volume.
    pub volume: VolumeHandle,
}

impl Artifact {
    /// The artifact `volume` on `worker`.
    pub fn new(worker: Arc<dyn WorkerClient>, volume: VolumeHandle) -> Artifact {
        Artifact { worker, volume }
    }

    /// The name of its worker.
    pub fn worker_name(&self) -> &str {
        self.worker.name()
    }
}
