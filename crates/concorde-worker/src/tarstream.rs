//! Tar streams into and out of directories, with the `tar` crate on blocking threads.
//!
//! The async reader or writer is bridged to `std::io` with `SyncIoBridge` and buffered, so the
//! tar code runs unchanged on a blocking thread while the other end of the stream stays async.
//! Unpacking never writes outside the target (the `tar` crate refuses `..` and checks symlinks),
//! and the target itself is resolved with [`resolve_inside`] first.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::SyncIoBridge;

use crate::WorkerError;
use crate::paths::resolve_inside;

/// Big enough that the bridge's per-call overhead disappears next to the copying.
const BUFFER_BYTES: usize = 256 * 1024;

/// Unpacks a tar stream into `base/path`, creating the directory if needed. Owners are
/// restored when the worker runs as root, so image rootfs keep their files' owners.
pub(crate) async fn unpack(
    base: &Path,
    path: &str,
    tar: Box<dyn AsyncRead + Send + Unpin>,
) -> Result<(), WorkerError> {
    let target = resolve_inside(base, path)?;
    tokio::fs::create_dir_all(&target).await?;
    let reader = BufReader::with_capacity(BUFFER_BYTES, SyncIoBridge::new(tar));
    let as_root = nix::unistd::geteuid().is_root();
    tokio::task::spawn_blocking(move || {
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.set_overwrite(true);
        archive.set_preserve_ownerships(as_root);
        archive.unpack(&target)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(())
}

/// Writes `base/path` as a tar stream: a directory's contents relative to it (`./...`), or a
/// single file under its own name. Symlinks are archived as links, not followed.
pub(crate) async fn pack(
    base: &Path,
    path: &str,
    into: Box<dyn AsyncWrite + Send + Unpin>,
) -> Result<(), WorkerError> {
    let source = resolve_inside(base, path)?;
    let metadata = match tokio::fs::metadata(&source).await {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(WorkerError::PathNotFound {
                volume: String::new(),
                path: path.to_owned(),
            });
        }
        Err(err) => return Err(err.into()),
    };
    let writer = BufWriter::with_capacity(BUFFER_BYTES, SyncIoBridge::new(into));
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        if metadata.is_dir() {
            builder.append_dir_all(".", &source)?;
        } else {
            let name = source
                .file_name()
                .map(ToOwned::to_owned)
                .unwrap_or_default();
            builder.append_path_with_name(&source, name)?;
        }
        let mut bridge = builder
            .into_inner()?
            .into_inner()
            .map_err(|err| err.into_error())?;
        bridge.flush()?;
        // Shutting down tells a pipe's reader that the stream is complete.
        bridge.shutdown()
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(())
}
