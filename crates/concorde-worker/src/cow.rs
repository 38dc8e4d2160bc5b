//! Copy-on-write volumes as overlayfs mounts: creating one costs the same whatever its size.
//!
//! A child of a plain volume is an overlay at `volumes/<child>/` whose lower layer is the
//! parent's directory and whose upper and work directories live in `volumes/.layers/<child>/`,
//! next to `layer.json` naming the lower directory. Writes to the child land in its upper
//! layer; the parent is never written (the parent should not change while it has children,
//! as overlayfs does not promise what a child sees of such changes).
//!
//! Children of a child are copies instead (overlays stacked on overlays would soon exceed the
//! kernel's depth limit of two, and a runc rootfs adds one more), as is everything when overlay
//! cannot be mounted (not root, or a work directory on overlayfs).
//!
//! A parent destroyed while it has children moves to `volumes/.orphans/` (a live overlay
//! follows its lower directory through renames) and is deleted with its last child. Opening
//! the store mounts every layer that is not mounted (after a reboot, or a clean stop), and
//! dropping it unmounts them all (lazily: containers keep theirs), so a stopped worker leaves
//! no mounts behind. One work directory has one worker at a time.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::mount::{MntFlags, MsFlags};

use crate::WorkerError;
use crate::trash::Trash;

/// What `layer.json` says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Layer {
    /// The parent's directory: `volumes/<parent>` or, once it is destroyed, in `.orphans/`.
    lower: PathBuf,
}

/// The overlay layers of a volume store.
#[derive(Debug)]
pub(crate) struct Layers {
    /// `volumes/.layers`.
    dir: PathBuf,
    /// `volumes/.orphans`.
    orphans: PathBuf,
    /// `volumes`, where the layers are mounted.
    volumes: PathBuf,
    /// Serialises creating and destroying, which read and rewrite several `layer.json`s.
    lock: tokio::sync::Mutex<()>,
    counter: AtomicU64,
}

impl Layers {
    /// Opens the layers of the volumes in `volumes_dir`, remounting any that are not mounted.
    pub(crate) fn open(volumes_dir: &Path) -> Result<Self, WorkerError> {
        let layers = Layers {
            dir: volumes_dir.join(".layers"),
            orphans: volumes_dir.join(".orphans"),
            volumes: volumes_dir.to_owned(),
            lock: tokio::sync::Mutex::new(()),
            counter: AtomicU64::new(0),
        };
        std::fs::create_dir_all(&layers.dir)?;
        std::fs::create_dir_all(&layers.orphans)?;
        let volumes_dev = std::fs::metadata(volumes_dir)?.dev();
        for entry in std::fs::read_dir(&layers.dir)? {
            let entry = entry?;
            let mount_point = volumes_dir.join(entry.file_name());
            let Ok(layer) = read_layer(&entry.path()) else {
                continue;
            };
            // Still on the volumes' filesystem means not mounted.
            if std::fs::metadata(&mount_point).is_ok_and(|metadata| metadata.dev() == volumes_dev)
                && let Err(err) = mount(&layer.lower, &entry.path(), &mount_point)
            {
                tracing::warn!(volume = %mount_point.display(), error = %err, "could not remount a copy-on-write volume");
            }
        }
        Ok(layers)
    }

