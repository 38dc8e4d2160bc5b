//! `git` in: clone into the destination at the version's ref, write git-resource's helper
//! files under `.git/`, and report the commit's metadata.

use std::ffi::OsStr;
use std::path::Path;

use serde::Deserialize;

use super::{Git, GitSource};
use crate::protocol::{Keys, Log};
use crate::{Context, MetadataField, Output, Request, ResourceError};

const PARAM_KEYS: Keys = Keys {
    section: "params",
    supported: &[
        "depth",
        "submodules",
        "short_ref_format",
        "fetch_tags",
        "clean_tags",
    ],
    ignored: &[
        "all_branches",
        "debug",
        "describe_ref_options",
        "disable_git_lfs",
        "fetch",
        "submodule_recursive",
        "submodule_remote",
        "timestamp_format",
    ],
    reject_unknown: true,
};

#[derive(Debug, Default, Deserialize)]
struct GetParams {
    depth: Option<u32>,
    submodules: Option<serde_json::Value>,
    short_ref_format: Option<String>,
}

/// One commit's facts, in git-resource's metadata names.
#[derive(Debug, Clone, Default)]
pub(super) struct CommitInfo {
    pub sha: String,
    pub author: String,
    pub author_email: String,
    pub author_date: String,
    pub committer: String,
    pub committer_date: String,
    pub committer_date_strict: String,
    pub message: String,
    pub tags: Vec<String>,
}

pub(super) fn get(
    ctx: &Context,
    dir: &Path,
    source: &GitSource,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let params: GetParams = PARAM_KEYS.parse(&request.params, log)?;
    let version = request.version.clone().ok_or(ResourceError::MissingKey {
        section: "version",
        key: "ref",
    })?;
    let reference = version.get("ref").filter(|reference| !reference.is_empty());
    let reference = reference
        .ok_or(ResourceError::MissingKey {
            section: "version",
            key: "ref",
        })?
        .clone();
    // In tag mode the version also names the commit; prefer it, it cannot move.
    let wanted = version
        .get("commit")
        .cloned()
        .unwrap_or_else(|| reference.clone());
    if wanted.starts_with('-') {
        return Err(ResourceError::RefNotFound(wanted));
    }
    let git = Git::new(ctx, source)?;
    let mut clone: Vec<&OsStr> = vec![OsStr::new("clone"), OsStr::new("--quiet")];
    let depth_arg = params
        .depth
        .filter(|depth| *depth > 0)
        .map(|depth| format!("--depth={depth}"));
    if let Some(depth_arg) = &depth_arg {
        clone.push(OsStr::new(depth_arg));
    }
    if let Some(branch) = source.branch() {
        clone.extend([
            OsStr::new("--single-branch"),
            OsStr::new("--branch"),
            OsStr::new(branch),
        ]);
    }
    clone.extend([OsStr::new("--"), OsStr::new(&source.uri), dir.as_os_str()]);
    log.line(&format!("Cloning {} at {reference}", source.uri));
    git.run(None, clone, log)?;
    let branch = match source.branch() {
        Some(branch) => branch.to_owned(),
        None => git
            .run(Some(dir), ["symbolic-ref", "--short", "-q", "HEAD"], log)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    };
    let commit_ref = format!("{wanted}^{{commit}}");
    deepen_until_found(&git, dir, &commit_ref, params.depth.unwrap_or(1), log)?;
    if !git.probe(Some(dir), ["cat-file", "-e", &commit_ref]) {
        // A ref outside the cloned branch (say, a tag on another branch): fetch it directly.
        let fetched = git.try_run(Some(dir), ["fetch", "--quiet", "origin", &wanted], log)?;
        if !fetched.success() || !git.probe(Some(dir), ["cat-file", "-e", &commit_ref]) {
            return Err(ResourceError::RefNotFound(wanted));
        }
    }
    git.run(Some(dir), ["checkout", "--quiet", &wanted], log)?;
    if dir.join(".gitmodules").exists() {
        update_submodules(&git, dir, params.submodules.as_ref(), log)?;
    }
    let info = commit_info(&git, dir, "HEAD", log)?;
    let url = commit_url(&source.uri, &info.sha);
    let metadata = metadata(
        &info,
        Some(branch.as_str()).filter(|branch| !branch.is_empty()),
        url.as_deref(),
    );
    let short_format = params.short_ref_format.as_deref().unwrap_or("%s");
    let short_ref: String = reference.chars().take(7).collect();
    let describe = git.try_run(
        Some(dir),
        ["describe", "--tags", "--always", "--dirty", "--broken"],
        log,
    )?;
    let files: [(&str, String); 15] = [
        ("ref", reference.clone()),
        ("short_ref", short_format.replacen("%s", &short_ref, 1)),
        ("commit", info.sha.clone()),
        ("committer", info.author_email.clone()),
        ("committer_name", info.author.clone()),
        ("author", info.author.clone()),
        ("author_date", info.author_date.clone()),
        ("committer_date", info.committer_date.clone()),
        ("commit_timestamp", info.committer_date_strict.clone()),
        ("commit_message", info.message.clone()),
        ("branch", branch),
        ("tags", info.tags.join(",")),
        ("url", url.unwrap_or_default()),
        ("describe_ref", describe.stdout.trim().to_owned()),
        ("metadata.json", serde_json::to_string(&metadata)?),
    ];
    for (name, contents) in files {
        let path = dir.join(".git").join(name);
        std::fs::write(&path, contents).map_err(|err| ResourceError::io(&path, err))?;
    }
    Ok(Output { version, metadata })
}

