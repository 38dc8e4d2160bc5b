//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as a directory or a
//! tar of one: read for `out`, written by `in` with `format: oci`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::image::{Descriptor, Document};
use crate::ResourceError;

/// An unpacked OCI layout on disk.
pub(crate) struct Layout {
    /// The layout's root directory.
    pub root: PathBuf,
    /// Keeps the extraction of a tarball alive as long as the layout is read.
    _extracted: Option<tempfile::TempDir>,
}

impl Layout {
    /// Opens a layout directory, or extracts a layout tarball into `scratch` first.
    pub fn open(path: &Path, scratch: &Path) -> Result<Layout, ResourceError> {
        if path.is_dir() {
            return Ok(Layout {
                root: path.to_owned(),
                _extracted: None,
            });
        }
        let file = File::open(path).map_err(|err| ResourceError::io(path, err))?;
        std::fs::create_dir_all(scratch).map_err(|err| ResourceError::io(scratch, err))?;
        let extracted = tempfile::Builder::new()
            .prefix("concorde-oci-")
            .tempdir_in(scratch)
            .map_err(|err| ResourceError::io(scratch, err))?;
        tar::Archive::new(file)
            .unpack(extracted.path())
            .map_err(|err| ResourceError::io(path, err))?;
        Ok(Layout {
            root: extracted.path().to_owned(),
            _extracted: Some(extracted),
        })
    }

    /// The descriptors in `index.json`.
    pub fn manifests(&self) -> Result<Vec<Descriptor>, ResourceError> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(|err| {
            ResourceError::InvalidImage(format!(
                "{} is not an OCI image layout: {err}",
                self.root.display()
            ))
        })?;
        let (index, _) = Document::parse(&bytes, None)?;
        Ok(index.manifests)
    }

    /// Where a blob is stored.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ResourceError> {
        let (algorithm, hex) = split_digest(digest)?;
        Ok(self.root.join("blobs").join(algorithm).join(hex))
    }

    /// A blob's bytes, for manifests and configs.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ResourceError> {
        let path = self.blob_path(digest)?;
        std::fs::read(&path).map_err(|err| ResourceError::io(&path, err))
    }
}

/// Splits `sha256:<hex>`, refusing anything that could be a path.
pub(crate) fn split_digest(digest: &str) -> Result<(&str, &str), ResourceError> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| ResourceError::InvalidImage(format!("{digest:?} is not a digest")))?;
    let word =
        |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric());
    if !word(algorithm) || !word(hex) {
        return Err(ResourceError::InvalidImage(format!(
            "{digest:?} is not a digest"
        )));
    }
    Ok((algorithm, hex))
}

/// Writes `dest` as a tar of an OCI layout holding one image.
pub(crate) struct LayoutWriter {
    builder: tar::Builder<File>,
}

impl LayoutWriter {
    /// Starts the tarball with its `oci-layout` marker.
    pub fn create(dest: &Path) -> Result<LayoutWriter, ResourceError> {
        let file = File::create(dest).map_err(|err| ResourceError::io(dest, err))?;
        let mut writer = LayoutWriter {
            builder: tar::Builder::new(file),
        };
        writer.add_bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(writer)
    }

    /// Adds a blob held in memory.
    pub fn add_blob_bytes(&mut self, digest: &str, bytes: &[u8]) -> Result<(), ResourceError> {
        let (algorithm, hex) = split_digest(digest)?;
        self.add_bytes(&format!("blobs/{algorithm}/{hex}"), bytes)
    }

    /// Adds a blob stored in a file.
    pub fn add_blob_file(&mut self, digest: &str, path: &Path) -> Result<(), ResourceError> {
        let (algorithm, hex) = split_digest(digest)?;
        let mut file = File::open(path).map_err(|err| ResourceError::io(path, err))?;
        self.builder
            .append_file(format!("blobs/{algorithm}/{hex}"), &mut file)
            .map_err(|err| ResourceError::io(path, err))
    }

    /// Writes `index.json` naming `manifest` under `tag`, and finishes the tarball.
    pub fn finish(mut self, mut manifest: Descriptor, tag: &str) -> Result<(), ResourceError> {
        let mut annotations = serde_json::Map::new();
        annotations.insert("org.opencontainers.image.ref.name".to_owned(), tag.into());
        manifest.annotations = Some(annotations);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [manifest]});
        self.add_bytes("index.json", &serde_json::to_vec(&index)?)?;
        let mut file = self.builder.into_inner().map_err(ResourceError::Stdio)?;
        file.flush().map_err(ResourceError::Stdio)
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), ResourceError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        self.builder
            .append_data(&mut header, name, bytes)
            .map_err(ResourceError::Stdio)
    }
}
