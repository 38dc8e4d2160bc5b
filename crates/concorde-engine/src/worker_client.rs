//! The engine's one way to a worker. Every container and volume a build or check makes goes
//! through a [`WorkerClient`], which knows what each is for: in the web node it records a row
//! before the worker has the thing, marks it as the worker confirms, and keeps resource and
//! task caches on record, so what exists on a worker is always what the store says.

use concorde_config::model::VersionMap;
use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, VolumeHandle,
    VolumeStrategy, WorkerError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::event::MetadataField;
use crate::plan::PlanId;

/// Why a container exists, relative to the step that asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerRole {
    /// The step's own work: a task, a get's `in`, a put's `out`, a check's `check`.
    Step,
    /// Checking the version of the step's image (a custom type's or a task's).
    ImageCheck,
    /// Fetching the step's image.
    ImageGet,
}

/// What a new container is for, as `fly containers` and `fly intercept` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPurpose {
    /// The plan id of the step it belongs to.
    pub plan_id: PlanId,
    /// Its role for that step.
    pub role: ContainerRole,
    /// `check`, `get`, `put` or `task`.
    pub step_type: &'static str,
    /// The step's name (the resource's, for gets, puts and checks).
    pub step_name: String,
    /// The working directory of its process.
    pub working_directory: String,
    /// The user its process runs as, when known.
    pub user: String,
}

/// A volume made together with a container and mounted in it; it belongs to the container
/// (and lives on only as a cache, an artifact or a build's output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerVolume {
    /// Its handle.
    pub handle: VolumeHandle,
    /// How it starts out.
    pub strategy: VolumeStrategy,
    /// Where it is mounted.
    pub path: String,
}

/// Everything that determines the bits a `get` fetches: two fetches with the same identity
/// can share one resource cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheIdentity {
    /// The resource type's name.
    pub type_name: String,
    /// The base type its scripts run on, for a type the worker provides.
    pub base_type: Option<String>,
    /// The volume holding a custom type's image (itself a resource cache).
    pub type_image: Option<VolumeHandle>,
    /// The source, vars resolved.
    pub source: serde_json::Value,
    /// The version fetched.
    pub version: VersionMap,
    /// The get's params, vars resolved.
    pub params: serde_json::Value,
}

/// A resource cache found on the worker.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedFetch {
    /// The volume holding it.
    pub volume: VolumeHandle,
    /// The version its `in` script reported.
    pub version: VersionMap,
    /// The metadata its `in` script reported.
    pub metadata: Vec<MetadataField>,
}

/// One worker, as one build (or check) sees it. Every method is safe to call concurrently.
#[async_trait::async_trait]
pub trait WorkerClient: Send + Sync + std::fmt::Debug {
    /// The worker's name, for `selected-worker` events.
    fn name(&self) -> &str;

    /// Creates `volumes` and then the container of `spec` (whose mounts may use them), each
    /// recorded before the worker makes it.
    async fn create_container(
        &self,
        purpose: &ContainerPurpose,
        spec: ContainerSpec,
        volumes: Vec<ContainerVolume>,
    ) -> Result<(), WorkerError>;
    /// Runs a process in a container, as [`concorde_worker::Runtime::run`].
    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError>;
    /// Creates an empty volume of the build that a volume of another worker is streamed into;
    /// it lasts as long as the build.
    async fn create_streamed_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError>;
    /// Destroys a container this client created, with whatever still runs in it.
    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError>;
    /// Destroys a volume this client created (never a cache).
    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError>;
    /// Reads `path` of a volume as a tar stream.
    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError>;
    /// Writes a tar stream into a volume under `path`.
    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError>;

    /// A one-time URL at which another worker can push a tar straight into `handle`, when
    /// volumes stream peer to peer and this worker takes peer streams; `None` otherwise.
    async fn p2p_stream_in_url(
        &self,
        _handle: &VolumeHandle,
    ) -> Result<Option<String>, WorkerError> {
        Ok(None)
    }
    /// Pushes the whole of `handle` to a peer's [`WorkerClient::p2p_stream_in_url`].
    async fn stream_p2p_out(&self, _handle: &VolumeHandle, _url: &str) -> Result<(), WorkerError> {
        Err(WorkerError::Transport(
            "this worker does not stream to its peers".to_owned(),
        ))
    }

    /// The worker's complete resource cache for `identity`, if it has one. Looking counts as a
    /// use by this build, which keeps the cache while the build needs it.
    async fn find_resource_cache(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<CachedFetch>, WorkerError>;
    /// Makes `volume`, which a successful `in` just filled, the worker's resource cache for
    /// `identity`, with what the script reported.
    async fn init_resource_cache(
        &self,
        volume: &VolumeHandle,
        identity: &CacheIdentity,
        fetched: &VersionMap,
        metadata: &[MetadataField],
    ) -> Result<(), WorkerError>;
    /// The volume of the task cache of step `step_name` at `path`, created empty if the worker
    /// has none; `None` when the build belongs to no job (its caches last one build).
    async fn task_cache(
        &self,
        step_name: &str,
        path: &str,
    ) -> Result<Option<VolumeHandle>, WorkerError>;
}
