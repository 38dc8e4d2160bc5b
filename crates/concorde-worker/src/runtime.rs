//! The [`Runtime`] trait and the types that describe containers, processes and volumes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::WorkerError;

/// A container's unique name on its worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContainerHandle(pub String);

/// A volume's unique name on its worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VolumeHandle(pub String);

/// How a new volume starts out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "from", rename_all = "snake_case")]
pub enum VolumeStrategy {
    /// Empty.
    Empty,
    /// A copy-on-write child of an existing volume: changes do not reach the parent. As root,
    /// a child of a plain volume is an overlay mount (instant whatever the size), which may
    /// see later changes to the parent, so a parent should not change while it has children;
    /// other children are full copies.
    CopyOnWrite(VolumeHandle),
    /// The contents of a host directory, copied in (base resource types, imported rootfs).
    Import(PathBuf),
}

/// A volume as the runtime knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    /// Its handle.
    pub handle: VolumeHandle,
    /// Where its contents live on the worker's filesystem.
    pub path: PathBuf,
}

/// The root filesystem of a container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "from", rename_all = "snake_case")]
pub enum ImageSpec {
    /// A volume holding `rootfs/` and optionally `metadata.json` (`{"env": [...], "user": ".."}`),
    /// as a `registry-image` get produces.
    Volume(VolumeHandle),
    /// A raw rootfs directory on the worker (`raw:///path`).
    RawPath(PathBuf),
    /// No image: the host backend's only kind; runc refuses it.
    None,
    /// The worker's own root filesystem, read-only, for trusted built-in scripts (the resource
    /// types this binary runs): runc binds the host's `/` (without the mounts under it) as the
    /// rootfs, with a fresh writable `/tmp` and `HOME=/tmp`. The host backend treats it like
    /// [`ImageSpec::None`].
    HostRoot,
}

/// A volume mounted into a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The volume.
    pub volume: VolumeHandle,
    /// Absolute path inside the container.
    pub path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// CPU and memory limits; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// Memory in bytes.
    pub memory_bytes: Option<u64>,
}

/// Everything needed to create a container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Its handle.
    pub handle: ContainerHandle,
    /// Its root filesystem.
    pub image: ImageSpec,
    /// Volumes mounted into it.
    pub mounts: Vec<Mount>,
    /// Environment for every process, `NAME=value` (the image's env comes first).
    pub env: Vec<String>,
    /// Run privileged (every capability the worker has, all devices, writable `/sys`); no
    /// user namespaces are used either way.
    pub privileged: bool,
    /// Resource limits.
    pub limits: Limits,
}

/// A process to run in a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The executable (a path inside the container, or a name found on `PATH`).
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment, `NAME=value`, on top of the container's.
    pub env: Vec<String>,
    /// Working directory inside the container; created if missing.
    pub dir: Option<String>,
    /// The user to run as; `None` means the image's user, else root.
    pub user: Option<String>,
}

/// Where a process's standard streams go.
pub struct ProcessIo {
    /// Bytes for stdin, if any; stdin is closed after they are written.
    pub stdin: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Receives stdout as it is produced (flushed per chunk), dropped when the output ends.
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    /// Receives stderr, likewise.
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl std::fmt::Debug for ProcessIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessIo")
            .field("stdin", &self.stdin.is_some())
            .finish_non_exhaustive()
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code (128 + N when killed by signal N, as shells report it).
    Exited(i32),
    /// It was killed because the run was cancelled (abort or timeout).
    Cancelled,
}

/// Containers and volumes on one worker. Every method is safe to call concurrently.
#[async_trait::async_trait]
pub trait Runtime: Send + Sync + std::fmt::Debug {
    /// The backend's name (`runc`, `host`), for logs and the workers table.
    fn name(&self) -> &'static str;

    /// Creates a volume.
    async fn create_volume(
        &self,
        handle: &VolumeHandle,
        strategy: VolumeStrategy,
    ) -> Result<VolumeInfo, WorkerError>;
    /// Looks a volume up.
    async fn lookup_volume(&self, handle: &VolumeHandle)
    -> Result<Option<VolumeInfo>, WorkerError>;
    /// Destroys a volume; destroying a missing one is not an error.
    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError>;
    /// Every volume on the worker.
    async fn list_volumes(&self) -> Result<Vec<VolumeHandle>, WorkerError>;
    /// Writes a tar stream into a volume under `path` (relative to the volume).
    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError>;
    /// Reads `path` (relative to the volume; a file or a directory) as a tar stream.
    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError>;

    /// A URL another worker can push a tar of files into `path` of volume `handle` at, once
    /// (peer-to-peer streaming); `None` when this worker takes no streams from its peers.
    async fn p2p_stream_in_url(
        &self,
        _handle: &VolumeHandle,
        _path: &str,
    ) -> Result<Option<String>, WorkerError> {
        Ok(None)
    }
    /// Pushes `path` of volume `handle` as a tar to `url`, a peer's
    /// [`Runtime::p2p_stream_in_url`].
    async fn stream_p2p_out(
        &self,
        _handle: &VolumeHandle,
        _path: &str,
        _url: &str,
    ) -> Result<(), WorkerError> {
        Err(WorkerError::Transport(
            "this worker does not stream to its peers".to_owned(),
        ))
    }

    /// Creates a container (nothing runs until [`Runtime::run`]).
    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError>;
    /// Runs a process in a container to completion, streaming its output. Cancelling `cancel`
    /// stops the process (SIGTERM, then SIGKILL after the backend's kill grace, 10 seconds by
    /// default; at once for a runc process that would ignore SIGTERM) and returns
    /// [`ExitStatus::Cancelled`].
    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError>;
    /// Destroys a container and its processes; destroying a missing one is not an error.
    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError>;
    /// Every container on the worker.
    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError>;
}
