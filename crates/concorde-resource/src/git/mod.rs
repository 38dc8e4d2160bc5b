//! The `git` resource type: commits of one branch, or tags matching a glob, as versions.
//!
//! All work is done by the system `git` binary (and `ssh` for ssh URIs), which is what
//! git-resource does too and what users' `git_config` expects. Credentials never touch the
//! command line or a cloned repository's config: https passwords and ssh key passphrases reach
//! git through an askpass script reading environment variables, and a private key is written to a
//! 0600 temp file named in `GIT_SSH_COMMAND`.

mod check;
mod get;
mod put;
mod runner;

use std::path::Path;

use serde::Deserialize;

use crate::protocol::{Keys, Log};
use crate::{Context, Output, Request, ResourceError, Version};

pub(crate) use runner::Git;

const SOURCE_KEYS: Keys = Keys {
    section: "source",
    supported: &[
        "uri",
        "branch",
        "private_key",
        "private_key_user",
        "private_key_passphrase",
        "username",
        "password",
        "paths",
        "ignore_paths",
        "tag_filter",
        "skip_ssl_verification",
        "git_config",
        "disable_ci_skip",
        "version_depth",
        "fetch_tags",
    ],
    ignored: &[
        "commit_filter",
        "commit_verification_key_ids",
        "commit_verification_keys",
        "debug",
        "forward_agent",
        "git_crypt_key",
        "gpg_keyserver",
        "https_tunnel",
        "search_remote_refs",
        "sparse_paths",
        "submodule_credentials",
        "tag_behaviour",
        "tag_regex",
    ],
    reject_unknown: true,
};

/// The `source` of a git resource.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GitSource {
    #[serde(default)]
    pub uri: String,
    pub branch: Option<String>,
    pub private_key: Option<String>,
    pub private_key_user: Option<String>,
    pub private_key_passphrase: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub ignore_paths: Vec<String>,
    pub tag_filter: Option<String>,
    #[serde(default)]
    pub skip_ssl_verification: bool,
    #[serde(default)]
    pub git_config: Vec<GitConfigEntry>,
    #[serde(default)]
    pub disable_ci_skip: bool,
    pub version_depth: Option<usize>,
}

/// One `git_config` entry, applied as `git -c name=value` to every command.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GitConfigEntry {
    pub name: String,
    pub value: String,
}

impl GitSource {
    fn parse(request: &Request, log: &mut Log<'_>) -> Result<GitSource, ResourceError> {
        let source: GitSource = SOURCE_KEYS.parse(&request.source, log)?;
        if source.uri.trim().is_empty() {
            return Err(ResourceError::MissingKey {
                section: "source",
                key: "uri",
            });
        }
        if source
            .branch
            .as_ref()
            .is_some_and(|branch| branch.starts_with('-'))
        {
            return Err(invalid_source("branch", "must be a branch name"));
        }
        Ok(source)
    }

    fn branch(&self) -> Option<&str> {
        self.branch.as_deref().filter(|branch| !branch.is_empty())
    }
}

fn invalid_source(key: &str, reason: &str) -> ResourceError {
    ResourceError::InvalidKey {
        section: "source",
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

/// `check`: the commits (or tags) from the cursor on, oldest first.
pub(crate) fn check(
    ctx: &Context,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let source = GitSource::parse(request, log)?;
    check::check(ctx, &source, request.version.as_ref(), log)
}

/// `in`: clone the repository into `dir` at the version's ref.
pub(crate) fn get(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let source = GitSource::parse(request, log)?;
    get::get(ctx, dir, &source, request, log)
}

/// `out`: push `params.repository` to the source branch.
pub(crate) fn put(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let source = GitSource::parse(request, log)?;
    put::put(ctx, dir, &source, request, log)
}

/// Whether `text` looks like an object name git may be asked about without option injection.
fn is_object_name(text: &str) -> bool {
    (4..=64).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}
