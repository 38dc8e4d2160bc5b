//! Errors on the wire: every [`WorkerError`] crosses as JSON with its kind, and comes back out
//! as the same variant, so the engine tells a missing volume from a refused handle whatever
//! the transport.

use concorde_worker::WorkerError;
use serde::{Deserialize, Serialize};

/// A [`WorkerError`] as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WireError {
    ContainerNotFound { handle: String },
    VolumeNotFound { handle: String },
    AlreadyExists { handle: String },
    ProcessStart { path: String, reason: String },
    InvalidImage { message: String },
    PathNotFound { volume: String, path: String },
    InvalidHandle { handle: String },
    InvalidPath { path: String },
    Runtime { message: String },
    Other { message: String },
}

impl WireError {
    /// The HTTP status that carries it.
    pub(crate) fn status(&self) -> u16 {
        match self {
            WireError::ContainerNotFound { .. }
            | WireError::VolumeNotFound { .. }
            | WireError::PathNotFound { .. } => 404,
            WireError::AlreadyExists { .. } => 409,
            WireError::InvalidHandle { .. }
            | WireError::InvalidPath { .. }
            | WireError::InvalidImage { .. }
            | WireError::ProcessStart { .. } => 422,
            WireError::Runtime { .. } | WireError::Other { .. } => 500,
        }
    }
}

impl From<&WorkerError> for WireError {
    fn from(err: &WorkerError) -> WireError {
        match err {
            WorkerError::ContainerNotFound(handle) => WireError::ContainerNotFound {
                handle: handle.clone(),
            },
            WorkerError::VolumeNotFound(handle) => WireError::VolumeNotFound {
                handle: handle.clone(),
            },
            WorkerError::AlreadyExists(handle) => WireError::AlreadyExists {
                handle: handle.clone(),
            },
            WorkerError::ProcessStart { path, reason } => WireError::ProcessStart {
                path: path.clone(),
                reason: reason.clone(),
            },
            WorkerError::InvalidImage(message) => WireError::InvalidImage {
                message: message.clone(),
            },
            WorkerError::PathNotFound { volume, path } => WireError::PathNotFound {
                volume: volume.clone(),
                path: path.clone(),
            },
            WorkerError::InvalidHandle(handle) => WireError::InvalidHandle {
                handle: handle.clone(),
            },
            WorkerError::InvalidPath(path) => WireError::InvalidPath { path: path.clone() },
            WorkerError::Runtime(message) => WireError::Runtime {
                message: message.clone(),
            },
            other => WireError::Other {
                message: other.to_string(),
            },
        }
    }
}

impl From<WireError> for WorkerError {
    fn from(err: WireError) -> WorkerError {
        match err {
            WireError::ContainerNotFound { handle } => WorkerError::ContainerNotFound(handle),
            WireError::VolumeNotFound { handle } => WorkerError::VolumeNotFound(handle),
            WireError::AlreadyExists { handle } => WorkerError::AlreadyExists(handle),
            WireError::ProcessStart { path, reason } => WorkerError::ProcessStart { path, reason },
            WireError::InvalidImage { message } => WorkerError::InvalidImage(message),
            WireError::PathNotFound { volume, path } => WorkerError::PathNotFound { volume, path },
            WireError::InvalidHandle { handle } => WorkerError::InvalidHandle(handle),
            WireError::InvalidPath { path } => WorkerError::InvalidPath(path),
            WireError::Runtime { message } => WorkerError::Runtime(message),
            WireError::Other { message } => WorkerError::Transport(message),
        }
    }
}

/// A volume to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreateVolume {
    pub handle: concorde_worker::VolumeHandle,
    pub strategy: concorde_worker::VolumeStrategy,
}

/// A peer's one-time URL into a volume, or none when the worker takes no peer streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct P2pUrl {
    /// The URL.
    pub url: Option<String>,
}
