//! What a backend implements: containers. Volumes are the same directories on every backend,
//! so [`Runtime`] is implemented once, here, for every [`Backend`].

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::volumes::VolumeStore;
use crate::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, Runtime, VolumeHandle,
    VolumeInfo, VolumeStrategy, WorkerError,
};

/// A way to run containers; the methods mean what [`Runtime`]'s of the same names do.
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    fn volumes(&self) -> &VolumeStore;
    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError>;
    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError>;
    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError>;
    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError>;
}

#[async_trait::async_trait]
impl<B: Backend> Runtime for B {
    fn name(&self) -> &'static str {
        Backend::name(self)
    }

    async fn create_volume(
        &self,
        handle: &VolumeHandle,
        strategy: VolumeStrategy,
    ) -> Result<VolumeInfo, WorkerError> {
        self.volumes().create(handle, strategy).await
    }
    async fn lookup_volume(
        &self,
        handle: &VolumeHandle,
    ) -> Result<Option<VolumeInfo>, WorkerError> {
        self.volumes().lookup(handle)
    }
    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        self.volumes().destroy(handle).await
    }
    async fn list_volumes(&self) -> Result<Vec<VolumeHandle>, WorkerError> {
        self.volumes().list().await
    }
    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.volumes().stream_in(handle, path, tar).await
    }
    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.volumes().stream_out(handle, path, into).await
    }

    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError> {
        Backend::create_container(self, spec).await
    }
    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        Backend::run(self, handle, process, io, cancel).await
    }
    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        Backend::destroy_container(self, handle).await
    }
    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError> {
        Backend::list_containers(self).await
    }
}
