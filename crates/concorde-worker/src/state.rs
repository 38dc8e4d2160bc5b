//! What a container remembers between calls, saved as `containers/<handle>/container.json`.
//!
//! Keeping it on disk rather than in memory lets a restarted worker run, list and destroy the
//! containers an earlier process created.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::paths::Layout;
use crate::{ContainerHandle, WorkerError};

/// `PATH` when neither the image nor the spec sets one.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const STATE_FILE: &str = "container.json";

/// A host-backend container.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct HostContainer {
    /// The container's environment, `NAME=value`.
    pub env: Vec<String>,
}

/// Creates the container's directory, failing if the handle is taken.
pub(crate) async fn claim_container_dir(
    layout: &Layout,
    handle: &ContainerHandle,
) -> Result<PathBuf, WorkerError> {
    let dir = layout.container_dir(&handle.0)?;
    match tokio::fs::create_dir(&dir).await {
        Ok(()) => Ok(dir),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(WorkerError::AlreadyExists(handle.0.clone()))
        }
        Err(err) => Err(err.into()),
    }
}

/// Saves the state; written last, so a container without it is one still being created.
pub(crate) async fn save(dir: &Path, state: &impl Serialize) -> Result<(), WorkerError> {
    let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let temp = dir.join(format!("{STATE_FILE}.tmp"));
    tokio::fs::write(&temp, json).await?;
    tokio::fs::rename(temp, dir.join(STATE_FILE)).await?;
    Ok(())
}

/// Loads the state; a missing file means no such (complete) container.
pub(crate) async fn load<T: DeserializeOwned>(
    dir: &Path,
    handle: &ContainerHandle,
) -> Result<T, WorkerError> {
    match tokio::fs::read(dir.join(STATE_FILE)).await {
        Ok(json) => Ok(serde_json::from_slice(&json).map_err(std::io::Error::other)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(WorkerError::ContainerNotFound(handle.0.clone()))
        }
        Err(err) => Err(err.into()),
    }
}
