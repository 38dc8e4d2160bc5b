//! Applies image layers to a `rootfs/` directory: whiteouts first, then the layer's files.
//!
//! A layer's whiteouts only ever hide files of lower layers (`.wh.<name>` removes `<name>`,
//! `.wh..wh..opq` empties its directory), so each layer is read twice: one pass applies its
//! whiteouts, the next unpacks everything else. Entries never escape the rootfs (`..`,
//! absolute paths and symlinked parents are refused by `tar`'s `unpack_in`), and device nodes
//! are skipped because the container runtime provides `/dev`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::ResourceError;
use crate::protocol::Log;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Applies the layer stored (gzipped or plain tar) at `layer` onto `rootfs`.
pub(crate) fn apply_layer(
    layer: &Path,
    rootfs: &Path,
    log: &mut Log<'_>,
) -> Result<(), ResourceError> {
    let err = |source: std::io::Error| ResourceError::io(layer, source);
    let root = rootfs
        .canonicalize()
        .map_err(|source| ResourceError::io(rootfs, source))?;
    for entry in open(layer)?.entries().map_err(err)? {
        let entry = entry.map_err(err)?;
        let Some(path) = clean_path(&entry.path().map_err(err)?) else {
            continue;
        };
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let parent = rootfs.join(path.parent().unwrap_or(Path::new("")));
        // A lower layer's symlink must not aim a whiteout outside the rootfs.
        if !parent
            .canonicalize()
            .is_ok_and(|parent| parent.starts_with(&root))
        {
            continue;
        }
        if name == OPAQUE_MARKER {
            if let Ok(children) = std::fs::read_dir(&parent) {
                for child in children.flatten() {
                    remove(&child.path())?;
                }
            }
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            remove(&parent.join(hidden))?;
        }
    }
    // Preserving owners needs root; an unprivileged unpack keeps the caller's.
    let as_root = std::fs::metadata(rootfs)
        .map(|meta| meta.uid() == 0)
        .unwrap_or(false);
    let mut archive = open(layer)?;
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(as_root);
    archive.set_overwrite(true);
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let Some(path) = clean_path(&entry.path().map_err(err)?) else {
            log.line(&format!(
                "warning: skipping layer entry {:?} outside the rootfs",
                entry.path().map_err(err)?
            ));
            continue;
        };
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let kind = entry.header().entry_type();
        if name.starts_with(WHITEOUT_PREFIX)
            || kind.is_character_special()
            || kind.is_block_special()
            || kind.is_fifo()
        {
            continue;
        }
        if path.as_os_str().is_empty() {
            continue;
        }
        // A directory replacing a file (or the reverse) must first remove what is there.
        let target = rootfs.join(&path);
        if std::fs::symlink_metadata(&target)
            .is_ok_and(|existing| existing.is_dir() != kind.is_dir())
        {
            remove(&target)?;
        }
        entry.unpack_in(rootfs).map_err(err)?;
    }
    Ok(())
}

/// Opens a layer, gunzipping when it starts with gzip's magic bytes.
fn open(layer: &Path) -> Result<tar::Archive<Box<dyn Read>>, ResourceError> {
    let file = File::open(layer).map_err(|err| ResourceError::io(layer, err))?;
    let mut reader = BufReader::new(file);
    let head = reader
        .fill_buf()
        .map_err(|err| ResourceError::io(layer, err))?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(ResourceError::InvalidImage(
            "zstd-compressed layers are not supported".to_owned(),
        ));
    } else {
        Box::new(reader)
    };
    Ok(tar::Archive::new(Box::new(ZeroTail {
        inner: reader,
        remaining: ZERO_TAIL,
    })))
}

/// Enough zeros for the padding of a last entry plus the two end-of-archive blocks.
const ZERO_TAIL: usize = 511 + 2 * 512;

/// Reads `inner`, then up to [`ZERO_TAIL`] zero bytes. Some layer writers (Debian's umoci among
/// them) end the tar stream without the last entry's padding or the end-of-archive blocks; GNU
/// tar and Go's reader accept such layers, and so do we. A stream cut inside an entry's data
/// still fails, because the zeros run out before the archive makes sense again.
struct ZeroTail<R> {
    inner: R,
    remaining: usize,
}

impl<R: Read> Read for ZeroTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let n = buf.len().min(self.remaining);
        buf[..n].fill(0);
        self.remaining -= n;
        Ok(n)
    }
}

/// The entry's path relative to the rootfs, or `None` when it would climb out.
fn clean_path(path: &Path) -> Option<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(clean)
}

fn remove(path: &Path) -> Result<(), ResourceError> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
    result.map_err(|err| ResourceError::io(path, err))
}