/// After a shallow clone, fetch more history until the wanted commit is present, doubling the
/// depth each time so a far-back ref costs few round trips and a near one little history.
fn deepen_until_found(
    git: &Git<'_>,
    dir: &Path,
    commit_ref: &str,
    depth: u32,
    log: &mut Log<'_>,
) -> Result<(), ResourceError> {
    let mut deepen_by = depth.max(1);
    while !git.probe(Some(dir), ["cat-file", "-e", commit_ref]) {
        let shallow = git.run(Some(dir), ["rev-parse", "--is-shallow-repository"], log)?;
        if shallow.trim() != "true" {
            return Ok(());
        }
        log.line(&format!(
            "Deepening the shallow clone by {deepen_by} commits"
        ));
        git.run(
            Some(dir),
            ["fetch", "--quiet", &format!("--deepen={deepen_by}")],
            log,
        )?;
        deepen_by = deepen_by.saturating_mul(2);
    }
    Ok(())
}

fn update_submodules(
    git: &Git<'_>,
    dir: &Path,
    submodules: Option<&serde_json::Value>,
    log: &mut Log<'_>,
) -> Result<(), ResourceError> {
    let mut args = vec![
        "submodule".to_owned(),
        "update".to_owned(),
        "--init".to_owned(),
        "--recursive".to_owned(),
    ];
    match submodules {
        None => {}
        Some(serde_json::Value::String(mode)) if mode == "all" => {}
        Some(serde_json::Value::String(mode)) if mode == "none" => return Ok(()),
        Some(serde_json::Value::Array(paths)) => {
            args.push("--".to_owned());
            for path in paths {
                let path = path.as_str().ok_or_else(|| ResourceError::InvalidKey {
                    section: "params",
                    key: "submodules".to_owned(),
                    reason: "expected \"all\", \"none\" or a list of paths".to_owned(),
                })?;
                args.push(path.to_owned());
            }
        }
        Some(_) => {
            return Err(ResourceError::InvalidKey {
                section: "params",
                key: "submodules".to_owned(),
                reason: "expected \"all\", \"none\" or a list of paths".to_owned(),
            });
        }
    }
    git.run(Some(dir), &args, log).map(|_| ())
}

/// Reads one commit's facts.
pub(super) fn commit_info(
    git: &Git<'_>,
    dir: &Path,
    rev: &str,
    log: &mut Log<'_>,
) -> Result<CommitInfo, ResourceError> {
    let format = "--format=%H%x00%an%x00%ae%x00%ai%x00%cn%x00%ci%x00%cI%x00%B";
    let output = git.run(Some(dir), ["log", "-1", format, rev, "--"], log)?;
    let mut fields = output.splitn(8, '\0').map(str::to_owned);
    let mut next = || fields.next().unwrap_or_default();
    let mut info = CommitInfo {
        sha: next(),
        author: next(),
        author_email: next(),
        author_date: next(),
        committer: next(),
        committer_date: next(),
        committer_date_strict: next(),
        message: next().trim_end().to_owned(),
        tags: Vec::new(),
    };
    let tags = git.run(Some(dir), ["tag", "--points-at", &info.sha], log)?;
    info.tags = tags.lines().map(str::to_owned).collect();
    Ok(info)
}

/// The metadata git-resource reports for a commit.
pub(super) fn metadata(
    info: &CommitInfo,
    branch: Option<&str>,
    url: Option<&str>,
) -> Vec<MetadataField> {
    let mut fields = vec![
        MetadataField::new("commit", &info.sha),
        MetadataField::new("author", &info.author),
        MetadataField::typed("author_date", &info.author_date, "time"),
    ];
    if info.committer != info.author {
        fields.push(MetadataField::new("committer", &info.committer));
    }
    fields.push(MetadataField::typed(
        "committer_date",
        &info.committer_date,
        "time",
    ));
    if let Some(branch) = branch {
        fields.push(MetadataField::new("branch", branch));
    }
    if !info.tags.is_empty() {
        fields.push(MetadataField::new("tags", info.tags.join(",")));
    }
    fields.push(MetadataField::typed("message", &info.message, "message"));
    if let Some(url) = url {
        fields.push(MetadataField::new("url", url));
    }
    fields
}

/// A browsable commit URL for http(s) remotes (GitHub, GitLab and Gitea all use this shape).
pub(super) fn commit_url(uri: &str, sha: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let rest = rest
        .rsplit_once('@')
        .map_or(rest, |(_, host_and_path)| host_and_path);
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    Some(format!("{scheme}://{rest}/commit/{sha}"))
}

#[cfg(test)]
mod tests {
    use super::commit_url;

    #[test]
    fn commit_urls_only_for_http_remotes() {
        assert_eq!(
            commit_url("https://user:pw@example.com/org/repo.git", "abc").as_deref(),
            Some("https://example.com/org/repo/commit/abc")
        );
        assert_eq!(commit_url("git@example.com:org/repo.git", "abc"), None);
        assert_eq!(commit_url("file:///tmp/repo", "abc"), None);
    }
}
