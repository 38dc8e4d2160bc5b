//! The one error type of the resource scripts; [`crate::run`] prints it on stderr and exits 1.

use std::path::{Path, PathBuf};

/// Why a resource script failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// The type name is not one of the built-ins.
    #[error("unknown resource type {0:?} (built-in types: git, time, mock, registry-image)")]
    UnknownType(String),
    /// The action is not `check`, `in` or `out`.
    #[error("unknown action {0:?} (expected check, in or out)")]
    UnknownAction(String),
    /// `in` and `out` need their directory as the first argument.
    #[error("{0} needs a directory as its first argument")]
    MissingDirectory(&'static str),
    /// Stdin did not hold a request object.
    #[error("invalid request on stdin: {0}")]
    InvalidRequest(#[source] serde_json::Error),
    /// Keys this type does not know (git-resource rejects them the same way).
    #[error("found unknown keys in {section}: {}", keys.join(", "))]
    UnknownKeys {
        /// `source` or `params`.
        section: &'static str,
        /// The offending keys, sorted.
        keys: Vec<String>,
    },
    /// A required key is absent or empty.
    #[error("{section}.{key} is required and must not be empty")]
    MissingKey {
        /// `source`, `params` or `version`.
        section: &'static str,
        /// The key.
        key: &'static str,
    },
    /// A key has a value of the wrong shape.
    #[error("invalid {section}.{key}: {reason}")]
    InvalidKey {
        /// `source`, `params` or `version`.
        section: &'static str,
        /// The key, or the whole section when serde could not say which.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A git command exited non-zero; its stderr has already been forwarded to the log.
    #[error("{command} failed ({status})")]
    Git {
        /// The command line, without credentials.
        command: String,
        /// How it exited.
        status: String,
    },
    /// A program the type needs could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// The requested git ref is not in the repository.
    #[error("ref {0} not found in the repository")]
    RefNotFound(String),
    /// The mock resource was told to fail its checks.
    #[error("{0}")]
    CheckFailure(String),
    /// The registry answered with an unexpected status.
    #[error("registry answered {status} for {method} {url}: {body}")]
    Registry {
        /// The request method.
        method: &'static str,
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (registry errors are JSON there).
        body: String,
    },
    /// An image, manifest or layout that cannot be used.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// A blob's content does not match its digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the manifest names.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The registry could not be reached or spoke broken HTTP.
    #[error("http: {0}")]
    Http(#[from] ureq::Error),
    /// A file or directory operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading stdin or writing stdout failed.
    #[error(transparent)]
    Stdio(#[from] std::io::Error),
    /// A JSON value could not be encoded or decoded.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl ResourceError {
    /// Wraps an IO error with the path it happened on.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ResourceError {
        ResourceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
