//! The `registry-image` resource type: a tag's digest in an OCI registry as versions, images
//! fetched as `rootfs/` + `metadata.json` (what the ATC runs tasks and custom types from), and
//! OCI layouts pushed as images.
//!
//! Source keys: `repository` (required, e.g. `127.0.0.1:5000/busybox`), `tag` (default
//! `latest`), `username`/`password`, `insecure` (plain http) and `platform` (`os`,
//! `architecture`; default linux/amd64). Versions are `{"digest": "sha256:...", "tag": tag}`.
//! `in` params: `format` (`rootfs`, default, or `oci` for `image.tar`), `skip_download`.
//! `out` params: `image` (an OCI layout directory or tarball; required) and `additional_tags`
//! (a file of whitespace-separated tags).

mod client;
mod get;
mod image;
mod layout;
mod put;
mod reference;
mod unpack;

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::protocol::{Keys, Log};
use crate::{Context, Output, Request, ResourceError, Version};
use client::{Client, MANIFEST_ACCEPT, Payload, header, status_error};
use reference::ImageRef;

const SOURCE_KEYS: Keys = Keys {
    section: "source",
    supported: &[
        "repository",
        "tag",
        "username",
        "password",
        "insecure",
        "platform",
    ],
    ignored: &[
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        "aws_role_arn",
        "aws_role_arns",
        "ca_certs",
        "content_trust",
        "created_at_sort",
        "debug",
        "pre_releases",
        "registry_mirror",
        "semver_constraint",
        "tag_regex",
        "variant",
    ],
    reject_unknown: false,
};

/// The `source` of a registry-image resource.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RegistrySource {
    #[serde(default)]
    repository: String,
    tag: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    insecure: bool,
    platform: Option<PlatformChoice>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct PlatformChoice {
    os: Option<String>,
    architecture: Option<String>,
}

/// A parsed source with its client.
pub(crate) struct Registry {
    image: ImageRef,
    tag: String,
    os: String,
    architecture: String,
    client: Client,
}

impl Registry {
    fn connect(request: &Request, log: &mut Log<'_>) -> Result<Registry, ResourceError> {
        let source: RegistrySource = SOURCE_KEYS.parse(&request.source, log)?;
        let image = ImageRef::parse(&source.repository)?;
        let tag = source
            .tag
            .filter(|tag| !tag.is_empty())
            .unwrap_or_else(|| "latest".to_owned());
        let valid_tag = tag.len() <= 128
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid_tag || tag.starts_with(['.', '-']) {
            return Err(ResourceError::InvalidKey {
                section: "source",
                key: "tag".to_owned(),
                reason: format!("{tag:?} is not a tag"),
            });
        }
        let credentials = match (source.username, source.password) {
            (Some(username), password) if !username.is_empty() => {
                Some((username, password.unwrap_or_default()))
            }
            _ => None,
        };
        let platform = source.platform.unwrap_or_default();
        Ok(Registry {
            client: Client::new(&image, credentials, source.insecure),
            image,
            tag,
            os: platform.os.unwrap_or_else(|| "linux".to_owned()),
            architecture: platform.architecture.unwrap_or_else(|| "amd64".to_owned()),
        })
    }

    /// `host/repository`, for files and messages.
    fn name(&self) -> String {
        format!("{}/{}", self.image.registry, self.image.repository)
    }

    /// The digest the tag points at, or `None` when the tag does not exist.
    fn resolve_tag(&self) -> Result<Option<String>, ResourceError> {
        let url = self.client.url(&format!("manifests/{}", self.tag));
        let accept = [("Accept", MANIFEST_ACCEPT)];
        let response = self.client.send("HEAD", &url, &accept, &Payload::Empty)?;
        match response.status().as_u16() {
            404 => return Ok(None),
            status if (200..300).contains(&status) => {
                if let Some(digest) = header(&response, "docker-content-digest") {
                    return Ok(Some(digest));
                }
            }
            _ => return Err(status_error("HEAD", &url, response)),
        }
        // Some registries omit the digest header on HEAD: hash the manifest instead.
        let response = self.client.expect("GET", &url, &accept, &Payload::Empty)?;
        Ok(Some(sha256_digest(&Client::read_small(response)?)))
    }

    fn version(&self, digest: &str) -> Version {
        Version::from([
            ("digest".to_owned(), digest.to_owned()),
            ("tag".to_owned(), self.tag.clone()),
        ])
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// `check`: the digest the tag points at now; nothing when the tag does not exist.
pub(crate) fn check(
    _ctx: &Context,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let registry = Registry::connect(request, log)?;
    let Some(digest) = registry.resolve_tag()? else {
        log.line(&format!(
            "tag {} of {} does not exist",
            registry.tag,
            registry.name()
        ));
        return Ok(Vec::new());
    };
    Ok(vec![registry.version(&digest)])
}

/// `in`: fetch the version's image into `dir`.
pub(crate) fn get(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let registry = Registry::connect(request, log)?;
    get::get(ctx, dir, &registry, request, log)
}

/// `out`: push an OCI layout under the source tag.
pub(crate) fn put(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let registry = Registry::connect(request, log)?;
    put::put(ctx, dir, &registry, request, log)
}
