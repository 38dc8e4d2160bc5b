//! `git` out: push the repository named by `params.repository` to the source branch, with
//! optional tag, rebase/merge retry on a non-fast-forward, and force.

use std::path::Path;

use serde::Deserialize;

use super::get::{commit_info, commit_url, metadata};
use super::{Git, GitSource};
use crate::protocol::{Keys, Log};
use crate::{Context, Output, Request, ResourceError, Version};

const PARAM_KEYS: Keys = Keys {
    section: "params",
    supported: &[
        "repository",
        "branch",
        "rebase",
        "merge",
        "force",
        "tag",
        "tag_prefix",
        "annotate",
        "only_tag",
    ],
    ignored: &[
        "debug",
        "notes",
        "push_options",
        "rebase_strategy",
        "rebase_strategy_option",
        "refs_prefix",
        "returning",
    ],
    reject_unknown: true,
};

/// How many times a rejected push is rebased (or merged) and retried before giving up.
const PUSH_ATTEMPTS: u32 = 10;

#[derive(Debug, Default, Deserialize)]
struct PutParams {
    #[serde(default)]
    repository: String,
    branch: Option<String>,
    #[serde(default)]
    rebase: bool,
    #[serde(default)]
    merge: bool,
    #[serde(default)]
    force: bool,
    tag: Option<String>,
    #[serde(default)]
    tag_prefix: String,
    annotate: Option<String>,
    #[serde(default)]
    only_tag: bool,
}

pub(super) fn put(
    ctx: &Context,
    dir: &Path,
    source: &GitSource,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let params: PutParams = PARAM_KEYS.parse(&request.params, log)?;
    if params.repository.trim().is_empty() {
        return Err(ResourceError::MissingKey {
            section: "params",
            key: "repository",
        });
    }
    if params.rebase && params.merge {
        return Err(ResourceError::InvalidKey {
            section: "params",
            key: "rebase".to_owned(),
            reason: "rebase and merge cannot both be set".to_owned(),
        });
    }
    let branch = params
        .branch
        .as_deref()
        .or(source.branch())
        .filter(|branch| !branch.is_empty());
    let branch = branch
        .ok_or(ResourceError::MissingKey {
            section: "source",
            key: "branch",
        })?
        .to_owned();
    if branch.starts_with('-') {
        return Err(ResourceError::InvalidKey {
            section: "params",
            key: "branch".to_owned(),
            reason: "must be a branch name".to_owned(),
        });
    }
    let repo = dir.join(&params.repository);
    if !repo.is_dir() {
        return Err(ResourceError::io(
            &repo,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "repository directory not found",
            ),
        ));
    }
    let git = Git::new(ctx, source)?;
    let identity = identity_args(&git, &repo);
    let tag = match &params.tag {
        Some(tag_file) => Some(read_tag(dir, tag_file, &params.tag_prefix)?),
        None => None,
    };
    if !params.only_tag {
        push_branch(&git, &repo, source, &branch, &params, &identity, log)?;
    }
    if let Some(tag) = &tag {
        let mut args: Vec<String> = identity.clone();
        args.extend(["tag".to_owned(), "--force".to_owned()]);
        if let Some(annotation) = &params.annotate {
            args.extend([
                "--annotate".to_owned(),
                format!("--file={}", dir.join(annotation).display()),
            ]);
        }
        args.extend([tag.clone(), "HEAD".to_owned()]);
        git.run(Some(&repo), &args, log)?;
        let mut push = vec!["push".to_owned(), "--quiet".to_owned()];
        if params.force {
            push.push("--force".to_owned());
        }
        push.extend([
            "--".to_owned(),
            source.uri.clone(),
            format!("refs/tags/{tag}"),
        ]);
        git.run(Some(&repo), &push, log)?;
    }
    let info = commit_info(&git, &repo, "HEAD", log)?;
    let mut version = Version::from([("ref".to_owned(), info.sha.clone())]);
    if params.branch.is_some() {
        version.insert("branch".to_owned(), branch.clone());
    }
    let url = commit_url(&source.uri, &info.sha);
    Ok(Output {
        version,
        metadata: metadata(&info, Some(&branch), url.as_deref()),
    })
}

fn push_branch(
    git: &Git<'_>,
    repo: &Path,
    source: &GitSource,
    branch: &str,
    params: &PutParams,
    identity: &[String],
    log: &mut Log<'_>,
) -> Result<(), ResourceError> {
    let target = format!("HEAD:refs/heads/{branch}");
    for attempt in 1..=PUSH_ATTEMPTS {
        let mut push = vec!["push", "--quiet"];
        if params.force {
            push.push("--force");
        }
        push.extend(["--", source.uri.as_str(), target.as_str()]);
        log.line(&format!("Pushing to {} {branch}", source.uri));
        let pushed = git.try_run(Some(repo), &push, log)?;
        if pushed.success() {
            return Ok(());
        }
        if !(params.rebase || params.merge) || attempt == PUSH_ATTEMPTS {
            return Err(ResourceError::Git {
                command: format!("git push {target}"),
                status: "rejected".to_owned(),
            });
        }
        let remote = format!("refs/heads/{branch}");
        git.run(
            Some(repo),
            [
                "fetch",
                "--quiet",
                "--",
                source.uri.as_str(),
                remote.as_str(),
            ],
            log,
        )?;
        let mut integrate: Vec<String> = identity.to_vec();
        if params.rebase {
            log.line("Push rejected; rebasing onto the remote branch");
            integrate.extend(["rebase".to_owned(), "FETCH_HEAD".to_owned()]);
            if git.try_run(Some(repo), &integrate, log)?.success() {
                continue;
            }
            // Leave the repository as it was before the failed rebase.
            let _ = git.try_run(Some(repo), ["rebase", "--abort"], log);
        } else {
            log.line("Push rejected; merging the remote branch");
            integrate.extend([
                "merge".to_owned(),
                "--no-edit".to_owned(),
                "FETCH_HEAD".to_owned(),
            ]);
            if git.try_run(Some(repo), &integrate, log)?.success() {
                continue;
            }
            let _ = git.try_run(Some(repo), ["merge", "--abort"], log);
        }
        return Err(ResourceError::Git {
            command: "git rebase/merge onto the remote branch".to_owned(),
            status: "conflict".to_owned(),
        });
    }
    Ok(())
}

/// `-c user.name=git -c user.email=git@localhost` when the repository has no identity, as
/// git-resource's image configures globally; rebases, merges and annotated tags need one.
fn identity_args(git: &Git<'_>, repo: &Path) -> Vec<String> {
    if git.probe(Some(repo), ["config", "user.email"]) {
        return Vec::new();
    }
    ["-c", "user.name=git", "-c", "user.email=git@localhost"]
        .map(str::to_owned)
        .to_vec()
}

fn read_tag(dir: &Path, tag_file: &str, prefix: &str) -> Result<String, ResourceError> {
    let path = dir.join(tag_file);
    let tag = std::fs::read_to_string(&path).map_err(|err| ResourceError::io(&path, err))?;
    let tag = format!("{prefix}{}", tag.trim());
    if tag.is_empty() || tag.starts_with('-') {
        return Err(ResourceError::InvalidKey {
            section: "params",
            key: "tag".to_owned(),
            reason: format!("{} holds no usable tag name", path.display()),
        });
    }
    Ok(tag)
}
