//! Errors of the worker runtime.

/// What can go wrong on a worker.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// No container with this handle.
    #[error("container not found: {0}")]
    ContainerNotFound(String),
    /// No volume with this handle.
    #[error("volume not found: {0}")]
    VolumeNotFound(String),
    /// A container or volume with this handle already exists.
    #[error("handle already exists: {0}")]
    AlreadyExists(String),
    /// The process could not be started (missing executable, bad user, ...).
    #[error("could not start process {path}: {reason}")]
    ProcessStart {
        /// The executable.
        path: String,
        /// Why.
        reason: String,
    },
    /// An image that cannot be used (no rootfs, bad metadata).
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// A path that does not exist in a volume (streaming out a missing file).
    #[error("{path} not found in volume {volume}")]
    PathNotFound {
        /// The volume's handle.
        volume: String,
        /// The path, relative to the volume.
        path: String,
    },
    /// A handle that cannot name a directory (empty, `.`/`..`, a `/`, or characters outside
    /// `[A-Za-z0-9_.-]`, which runc also requires of container ids).
    #[error("invalid handle: {0:?}")]
    InvalidHandle(String),
    /// A path escaping its volume or container.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// The container runtime (runc) failed.
    #[error("container runtime failed: {0}")]
    Runtime(String),
    /// A backend name that is not `auto`, `runc` or `host`.
    #[error("unknown worker backend {0:?} (expected auto, runc or host)")]
    UnknownBackend(String),
    /// The worker could not be reached, or its answer could not be read.
    #[error("{0}")]
    Transport(String),
    /// The web node could not record a container or volume, so it was not made.
    #[error("could not record it: {0}")]
    Recording(String),
    /// A filesystem or process error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
