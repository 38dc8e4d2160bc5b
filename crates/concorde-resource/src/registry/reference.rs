//! Image repository names: `127.0.0.1:5000/busybox`, `ghcr.io/org/app`, or Docker Hub's
//! `busybox` (which means `registry-1.docker.io/library/busybox`).

use crate::ResourceError;

/// Docker Hub's API host; `docker.io` names the same registry.
const DOCKER_HUB: &str = "registry-1.docker.io";

/// A repository on a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// `host[:port]`.
    pub registry: String,
    /// The path inside the registry, e.g. `library/busybox`.
    pub repository: String,
}

impl ImageRef {
    /// Parses `source.repository`. A tag or digest belongs in `source.tag`, not here.
    pub fn parse(text: &str) -> Result<ImageRef, ResourceError> {
        let invalid = |reason: &str| ResourceError::InvalidKey {
            section: "source",
            key: "repository".to_owned(),
            reason: format!("{text:?} {reason}"),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(ResourceError::MissingKey {
                section: "source",
                key: "repository",
            });
        }
        let (first, rest) = text.split_once('/').unwrap_or(("", text));
        let names_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, path) = if names_host {
            (first, rest)
        } else {
            (DOCKER_HUB, text)
        };
        let registry = if registry == "docker.io" || registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if path.contains('@') || path.contains(':') {
            return Err(invalid("must not name a tag or digest; use source.tag"));
        }
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if path.is_empty() || !path.chars().all(valid) || path.split('/').any(str::is_empty) {
            return Err(invalid(
                "is not a repository name (lowercase letters, digits, '.', '_', '-', '/')",
            ));
        }
        Ok(ImageRef {
            registry: registry.to_owned(),
            repository: path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    fn parse(text: &str) -> Option<(String, String)> {
        ImageRef::parse(text)
            .ok()
            .map(|image| (image.registry, image.repository))
    }

    #[test]
    fn repository_names() {
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(
            parse("127.0.0.1:5000/busybox"),
            pair("127.0.0.1:5000", "busybox")
        );
        assert_eq!(parse("localhost/team/app"), pair("localhost", "team/app"));
        assert_eq!(parse("ghcr.io/org/app"), pair("ghcr.io", "org/app"));
        assert_eq!(
            parse("busybox"),
            pair("registry-1.docker.io", "library/busybox")
        );
        assert_eq!(
            parse("docker.io/concourse/git-resource"),
            pair("registry-1.docker.io", "concourse/git-resource")
        );
        assert_eq!(parse("busybox:latest"), None);
        assert_eq!(parse("127.0.0.1:5000/Busybox"), None);
        assert_eq!(parse(""), None);
    }
}
