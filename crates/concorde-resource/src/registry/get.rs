//! `registry-image` in: resolve the version's digest to one linux/amd64 image, download and
//! verify its blobs, and lay it out as `rootfs/` + `metadata.json` (or `image.tar`).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client::{Client, MANIFEST_ACCEPT, Payload, header};
use super::image::{Descriptor, Document, ImageConfig, is_index};
use super::layout::{LayoutWriter, split_digest};
use super::{Registry, sha256_digest, unpack};
use crate::protocol::{Keys, Log};
use crate::{Context, Output, Request, ResourceError};

const PARAM_KEYS: Keys = Keys {
    section: "params",
    supported: &["format", "skip_download"],
    ignored: &["raw"],
    reject_unknown: false,
};

#[derive(Debug, Default, Deserialize)]
struct GetParams {
    format: Option<String>,
    #[serde(default)]
    skip_download: bool,
}

/// Where layers wait between download and unpacking; removed afterwards.
const LAYER_DIR: &str = ".concorde-layers";

pub(super) fn get(
    _ctx: &Context,
    dir: &Path,
    registry: &Registry,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let params: GetParams = PARAM_KEYS.parse(&request.params, log)?;
    let format = params.format.as_deref().unwrap_or("rootfs");
    if format != "rootfs" && format != "oci" {
        return Err(ResourceError::InvalidKey {
            section: "params",
            key: "format".to_owned(),
            reason: format!("{format:?} is neither rootfs nor oci"),
        });
    }
    let version = request.version.clone().ok_or(ResourceError::MissingKey {
        section: "version",
        key: "digest",
    })?;
    let digest = version.get("digest").filter(|digest| !digest.is_empty());
    let digest = digest
        .ok_or(ResourceError::MissingKey {
            section: "version",
            key: "digest",
        })?
        .clone();
    split_digest(&digest)?;
    let tag = version
        .get("tag")
        .cloned()
        .unwrap_or_else(|| registry.tag.clone());
    write(dir, "repository", &registry.name())?;
    write(dir, "tag", &tag)?;
    write(dir, "digest", &digest)?;
    if params.skip_download {
        return Ok(Output {
            version,
            metadata: Vec::new(),
        });
    }
    log.line(&format!("fetching {}@{digest}", registry.name()));
    let (bytes, media_type) = fetch_manifest(registry, &digest)?;
    let (document, kind) = Document::parse(&bytes, media_type.as_deref())?;
    let (manifest, manifest_bytes, manifest_kind) = if is_index(&kind) {
        let entry = document
            .select(&registry.os, &registry.architecture)?
            .clone();
        let (bytes, media_type) = fetch_manifest(registry, &entry.digest)?;
        let (manifest, kind) = Document::parse(
            &bytes,
            media_type.as_deref().or(Some(entry.media_type.as_str())),
        )?;
        (manifest, bytes, kind)
    } else {
        (document, bytes, kind)
    };
    let config = manifest
        .config
        .clone()
        .ok_or_else(|| ResourceError::InvalidImage("the manifest has no config".to_owned()))?;
    let config_bytes = fetch_small_blob(registry, &config.digest)?;
    let image_config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|err| {
        ResourceError::InvalidImage(format!("the image config does not parse: {err}"))
    })?;
    let layer_dir = dir.join(LAYER_DIR);
    std::fs::create_dir_all(&layer_dir).map_err(|err| ResourceError::io(&layer_dir, err))?;
    let mut layers: Vec<(Descriptor, PathBuf)> = Vec::new();
    for layer in &manifest.layers {
        let (_, hex) = split_digest(&layer.digest)?;
        let path = layer_dir.join(hex);
        log.line(&format!(
            "fetching layer {} ({} bytes)",
            layer.digest, layer.size
        ));
        download_blob(registry, &layer.digest, &path)?;
        layers.push((layer.clone(), path));
    }
    if format == "oci" {
        let mut writer = LayoutWriter::create(&dir.join("image.tar"))?;
        let manifest_digest = sha256_digest(&manifest_bytes);
        writer.add_blob_bytes(&manifest_digest, &manifest_bytes)?;
        writer.add_blob_bytes(&config.digest, &config_bytes)?;
        for (layer, path) in &layers {
            writer.add_blob_file(&layer.digest, path)?;
        }
        let size = manifest_bytes.len() as u64;
        let descriptor = Descriptor {
            media_type: manifest_kind,
            digest: manifest_digest,
            size,
            platform: None,
            annotations: None,
        };
        writer.finish(descriptor, &tag)?;
    } else {
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).map_err(|err| ResourceError::io(&rootfs, err))?;
        for (layer, path) in &layers {
            log.line(&format!("unpacking layer {}", layer.digest));
            unpack::apply_layer(path, &rootfs, log)?;
        }
        write(
            dir,
            "metadata.json",
            &serde_json::to_string(&image_config.metadata())?,
        )?;
    }
    std::fs::remove_dir_all(&layer_dir).map_err(|err| ResourceError::io(&layer_dir, err))?;
    Ok(Output {
        version,
        metadata: Vec::new(),
    })
}

fn write(dir: &Path, name: &str, contents: &str) -> Result<(), ResourceError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|err| ResourceError::io(&path, err))
}

/// A manifest by digest, verified, with the registry's content type.
fn fetch_manifest(
    registry: &Registry,
    digest: &str,
) -> Result<(Vec<u8>, Option<String>), ResourceError> {
    let url = registry.client.url(&format!("manifests/{digest}"));
    let response =
        registry
            .client
            .expect("GET", &url, &[("Accept", MANIFEST_ACCEPT)], &Payload::Empty)?;
    let media_type = header(&response, "content-type")
        .map(|kind| kind.split(';').next().unwrap_or_default().trim().to_owned());
    let bytes = Client::read_small(response)?;
    verify(digest, &sha256_digest(&bytes))?;
    Ok((bytes, media_type))
}

fn fetch_small_blob(registry: &Registry, digest: &str) -> Result<Vec<u8>, ResourceError> {
    let url = registry.client.url(&format!("blobs/{digest}"));
    let bytes = Client::read_small(registry.client.expect("GET", &url, &[], &Payload::Empty)?)?;
    verify(digest, &sha256_digest(&bytes))?;
    Ok(bytes)
}

/// Streams a blob to `dest`, hashing on the way; a mismatch is an error.
fn download_blob(registry: &Registry, digest: &str, dest: &Path) -> Result<(), ResourceError> {
    let url = registry.client.url(&format!("blobs/{digest}"));
    let response = registry.client.expect("GET", &url, &[], &Payload::Empty)?;
    let mut reader = response.into_body().into_reader();
    let mut file = File::create(dest).map_err(|err| ResourceError::io(dest, err))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|err| ResourceError::io(dest, err))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n])
            .map_err(|err| ResourceError::io(dest, err))?;
    }
    verify(digest, &format!("sha256:{:x}", hasher.finalize()))
}

/// Checks content against a `sha256:` digest; other algorithms are trusted as the registry
/// served them.
fn verify(expected: &str, actual_sha256: &str) -> Result<(), ResourceError> {
    if expected.starts_with("sha256:") && expected != actual_sha256 {
        return Err(ResourceError::DigestMismatch {
            expected: expected.to_owned(),
            actual: actual_sha256.to_owned(),
        });
    }
    Ok(())
}
