//! One worker as the web node reaches it: a transport to its containers and volumes, and the
//! store that records each of them first.

use std::sync::Arc;

use concorde_store::{
    ArtifactId, NewVolume, Store, StoreError, TeamId, Timestamp, VolumeOwner, WorkerName,
};
use concorde_worker::{ContainerHandle, Runtime, VolumeHandle, VolumeStrategy, WorkerError};

/// A worker and the records of what it holds. Cheap to clone.
#[derive(Clone)]
pub struct RecordedWorker {
    store: Store,
    name: WorkerName,
    transport: Arc<dyn Runtime>,
    /// Whether volumes may be pushed to it straight from other workers.
    peer_streaming: bool,
}

impl std::fmt::Debug for RecordedWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedWorker")
            .field("name", &self.name)
            .field("transport", &self.transport.name())
            .finish()
    }
}

/// A store failure, as the engine sees it: the thing was not made.
pub(crate) fn recording(err: StoreError) -> WorkerError {
    WorkerError::Recording(err.to_string())
}

pub(crate) fn store_volume(handle: &VolumeHandle) -> concorde_store::VolumeHandle {
    concorde_store::VolumeHandle(handle.0.clone())
}

pub(crate) fn store_container(handle: &ContainerHandle) -> concorde_store::ContainerHandle {
    concorde_store::ContainerHandle(handle.0.clone())
}

impl RecordedWorker {
    /// The worker `name` (registered in the store) reached through `transport`.
    pub fn new(store: Store, name: WorkerName, transport: Arc<dyn Runtime>) -> RecordedWorker {
        RecordedWorker {
            store,
            name,
            transport,
            peer_streaming: false,
        }
    }

    /// The same, taking volumes pushed straight from other workers when `enabled` (and the
    /// worker has a peer address).
    pub fn with_peer_streaming(mut self, enabled: bool) -> RecordedWorker {
        self.peer_streaming = enabled;
        self
    }

    /// Whether volumes may be pushed to it straight from other workers.
    pub fn peer_streaming(&self) -> bool {
        self.peer_streaming
    }

    /// Its name.
    pub fn name(&self) -> &WorkerName {
        &self.name
    }

    /// The store it records in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The transport, for what needs no record: listing and reading.
    pub fn transport(&self) -> &Arc<dyn Runtime> {
        &self.transport
    }

    /// Records `new`, then makes it on the worker with `strategy`; `created` once the worker
    /// has it, `failed` (and whatever was made removed) if not.
    pub(crate) async fn make_volume(
        &self,
        new: &NewVolume,
        strategy: VolumeStrategy,
    ) -> Result<(), WorkerError> {
        self.store.create_volume(new).await.map_err(recording)?;
        self.make_recorded_volume(new, strategy).await
    }

    /// Makes a volume already recorded as `creating` on the worker, as
    /// [`RecordedWorker::make_volume`] does.
    pub(crate) async fn make_recorded_volume(
        &self,
        new: &NewVolume,
        strategy: VolumeStrategy,
    ) -> Result<(), WorkerError> {
        let handle = VolumeHandle(new.handle.0.clone());
        match self.transport.create_volume(&handle, strategy).await {
            Ok(_) => self
                .store
                .volume_created(&new.handle)
                .await
                .map_err(recording),
            Err(err) => {
                let _ = self.transport.destroy_volume(&handle).await;
                if let Err(failed) = self.store.volume_failed(&new.handle).await {
                    tracing::warn!(volume = %handle.0, error = %failed, "could not mark a volume failed");
                }
                Err(err)
            }
        }
    }

    /// A new empty volume `handle` for an upload of `team`'s, held by `artifact`.
    pub async fn create_artifact_volume(
        &self,
        handle: &VolumeHandle,
        team: TeamId,
        artifact: ArtifactId,
    ) -> Result<(), WorkerError> {
        let new = NewVolume {
            handle: store_volume(handle),
            worker: self.name.clone(),
            owner: VolumeOwner::Artifact(artifact),
            team: Some(team),
            path: String::new(),
            parent: None,
            now: Timestamp::now(),
        };
        self.make_volume(&new, VolumeStrategy::Empty).await
    }

    /// Destroys a volume: `destroying` on record, gone on the worker, then forgotten. A volume
    /// with no record is destroyed all the same; one still `creating` or `failed` is left to
    /// garbage collection on record, and removed from the worker.
    pub async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        let recorded = store_volume(handle);
        match self.store.destroy_volume(&recorded).await {
            Ok(()) => {}
            Err(StoreError::NotFound { .. } | StoreError::InvalidTransition { .. }) => {
                return self.transport.destroy_volume(handle).await;
            }
            Err(err) => return Err(recording(err)),
        }
        self.transport.destroy_volume(handle).await?;
        self.store.forget_volume(&recorded).await.map_err(recording)
    }

    /// Destroys a container as [`RecordedWorker::destroy_volume`] does a volume; one never
    /// confirmed (still `creating`) is marked failed first.
    pub async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        let recorded = store_container(handle);
        let mut marked = self.store.destroy_container(&recorded).await;
        if matches!(marked, Err(StoreError::InvalidTransition { .. })) {
            let _ = self.store.container_failed(&recorded).await;
            marked = self.store.destroy_container(&recorded).await;
        }
        match marked {
            Ok(()) => {}
            Err(StoreError::NotFound { .. }) => {
                return self.transport.destroy_container(handle).await;
            }
            Err(err) => return Err(recording(err)),
        }
        self.transport.destroy_container(handle).await?;
        self.store
            .forget_container(&recorded)
            .await
            .map_err(recording)
    }
}

/// Eight random hex digits, so handles made by several nodes never collide.
pub(crate) fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    // A failure leaves zeros; the rest of the handle still tells it apart, and the store
    // refuses a duplicate rather than sharing one.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
