//! Manifest, index and config documents, in both Docker schema 2 and OCI spellings, and the
//! choice of the linux/amd64 image from an index.

use serde::{Deserialize, Serialize};

use crate::ResourceError;

/// OCI image manifest.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The platform of one entry of an index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A manifest or an index: both shapes share the fields we read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Document {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl Document {
    /// Parses a manifest or index; `media_type` is the transport's (a header or a descriptor),
    /// used when the document does not say.
    pub fn parse(
        bytes: &[u8],
        media_type: Option<&str>,
    ) -> Result<(Document, String), ResourceError> {
        let document: Document = serde_json::from_slice(bytes).map_err(|err| {
            ResourceError::InvalidImage(format!("manifest does not parse: {err}"))
        })?;
        let kind = document
            .media_type
            .clone()
            .filter(|kind| !kind.is_empty())
            .or_else(|| {
                media_type
                    .filter(|kind| !kind.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| {
                if document.manifests.is_empty() {
                    OCI_MANIFEST
                } else {
                    OCI_INDEX
                }
                .to_owned()
            });
        Ok((document, kind))
    }

    /// The entry of an index to use on `os`/`architecture`.
    pub fn select(&self, os: &str, architecture: &str) -> Result<&Descriptor, ResourceError> {
        self.manifests
            .iter()
            .find(|entry| {
                entry
                    .platform
                    .as_ref()
                    .is_some_and(|p| p.os == os && p.architecture == architecture)
            })
            .ok_or_else(|| {
                ResourceError::InvalidImage(format!(
                    "the image index has no {os}/{architecture} image"
                ))
            })
    }
}

/// Whether a media type names an index rather than a single image.
pub(crate) fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// The parts of an image config a container needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub config: Option<RunConfig>,
}

/// `config` inside an image config.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RunConfig {
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

/// `metadata.json` beside an image's `rootfs/`, as the ATC reads it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ImageMetadata {
    pub env: Vec<String>,
    pub user: String,
}

impl ImageConfig {
    /// The env and user a container of this image starts with.
    pub fn metadata(&self) -> ImageMetadata {
        let run = self.config.clone().unwrap_or_default();
        ImageMetadata {
            env: run.env.unwrap_or_default(),
            user: run.user.unwrap_or_default(),
        }
    }
}
