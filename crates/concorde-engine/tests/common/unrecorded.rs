//! A worker client for the engine's own tests and benchmarks: straight to a runtime, with no
//! store to record in. Resource caches live in memory for the client's life; task caches are
//! kept per `task_cache_scope` and step, as the web node keeps them per job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_config::model::VersionMap;
use concorde_engine::{
    CacheIdentity, CachedFetch, ContainerPurpose, ContainerVolume, MetadataField, WorkerClient,
    cache_key,
};
use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, Runtime, VolumeHandle,
    VolumeStrategy, WorkerError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

/// A runtime with no records.
#[derive(Debug)]
pub struct UnrecordedWorker {
    pub runtime: Arc<dyn Runtime>,
    /// The job task caches belong to; `None` for one-off builds.
    pub task_cache_scope: Option<String>,
    caches: Mutex<HashMap<String, CachedFetch>>,
}

impl UnrecordedWorker {
    pub fn new(runtime: Arc<dyn Runtime>, task_cache_scope: Option<&str>) -> UnrecordedWorker {
        UnrecordedWorker {
            runtime,
            task_cache_scope: task_cache_scope.map(str::to_owned),
            caches: Mutex::default(),
        }
    }
}

#[async_trait::async_trait]
impl WorkerClient for UnrecordedWorker {
    fn name(&self) -> &str {
        "local"
    }

    async fn create_container(
        &self,
        _purpose: &ContainerPurpose,
        spec: ContainerSpec,
        volumes: Vec<ContainerVolume>,
    ) -> Result<(), WorkerError> {
        for volume in volumes {
            self.runtime
                .create_volume(&volume.handle, volume.strategy)
                .await?;
        }
        self.runtime.create_container(spec).await
    }

    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        self.runtime.run(handle, process, io, cancel).await
    }

    async fn create_streamed_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        self.runtime
            .create_volume(handle, VolumeStrategy::Empty)
            .await
            .map(|_| ())
    }

    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        self.runtime.destroy_container(handle).await
    }

    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        self.runtime.destroy_volume(handle).await
    }

    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.runtime.stream_out(handle, path, into).await
    }

    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.runtime.stream_in(handle, path, tar).await
    }

    async fn find_resource_cache(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<CachedFetch>, WorkerError> {
        let cached = self
            .caches
            .lock()
            .ok()
            .and_then(|caches| caches.get(&cache_key(identity)).cloned());
        match cached {
            Some(cached) if self.runtime.lookup_volume(&cached.volume).await?.is_some() => {
                Ok(Some(cached))
            }
            _ => Ok(None),
        }
    }

    async fn init_resource_cache(
        &self,
        volume: &VolumeHandle,
        identity: &CacheIdentity,
        fetched: &VersionMap,
        metadata: &[MetadataField],
    ) -> Result<(), WorkerError> {
        if let Ok(mut caches) = self.caches.lock() {
            caches.insert(
                cache_key(identity),
                CachedFetch {
                    volume: volume.clone(),
                    version: fetched.clone(),
                    metadata: metadata.to_vec(),
                },
            );
        }
        Ok(())
    }

    async fn task_cache(
        &self,
        step_name: &str,
        path: &str,
    ) -> Result<Option<VolumeHandle>, WorkerError> {
        let Some(scope) = &self.task_cache_scope else {
            return Ok(None);
        };
        let digest =
            concorde_config::sha256_hex(format!("{scope}\n{step_name}\n{path}").as_bytes());
        let volume = VolumeHandle(format!("taskcache-{digest}"));
        if self.runtime.lookup_volume(&volume).await?.is_none() {
            self.runtime
                .create_volume(&volume, VolumeStrategy::Empty)
                .await?;
        }
        Ok(Some(volume))
    }
}
