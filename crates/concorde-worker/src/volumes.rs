//! Volumes as plain directories under `<work_dir>/volumes/<handle>/`, shared by both backends.
//!
//! A volume is filled in `volumes/.staging/` and renamed into place when complete, so a lookup
//! never sees half a copy. Copy-on-write children are overlay mounts where possible (see
//! `cow`); the others, and imports, are full copies made by `cp -a --reflink=auto`, which
//! shares blocks on filesystems that can (btrfs, xfs) and keeps owners, modes, symlinks, hard
//! links and special files everywhere else.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::cow::Layers;
use crate::paths::Layout;
use crate::trash::Trash;
use crate::{VolumeHandle, VolumeInfo, VolumeStrategy, WorkerError, tarstream};

/// The volumes of one worker.
#[derive(Debug)]
pub(crate) struct VolumeStore {
    layout: Layout,
    /// Where destroyed volumes and containers go.
    trash: Trash,
    /// The overlay layers of copy-on-write volumes.
    layers: Layers,
}

impl VolumeStore {
    /// Opens the volume directory, discarding volumes a previous run left half-created.
    pub(crate) fn open(layout: Layout) -> Result<Self, WorkerError> {
        let staging = layout.staging_dir();
        match std::fs::remove_dir_all(&staging) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
            _ => {}
        }
        std::fs::create_dir_all(&staging)?;
        let trash = Trash::open(layout.trash_dir())?;
        let layers = Layers::open(&layout.volumes_dir())?;
        Ok(VolumeStore {
            layout,
            trash,
            layers,
        })
    }

    /// The directory of an existing volume.
    pub(crate) fn path(&self, handle: &VolumeHandle) -> Result<PathBuf, WorkerError> {
        let dir = self.layout.volume_dir(&handle.0)?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(WorkerError::VolumeNotFound(handle.0.clone()))
        }
    }

    pub(crate) async fn create(
        &self,
        handle: &VolumeHandle,
        strategy: VolumeStrategy,
    ) -> Result<VolumeInfo, WorkerError> {
        let dir = self.layout.volume_dir(&handle.0)?;
        if dir.symlink_metadata().is_ok() {
            return Err(WorkerError::AlreadyExists(handle.0.clone()));
        }
        let source = match &strategy {
            VolumeStrategy::Empty => None,
            VolumeStrategy::CopyOnWrite(parent) => {
                let parent_dir = self.path(parent)?;
                if self
                    .layers
                    .create(&handle.0, &dir, &parent.0, &parent_dir)
                    .await?
                {
                    tracing::debug!(volume = %handle.0, parent = %parent.0, "copy-on-write volume mounted");
                    return Ok(VolumeInfo {
                        handle: handle.clone(),
                        path: dir,
                    });
                }
                Some(parent_dir)
            }
            VolumeStrategy::Import(path) if path.is_dir() => Some(path.clone()),
            VolumeStrategy::Import(path) => {
                return Err(WorkerError::InvalidPath(format!(
                    "import source {} is not a directory",
                    path.display()
                )));
            }
        };
        let staging = self.layout.staging_dir().join(&handle.0);
        match tokio::fs::create_dir(&staging).await {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WorkerError::AlreadyExists(handle.0.clone()));
            }
            other => other?,
        }
        let filled = match source {
            Some(source) => copy_tree(&source, &staging).await,
            None => Ok(()),
        };
        let placed = match filled {
            Ok(()) => place(&staging, &dir, handle).await,
            Err(err) => Err(err),
        };
        if let Err(err) = placed {
            remove_tree(staging).await;
            return Err(err);
        }
        tracing::debug!(volume = %handle.0, ?strategy, "volume created");
        Ok(VolumeInfo {
            handle: handle.clone(),
            path: dir,
        })
    }

    /// The worker's trash, which containers use too.
    pub(crate) fn trash(&self) -> &Trash {
        &self.trash
    }

    pub(crate) fn lookup(&self, handle: &VolumeHandle) -> Result<Option<VolumeInfo>, WorkerError> {
        let dir = self.layout.volume_dir(&handle.0)?;
        Ok(dir.is_dir().then(|| VolumeInfo {
            handle: handle.clone(),
            path: dir,
        }))
    }

    pub(crate) async fn destroy(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        let dir = self.layout.volume_dir(&handle.0)?;
        if self.layers.destroy(&handle.0, &dir, &self.trash).await? {
            tracing::debug!(volume = %handle.0, "volume destroyed");
        }
        Ok(())
    }

    pub(crate) async fn list(&self) -> Result<Vec<VolumeHandle>, WorkerError> {
        list_dirs(&self.layout.volumes_dir())
            .await
            .map(|names| names.into_iter().map(VolumeHandle).collect())
    }

    pub(crate) async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        let dir = self.path(handle)?;
        tarstream::unpack(&dir, path, tar).await
    }

    pub(crate) async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        let dir = self.path(handle)?;
        tarstream::pack(&dir, path, into)
            .await
            .map_err(|err| match err {
                WorkerError::PathNotFound { path, .. } => WorkerError::PathNotFound {
                    volume: handle.0.clone(),
                    path,
                },
                other => other,
            })
    }
}

/// Copies the contents of `from` into the existing directory `to`, attributes included.
pub(crate) async fn copy_tree(from: &Path, to: &Path) -> Result<(), WorkerError> {
    let output = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg("--")
        .arg(from.join("."))
        .arg(to)
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    if !output.status.success() {
        let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(WorkerError::Io(std::io::Error::other(format!(
            "copying {} to {}: {reason}",
            from.display(),
            to.display()
        ))));
    }
    Ok(())
}

/// Deletes a directory tree off the async threads, logging instead of failing: callers use it
/// to clean up after an error they are already returning.
pub(crate) async fn remove_tree(dir: PathBuf) {
    let result = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err((dir, err)),
        _ => Ok(()),
    })
    .await;
    if let Ok(Err((dir, err))) = result {
        tracing::warn!(dir = %dir.display(), error = %err, "could not remove directory");
    }
}

/// The names of the subdirectories of `dir` that do not start with a dot.
pub(crate) async fn list_dirs(dir: &Path) -> Result<Vec<String>, WorkerError> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.starts_with('.') && entry.file_type().await?.is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

async fn place(staging: &Path, dir: &Path, handle: &VolumeHandle) -> Result<(), WorkerError> {
    // rename(2) would replace an empty directory, so a racing create is caught here instead.
    if dir.symlink_metadata().is_ok() {
        return Err(WorkerError::AlreadyExists(handle.0.clone()));
    }
    tokio::fs::rename(staging, dir)
        .await
        .map_err(|err| match err.raw_os_error() {
            Some(code) if code == nix::libc::ENOTEMPTY || code == nix::libc::EEXIST => {
                WorkerError::AlreadyExists(handle.0.clone())
            }
            _ => err.into(),
        })
}
