//! A container's root filesystem: the image's rootfs under an overlayfs copy-on-write layer.
//!
//! The image (a volume's `rootfs/`, or a raw directory) is the overlay's lower layer and is
//! never written; the container's changes go to `upper/` in its own directory, and the merged
//! view is `rootfs/`, which runc uses as its root. Where overlayfs cannot be mounted (the work
//! directory on an overlayfs itself, say) the image is copied instead, with a warning.

use std::path::{Path, PathBuf};

use nix::mount::MntFlags;

use crate::volumes::{VolumeStore, copy_tree};
use crate::{ImageSpec, WorkerError};

/// What an image volume's `metadata.json` says (as a `registry-image` get writes it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct ImageMetadata {
    /// `NAME=value` pairs for every process.
    #[serde(default)]
    pub env: Vec<String>,
    /// The default user.
    #[serde(default)]
    pub user: Option<String>,
}

/// An image located on disk.
#[derive(Debug)]
pub(crate) struct Image {
    pub rootfs: PathBuf,
    pub metadata: ImageMetadata,
}

/// Finds an image's rootfs and reads its metadata.
pub(crate) async fn locate(volumes: &VolumeStore, image: &ImageSpec) -> Result<Image, WorkerError> {
    match image {
        ImageSpec::Volume(handle) => {
            let dir = volumes.path(handle)?;
            let rootfs = dir.join("rootfs");
            if !rootfs.is_dir() {
                return Err(WorkerError::InvalidImage(format!(
                    "volume {} has no rootfs/ directory",
                    handle.0
                )));
            }
            let metadata = match tokio::fs::read(dir.join("metadata.json")).await {
                Ok(json) => serde_json::from_slice(&json).map_err(|err| {
                    WorkerError::InvalidImage(format!(
                        "metadata.json of volume {}: {err}",
                        handle.0
                    ))
                })?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => ImageMetadata::default(),
                Err(err) => return Err(err.into()),
            };
            Ok(Image { rootfs, metadata })
        }
        ImageSpec::RawPath(path) if path.is_dir() => Ok(Image {
            rootfs: path.clone(),
            metadata: ImageMetadata::default(),
        }),
        ImageSpec::RawPath(path) => Err(WorkerError::InvalidImage(format!(
            "raw rootfs {} is not a directory",
            path.display()
        ))),
        ImageSpec::None => Err(WorkerError::InvalidImage(
            "the runc backend needs an image".to_owned(),
        )),
        ImageSpec::HostRoot => Err(WorkerError::InvalidImage(
            "the host root is not an image on disk".to_owned(),
        )),
    }
}

/// Builds `<container_dir>/rootfs` over `image`; returns whether it is an overlay mount.
pub(crate) async fn build(container_dir: &Path, image: &Path) -> Result<bool, WorkerError> {
    let merged = container_dir.join("rootfs");
    let upper = container_dir.join("upper");
    let work = container_dir.join("work");
    for dir in [&merged, &upper, &work] {
        tokio::fs::create_dir(dir).await?;
    }
    let mounted = match crate::cow::mount(image, container_dir, &merged) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err, image = %image.display(), "overlayfs unavailable; copying the image");
            false
        }
    };
    if !mounted {
        copy_tree(image, &merged).await?;
    }
    Ok(mounted)
}

/// Unmounts the overlay (or the host root bind) if it is mounted. Detaching cannot fail on a
/// busy mount, and the merged directory is empty afterwards, so deleting the container
/// directory is safe; a rootfs that still shows the host's root is an error instead.
pub(crate) fn unmount(container_dir: &Path) -> Result<(), WorkerError> {
    let rootfs = container_dir.join("rootfs");
    match nix::mount::umount2(&rootfs, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(err) => return Err(WorkerError::Io(err.into())),
    }
    super::host_root::ensure_released(&rootfs)
}
