//! Starting a worker's records afresh when the worker itself starts with nothing running: a
//! web node's own local worker, whose builds and checks never outlive the node's process.

use concorde_store::{VolumeFilter, VolumeState};
use concorde_worker::VolumeHandle;

use crate::recorded::{RecordedWorker, recording};

/// What [`RecordedWorker::reclaim_leftovers`] destroyed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Containers destroyed, with every process they still ran.
    pub containers: usize,
    /// Volumes destroyed.
    pub volumes: usize,
}

impl RecordedWorker {
    /// Destroys what no build can use any more: every container (killing what runs in it) and
    /// every volume but the complete resource and task caches on record; then the records
    /// match what is left. Only for a worker that runs nothing of anyone else's (a node's local
    /// worker, at start after a crash and at the end of shutdown). A failure to destroy one is
    /// logged and the rest carry on.
    pub async fn reclaim_leftovers(&self) -> Result<Reclaimed, concorde_worker::WorkerError> {
        let transport = self.transport();
        let mut reclaimed = Reclaimed::default();
        for container in transport.list_containers().await? {
            match transport.destroy_container(&container).await {
                Ok(()) => reclaimed.containers += 1,
                Err(err) => {
                    tracing::warn!(container = %container.0, error = %err, "could not destroy a leftover container");
                }
            }
        }
        let filter = VolumeFilter {
            worker: Some(self.name().clone()),
            ..VolumeFilter::default()
        };
        let caches: Vec<VolumeHandle> = self
            .store()
            .list_volumes(&filter)
            .await
            .map_err(recording)?
            .into_iter()
            .filter(|volume| {
                volume.state == VolumeState::Created
                    && (volume.resource_cache_id.is_some() || volume.task_cache_id.is_some())
            })
            .map(|volume| VolumeHandle(volume.handle.0))
            .collect();
        let mut kept = Vec::new();
        for volume in transport.list_volumes().await? {
            if caches.contains(&volume) {
                kept.push(concorde_store::VolumeHandle(volume.0));
                continue;
            }
            match transport.destroy_volume(&volume).await {
                Ok(()) => reclaimed.volumes += 1,
                Err(err) => {
                    tracing::warn!(volume = %volume.0, error = %err, "could not destroy a leftover volume");
                }
            }
        }
        self.store()
            .reset_worker_records(self.name(), &kept)
            .await
            .map_err(recording)?;
        Ok(reclaimed)
    }
}
