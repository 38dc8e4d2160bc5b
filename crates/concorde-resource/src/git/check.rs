//! `git` check: fetch into a bare cache repository, then list commits (or tags) from the cursor.
//!
//! The cache lives in the scratch directory, keyed by URI and branch, and is reused by later
//! checks the way git-resource keeps `git-resource-repo-cache`; a file lock serialises checks of
//! the same repository when several run on one host.

use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{Git, GitSource, is_object_name};
use crate::protocol::Log;
use crate::{Context, ResourceError, Version};

/// Messages with these markers are not versions unless `disable_ci_skip` is set.
const CI_SKIP_MARKERS: [&str; 2] = ["[ci skip]", "[skip ci]"];

pub(super) fn check(
    ctx: &Context,
    source: &GitSource,
    cursor: Option<&Version>,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let git = Git::new(ctx, source)?;
    let cache = cache_dir(ctx, source);
    let lock_path = cache.with_extension("lock");
    std::fs::create_dir_all(ctx.temp_dir())
        .map_err(|err| ResourceError::io(ctx.temp_dir(), err))?;
    let lock = File::create(&lock_path).map_err(|err| ResourceError::io(&lock_path, err))?;
    lock.lock()
        .map_err(|err| ResourceError::io(&lock_path, err))?;
    if !cache.join("HEAD").exists() {
        git.run(
            None,
            [
                OsStr::new("init"),
                OsStr::new("--bare"),
                OsStr::new("--quiet"),
                cache.as_os_str(),
            ],
            log,
        )?;
    }
    let target = fetch(&git, &cache, source, log)?;
    let depth = source.version_depth.unwrap_or(1).max(1);
    if let Some(filter) = &source.tag_filter {
        return check_tags(&git, &cache, source, filter, &target, cursor, depth, log);
    }
    let cursor_ref = cursor
        .and_then(|version| version.get("ref"))
        .filter(|sha| is_object_name(sha));
    let valid_cursor = cursor_ref.filter(|sha| {
        git.probe(
            Some(&cache),
            ["cat-file", "-e", &format!("{sha}^{{commit}}")],
        ) && git.probe(
            Some(&cache),
            ["merge-base", "--is-ancestor", sha.as_str(), target.as_str()],
        )
    });
    let mut args: Vec<String> = vec![
        "log".into(),
        "--first-parent".into(),
        "--reverse".into(),
        "--format=%H".into(),
    ];
    if !source.disable_ci_skip {
        args.extend(["--fixed-strings".into(), "--invert-grep".into()]);
        args.extend(
            CI_SKIP_MARKERS
                .iter()
                .map(|marker| format!("--grep={marker}")),
        );
    }
    match valid_cursor {
        Some(sha) => args.extend([target.clone(), "--not".into(), format!("{sha}^@")]),
        None => {
            if cursor.is_some() {
                log.line(
                    "the version's ref is no longer on the branch; returning the latest commit",
                );
            }
            args.extend([format!("--max-count={depth}"), target.clone()]);
        }
    }
    args.push("--".into());
    args.extend(source.paths.iter().cloned());
    args.extend(
        source
            .ignore_paths
            .iter()
            .map(|path| format!(":(exclude){path}")),
    );
    let commits = git.run(Some(&cache), &args, log)?;
    Ok(commits
        .lines()
        .map(|sha| Version::from([("ref".to_owned(), sha.to_owned())]))
        .collect())
}

/// Tag mode: tags matching `filter` (merged into the branch when one is set), by creation date.
#[allow(clippy::too_many_arguments)]
fn check_tags(
    git: &Git<'_>,
    cache: &std::path::Path,
    source: &GitSource,
    filter: &str,
    target: &str,
    cursor: Option<&Version>,
    depth: usize,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let mut args = vec![
        "tag".to_owned(),
        "--list".to_owned(),
        "--sort=creatordate".to_owned(),
        "--format=%(refname:strip=2)%09%(objectname)%09%(*objectname)".to_owned(),
    ];
    if source.branch().is_some() {
        args.push(format!("--merged={target}"));
    }
    args.push(filter.to_owned());
    let listing = git.run(Some(cache), &args, log)?;
    let tags: Vec<Version> = listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let tag = fields.next()?;
            let object = fields.next()?;
            let peeled = fields
                .next()
                .filter(|peeled| !peeled.is_empty())
                .unwrap_or(object);
            Some(Version::from([
                ("ref".to_owned(), tag.to_owned()),
                ("commit".to_owned(), peeled.to_owned()),
            ]))
        })
        .collect();
    let from = cursor
        .and_then(|cursor| cursor.get("ref"))
        .and_then(|wanted| tags.iter().position(|tag| tag.get("ref") == Some(wanted)));
    let start = from.unwrap_or_else(|| tags.len().saturating_sub(depth));
    Ok(tags[start..].to_vec())
}

/// Fetches the tracked branch (or the remote's HEAD) and all tags; returns the local ref name.
fn fetch(
    git: &Git<'_>,
    cache: &std::path::Path,
    source: &GitSource,
    log: &mut Log<'_>,
) -> Result<String, ResourceError> {
    let (remote_ref, local_ref) = match source.branch() {
        Some(branch) => (
            format!("refs/heads/{branch}"),
            format!("refs/remotes/origin/{branch}"),
        ),
        None => ("HEAD".to_owned(), "refs/remotes/origin/HEAD".to_owned()),
    };
    git.run(
        Some(cache),
        [
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--no-write-fetch-head",
            "--",
            source.uri.as_str(),
            &format!("+{remote_ref}:{local_ref}"),
            "+refs/tags/*:refs/tags/*",
        ],
        log,
    )?;
    Ok(local_ref)
}

fn cache_dir(ctx: &Context, source: &GitSource) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(source.uri.as_bytes());
    hasher.update([0]);
    hasher.update(source.branch().unwrap_or_default().as_bytes());
    let digest = format!("{:x}", hasher.finalize());
    ctx.temp_dir()
        .join(format!("concorde-git-cache-{}", &digest[..16]))
}