    /// Makes `volume_dir` an overlay child of `parent_dir`. `Ok(false)` means it cannot be one
    /// and nothing was created: the caller copies instead.
    pub(crate) async fn create(
        &self,
        handle: &str,
        volume_dir: &Path,
        parent_handle: &str,
        parent_dir: &Path,
    ) -> Result<bool, WorkerError> {
        let _guard = self.lock.lock().await;
        if self.dir.join(parent_handle).exists() || !nix::unistd::geteuid().is_root() {
            return Ok(false);
        }
        let layer_dir = self.dir.join(handle);
        match tokio::fs::create_dir(&layer_dir).await {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WorkerError::AlreadyExists(handle.to_owned()));
            }
            other => other?,
        }
        let made = self.populate(&layer_dir, volume_dir, parent_dir).await;
        if !matches!(made, Ok(true)) {
            let _ = tokio::fs::remove_dir(volume_dir).await;
            let _ = tokio::fs::remove_dir_all(&layer_dir).await;
        }
        made
    }

    async fn populate(
        &self,
        layer_dir: &Path,
        volume_dir: &Path,
        parent_dir: &Path,
    ) -> Result<bool, WorkerError> {
        let upper = layer_dir.join("upper");
        tokio::fs::create_dir(&upper).await?;
        tokio::fs::create_dir(layer_dir.join("work")).await?;
        // The merged root takes the upper layer's owner and mode; a copy would have the parent's.
        let parent = tokio::fs::metadata(parent_dir).await?;
        tokio::fs::set_permissions(&upper, parent.permissions()).await?;
        std::os::unix::fs::chown(&upper, Some(parent.uid()), Some(parent.gid()))?;
        let layer = Layer {
            lower: parent_dir.to_owned(),
        };
        write_layer(layer_dir, &layer).await?;
        match tokio::fs::create_dir(volume_dir).await {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WorkerError::AlreadyExists(volume_dir.display().to_string()));
            }
            other => other?,
        }
        match mount(parent_dir, layer_dir, volume_dir) {
            Ok(()) => Ok(true),
            Err(err) => {
                tracing::warn!(error = %err, "overlayfs unavailable for a copy-on-write volume; copying");
                Ok(false)
            }
        }
    }

    /// Destroys the volume at `volume_dir` of either kind, deferring a parent's deletion
    /// while it has children. A missing volume is fine.
    pub(crate) async fn destroy(
        &self,
        handle: &str,
        volume_dir: &Path,
        trash: &Trash,
    ) -> Result<bool, WorkerError> {
        let _guard = self.lock.lock().await;
        let layer_dir = self.dir.join(handle);
        if let Ok(layer) = read_layer(&layer_dir) {
            match nix::mount::umount2(volume_dir, MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
                Err(err) => return Err(WorkerError::Io(err.into())),
            }
            trash.discard(volume_dir).await?;
            trash.discard(&layer_dir).await?;
            if layer.lower.starts_with(&self.orphans) && self.children_of(&layer.lower)?.is_empty()
            {
                trash.discard(&layer.lower).await?;
            }
            return Ok(true);
        }
        let children = self.children_of(volume_dir)?;
        if children.is_empty() {
            return trash.discard(volume_dir).await;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let orphan = self.orphans.join(format!("{handle}.{n}"));
        tokio::fs::rename(volume_dir, &orphan).await?;
        for child in children {
            write_layer(
                &child,
                &Layer {
                    lower: orphan.clone(),
                },
            )
            .await?;
        }
        Ok(true)
    }

    /// The layer directories whose lower directory is `dir`.
    fn children_of(&self, dir: &Path) -> Result<Vec<PathBuf>, WorkerError> {
        let mut children = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if read_layer(&path).is_ok_and(|layer| layer.lower == dir) {
                children.push(path);
            }
        }
        Ok(children)
    }
}

impl Drop for Layers {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let mount_point = self.volumes.join(entry.file_name());
            match nix::mount::umount2(&mount_point, MntFlags::MNT_DETACH) {
                Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
                Err(err) => {
                    tracing::warn!(volume = %mount_point.display(), error = %err, "could not unmount")
                }
            }
        }
    }
}

fn read_layer(layer_dir: &Path) -> Result<Layer, WorkerError> {
    let json = std::fs::read(layer_dir.join("layer.json"))?;
    Ok(serde_json::from_slice(&json).map_err(std::io::Error::other)?)
}

async fn write_layer(layer_dir: &Path, layer: &Layer) -> Result<(), WorkerError> {
    let json = serde_json::to_vec(layer).map_err(std::io::Error::other)?;
    let temp = layer_dir.join("layer.json.tmp");
    tokio::fs::write(&temp, json).await?;
    tokio::fs::rename(temp, layer_dir.join("layer.json")).await?;
    Ok(())
}

/// Mounts an overlay of `upper` (in `layer_dir`) over `lower` at `target`.
pub(crate) fn mount(lower: &Path, layer_dir: &Path, target: &Path) -> Result<(), WorkerError> {
    let (upper, work) = (layer_dir.join("upper"), layer_dir.join("work"));
    // Overlay options are comma-separated and lowerdir is colon-separated: paths holding
    // either cannot be expressed.
    if [lower, &upper, &work]
        .iter()
        .any(|path| path.to_string_lossy().contains([',', ':']))
    {
        return Err(WorkerError::InvalidPath(format!(
            "{} cannot be an overlay layer",
            layer_dir.display()
        )));
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|err| WorkerError::Io(err.into()))
}
