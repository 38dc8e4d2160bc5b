//! `registry-image` out: push an OCI image layout (directory or tarball) under the source tag
//! and any additional tags; blobs the registry already has are not uploaded again.

use std::path::Path;

use serde::Deserialize;

use super::client::{Payload, header};
use super::image::{Descriptor, Document, OCI_MANIFEST, is_index};
use super::layout::Layout;
use super::{Registry, sha256_digest};
use crate::protocol::{Keys, Log};
use crate::{Context, Output, Request, ResourceError};

const PARAM_KEYS: Keys = Keys {
    section: "params",
    supported: &["image", "additional_tags"],
    ignored: &["bump_aliases", "version"],
    reject_unknown: false,
};

/// The annotation naming a layout entry's tag.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Default, Deserialize)]
struct PutParams {
    #[serde(default)]
    image: String,
    additional_tags: Option<String>,
}

pub(super) fn put(
    ctx: &Context,
    dir: &Path,
    registry: &Registry,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let params: PutParams = PARAM_KEYS.parse(&request.params, log)?;
    if params.image.trim().is_empty() {
        return Err(ResourceError::MissingKey {
            section: "params",
            key: "image",
        });
    }
    let mut tags = vec![registry.tag.clone()];
    if let Some(file) = &params.additional_tags {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|err| ResourceError::io(&path, err))?;
        tags.extend(text.split_whitespace().map(str::to_owned));
    }
    let layout = Layout::open(&dir.join(&params.image), ctx.temp_dir())?;
    let entries = layout.manifests()?;
    let named = |entry: &&Descriptor| {
        entry
            .annotations
            .as_ref()
            .and_then(|notes| notes.get(REF_NAME))
            .and_then(|name| name.as_str())
            == Some(registry.tag.as_str())
    };
    let entry = match entries.as_slice() {
        [only] => only.clone(),
        _ => entries.iter().find(named).cloned().ok_or_else(|| {
            ResourceError::InvalidImage(format!(
                "the layout holds {} images and none is tagged {:?}",
                entries.len(),
                registry.tag
            ))
        })?,
    };
    let bytes = push_tree(registry, &layout, &entry, log)?;
    let digest = sha256_digest(&bytes);
    let kind = Document::parse(
        &bytes,
        Some(entry.media_type.as_str()).filter(|kind| !kind.is_empty()),
    )?
    .1;
    for tag in &tags {
        log.line(&format!("tagging {}:{tag}", registry.name()));
        put_manifest(registry, tag, &bytes, &kind, &digest)?;
    }
    Ok(Output {
        version: registry.version(&digest),
        metadata: Vec::new(),
    })
}

/// Uploads everything `entry` refers to (blobs, and child manifests of an index, by digest),
/// and returns `entry`'s own bytes for tagging.
fn push_tree(
    registry: &Registry,
    layout: &Layout,
    entry: &Descriptor,
    log: &mut Log<'_>,
) -> Result<Vec<u8>, ResourceError> {
    let bytes = layout.read_blob(&entry.digest)?;
    if sha256_digest(&bytes) != entry.digest {
        return Err(ResourceError::DigestMismatch {
            expected: entry.digest.clone(),
            actual: sha256_digest(&bytes),
        });
    }
    let fallback = if entry.media_type.is_empty() {
        OCI_MANIFEST
    } else {
        entry.media_type.as_str()
    };
    let (document, kind) = Document::parse(&bytes, Some(fallback))?;
    if is_index(&kind) {
        for child in &document.manifests {
            let child_bytes = push_tree(registry, layout, child, log)?;
            let child_kind = Document::parse(
                &child_bytes,
                Some(child.media_type.as_str()).filter(|kind| !kind.is_empty()),
            )?
            .1;
            put_manifest(
                registry,
                &child.digest,
                &child_bytes,
                &child_kind,
                &child.digest,
            )?;
        }
    } else {
        let config = document
            .config
            .as_ref()
            .ok_or_else(|| ResourceError::InvalidImage("the manifest has no config".to_owned()))?;
        for blob in std::iter::once(config).chain(&document.layers) {
            upload_blob(registry, layout, &blob.digest, log)?;
        }
    }
    Ok(bytes)
}

fn upload_blob(
    registry: &Registry,
    layout: &Layout,
    digest: &str,
    log: &mut Log<'_>,
) -> Result<(), ResourceError> {
    let client = &registry.client;
    let url = client.url(&format!("blobs/{digest}"));
    if client
        .send("HEAD", &url, &[], &Payload::Empty)?
        .status()
        .is_success()
    {
        log.line(&format!("blob {digest} already present"));
        return Ok(());
    }
    let path = layout.blob_path(digest)?;
    log.line(&format!("uploading blob {digest}"));
    let start = client.expect(
        "POST",
        &client.url("blobs/uploads/"),
        &[("Content-Length", "0")],
        &Payload::Empty,
    )?;
    let location = header(&start, "location").ok_or_else(|| {
        ResourceError::InvalidImage("the registry started an upload without a Location".to_owned())
    })?;
    let location = client.resolve(&location);
    let separator = if location.contains('?') { '&' } else { '?' };
    let finish = format!("{location}{separator}digest={}", digest.replace(':', "%3A"));
    client.expect(
        "PUT",
        &finish,
        &[("Content-Type", "application/octet-stream")],
        &Payload::File(&path),
    )?;
    Ok(())
}

fn put_manifest(
    registry: &Registry,
    reference: &str,
    bytes: &[u8],
    kind: &str,
    digest: &str,
) -> Result<(), ResourceError> {
    let url = registry.client.url(&format!("manifests/{reference}"));
    let response = registry.client.expect(
        "PUT",
        &url,
        &[("Content-Type", kind)],
        &Payload::Bytes(bytes),
    )?;
    match header(&response, "docker-content-digest") {
        Some(stored) if stored != digest => Err(ResourceError::DigestMismatch {
            expected: digest.to_owned(),
            actual: stored,
        }),
        _ => Ok(()),
    }
}
