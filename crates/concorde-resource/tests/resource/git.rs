//! The git type against real repositories in temp dirs: check (first, after a cursor, branch,
//! paths, ci skip, tags), in (ref, depth, helper files, metadata), out (push, rebase, tag) and
//! ssh through a stand-in `ssh` that checks the key it was given.

use std::path::Path;

use serde_json::json;

use crate::support::{Repo, context, metadata_value, refs, run};

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn first_check_returns_only_the_latest_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    repo.commit("one", &[("a.txt", "1")]);
    repo.commit("two", &[("a.txt", "2")]);
    let three = repo.commit("three", &[("a.txt", "3")]);
    let ctx = context(tmp.path());
    let versions = run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": file_uri(&repo.path), "branch": "main"}}),
    )
    .json();
    assert_eq!(refs(&versions), vec![three.clone()]);
    // Without a branch the remote's HEAD is tracked.
    let versions = run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": repo.path}}),
    )
    .json();
    assert_eq!(refs(&versions), vec![three]);
}

#[test]
fn check_after_a_cursor_lists_it_and_everything_newer_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let one = repo.commit("one", &[("a.txt", "1")]);
    let two = repo.commit("two", &[("a.txt", "2")]);
    let three = repo.commit("three", &[("a.txt", "3")]);
    let ctx = context(tmp.path());
    let source = json!({"uri": file_uri(&repo.path), "branch": "main"});
    let check = |cursor: &str| {
        refs(
            &run(
                &ctx,
                "git",
                "check",
                None,
                &json!({"source": source, "version": {"ref": cursor}}),
            )
            .json(),
        )
    };
    assert_eq!(check(&one), vec![one.clone(), two.clone(), three.clone()]);
    assert_eq!(check(&three), vec![three.clone()]);
    // A cursor that no longer exists upstream yields the current latest.
    assert_eq!(
        check("0123456789abcdef0123456789abcdef01234567"),
        vec![three.clone()]
    );
    // New commits show up on the next check, through the reused cache.
    let four = repo.commit("four", &[("a.txt", "4")]);
    assert_eq!(check(&three), vec![three, four]);
}

#[test]
fn check_follows_only_the_configured_branch_and_skips_ci_skip_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let base = repo.commit("base", &[("a.txt", "1")]);
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let feature = repo.commit("feature work", &[("b.txt", "1")]);
    repo.git(&["checkout", "--quiet", "main"]);
    let skipped = repo.commit("docs only [ci skip]", &[("c.txt", "1")]);
    let ctx = context(tmp.path());
    let check = |source: serde_json::Value| {
        refs(
            &run(
                &ctx,
                "git",
                "check",
                None,
                &json!({"source": source, "version": {"ref": base}}),
            )
            .json(),
        )
    };
    assert_eq!(
        check(json!({"uri": file_uri(&repo.path), "branch": "feature"})),
        vec![base.clone(), feature]
    );
    assert_eq!(
        check(json!({"uri": file_uri(&repo.path), "branch": "main"})),
        vec![base.clone()]
    );
    assert_eq!(
        check(json!({"uri": file_uri(&repo.path), "branch": "main", "disable_ci_skip": true})),
        vec![base, skipped]
    );
}

#[test]
fn paths_and_ignore_paths_filter_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let root = repo.commit("root", &[("README", "hi")]);
    let src = repo.commit("src change", &[("src/main.rs", "fn main() {}")]);
    let docs = repo.commit("docs change", &[("docs/guide.md", "guide")]);
    let both = repo.commit("both", &[("src/lib.rs", "lib"), ("docs/api.md", "api")]);
    let ctx = context(tmp.path());
    let uri = file_uri(&repo.path);
    let check = |source: serde_json::Value| {
        refs(
            &run(
                &ctx,
                "git",
                "check",
                None,
                &json!({"source": source, "version": {"ref": root}}),
            )
            .json(),
        )
    };
    assert_eq!(
        check(json!({"uri": uri, "branch": "main", "paths": ["src/*"]})),
        vec![src.clone(), both.clone()]
    );
    assert_eq!(
        check(json!({"uri": uri, "branch": "main", "ignore_paths": ["src"]})),
        vec![root.clone(), docs.clone(), both.clone()]
    );
    assert_eq!(
        check(
            json!({"uri": uri, "branch": "main", "paths": ["src", "docs"], "ignore_paths": ["docs"]})
        ),
        vec![src.clone(), both.clone()]
    );
    // The first check honours the filter too: the latest commit touching docs/guide.md.
    let first = run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": uri, "paths": ["docs/guide.md"]}}),
    )
    .json();
    assert_eq!(refs(&first), vec![docs]);
}

#[test]
fn tag_filter_yields_matching_tags_in_creation_order() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let one = repo.commit("one", &[("a", "1")]);
    repo.git(&["tag", "v1.0.0"]);
    let two = repo.commit("two", &[("a", "2")]);
    repo.git(&["tag", "-a", "-m", "release two", "v2.0.0"]);
    repo.commit("three", &[("a", "3")]);
    repo.git(&["tag", "nightly"]);
    let ctx = context(tmp.path());
    let source = json!({"uri": file_uri(&repo.path), "branch": "main", "tag_filter": "v*"});
    let latest = run(&ctx, "git", "check", None, &json!({"source": source})).json();
    assert_eq!(
        latest,
        json!([{"ref": "v2.0.0", "commit": two}]),
        "annotated tags are peeled to their commit"
    );
    let all = run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": source, "version": {"ref": "v1.0.0", "commit": one}}),
    )
    .json();
    assert_eq!(
        all,
        json!([{"ref": "v1.0.0", "commit": one}, {"ref": "v2.0.0", "commit": two}])
    );
    // Getting a tag version checks out its commit and reports the tag.
    let dest = tmp.path().join("get");
    let output = run(
        &ctx,
        "git",
        "in",
        Some(&dest),
        &json!({"source": source, "version": {"ref": "v1.0.0", "commit": one}}),
    )
    .json();
    assert_eq!(output["version"], json!({"ref": "v1.0.0", "commit": one}));
    assert_eq!(
        std::fs::read_to_string(dest.join(".git/ref")).unwrap(),
        "v1.0.0"
    );
    assert_eq!(metadata_value(&output, "tags").as_deref(), Some("v1.0.0"));
}

#[test]
fn in_clones_at_the_ref_and_writes_metadata_and_helper_files() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    repo.commit("one", &[("a.txt", "1")]);
    let two = repo.commit("two: the interesting one\n\nwith a body", &[("a.txt", "2")]);
    repo.commit("three", &[("a.txt", "3")]);
    let ctx = context(tmp.path());
    let dest = tmp.path().join("get");
    let outcome = run(
        &ctx,
        "git",
        "in",
        Some(&dest),
        &json!({"source": {"uri": file_uri(&repo.path), "branch": "main"}, "version": {"ref": two}}),
    );
    let output = outcome.json();
    assert_eq!(output["version"], json!({"ref": two}));
    assert_eq!(
        std::fs::read_to_string(dest.join("a.txt")).unwrap(),
        "2",
        "the working tree is at the ref"
    );
    assert_eq!(metadata_value(&output, "commit"), Some(two.clone()));
    assert_eq!(
        metadata_value(&output, "author").as_deref(),
        Some("Ada Author")
    );
    assert_eq!(
        metadata_value(&output, "committer").as_deref(),
        Some("Cy Committer")
    );
    assert_eq!(
        metadata_value(&output, "author_date").as_deref(),
        Some("2023-11-14 22:15:20 +0000")
    );
    assert_eq!(metadata_value(&output, "branch").as_deref(), Some("main"));
    assert_eq!(
        metadata_value(&output, "message").as_deref(),
        Some("two: the interesting one\n\nwith a body")
    );
    assert_eq!(
        metadata_value(&output, "tags"),
        None,
        "no tags point at the commit"
    );
    let helper = |name: &str| std::fs::read_to_string(dest.join(".git").join(name)).unwrap();
    assert_eq!(helper("ref"), two);
    assert_eq!(helper("short_ref"), two[..7]);
    assert_eq!(helper("committer"), "ada@example.com");
    assert_eq!(helper("branch"), "main");
    assert_eq!(
        helper("commit_message"),
        "two: the interesting one\n\nwith a body"
    );
    let written: serde_json::Value = serde_json::from_str(&helper("metadata.json")).unwrap();
    assert_eq!(written, output["metadata"]);
    assert!(
        outcome.stderr.contains("Cloning"),
        "progress goes to stderr: {}",
        outcome.stderr
    );
}

#[test]
fn in_with_depth_makes_a_shallow_clone_deepened_until_the_ref_is_present() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let shas: Vec<String> = (0..12)
        .map(|n| repo.commit(&format!("commit {n}"), &[("n", &n.to_string())]))
        .collect();
    let ctx = context(tmp.path());
    let source = json!({"uri": file_uri(&repo.path), "branch": "main"});
    let latest = tmp.path().join("latest");
    run(
        &ctx,
        "git",
        "in",
        Some(&latest),
        &json!({"source": source, "version": {"ref": shas[11]}, "params": {"depth": 1}}),
    )
    .json();
    assert_eq!(
        Repo::open(&latest, tmp.path()).git(&["rev-list", "--count", "HEAD"]),
        "1",
        "depth 1 fetches one commit"
    );
    let older = tmp.path().join("older");
    // Three commits behind the tip: deepened by 1, then 2, which reaches it.
    run(
        &ctx,
        "git",
        "in",
        Some(&older),
        &json!({"source": source, "version": {"ref": shas[8]}, "params": {"depth": 1}}),
    )
    .json();
    let older_repo = Repo::open(&older, tmp.path());
    assert_eq!(older_repo.git(&["rev-parse", "HEAD"]), shas[8]);
    assert_eq!(
        older_repo.git(&["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    assert_eq!(
        older_repo.git(&["rev-list", "--count", "--all"]),
        "4",
        "only the history needed was fetched"
    );
}

/// A remote with one commit, and a put directory holding a `get` of it under `repo/`.
struct PutFixture {
    origin: Repo,
    base: String,
    remote: std::path::PathBuf,
    ctx: concorde_resource::Context,
    source: serde_json::Value,
    put_dir: std::path::PathBuf,
    work: Repo,
}

impl PutFixture {
    fn new(tmp: &Path) -> PutFixture {
        let origin = Repo::init(&tmp.join("origin"), tmp);
        let base = origin.commit("base", &[("a.txt", "1")]);
        let remote = origin.bare_clone(&tmp.join("remote.git"));
        let ctx = context(tmp);
        let source = json!({"uri": file_uri(&remote), "branch": "main"});
        let put_dir = tmp.join("put");
        run(
            &ctx,
            "git",
            "in",
            Some(&put_dir.join("repo")),
            &json!({"source": source, "version": {"ref": base}}),
        )
        .json();
        let work = Repo::open(&put_dir.join("repo"), tmp);
        PutFixture {
            origin,
            base,
            remote,
            ctx,
            source,
            put_dir,
            work,
        }
    }
}

#[test]
fn out_pushes_the_repository_and_returns_the_new_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let PutFixture {
        base,
        remote,
        ctx,
        source,
        put_dir,
        work,
        ..
    } = PutFixture::new(tmp.path());
    work.git(&["checkout", "--quiet", "-B", "main"]);
    let change = work.commit("change", &[("a.txt", "2")]);
    std::fs::write(put_dir.join("tag-name"), "1.2.3\n").unwrap();
    let output = run(&ctx, "git", "out", Some(&put_dir), &json!({"source": source, "params": {"repository": "repo", "tag": "tag-name", "tag_prefix": "v"}})).json();
    assert_eq!(output["version"], json!({"ref": change}));
    let remote_repo = Repo::open(&remote, tmp.path());
    assert_eq!(remote_repo.git(&["rev-parse", "main"]), change);
    assert_eq!(remote_repo.git(&["rev-parse", "v1.2.3^{commit}"]), change);
    // The pushed commit is what the next check reports after the old cursor.
    let versions = run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": source, "version": {"ref": base}}),
    )
    .json();
    assert_eq!(refs(&versions), vec![base, change]);
}

#[test]
fn out_rebases_on_a_rejected_push_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let PutFixture {
        origin,
        remote,
        ctx,
        source,
        put_dir,
        work,
        ..
    } = PutFixture::new(tmp.path());
    work.commit("ours", &[("ours.txt", "ours")]);
    // Someone else pushes first.
    origin.git(&["remote", "add", "upstream", remote.to_str().unwrap()]);
    let theirs = origin.commit("theirs", &[("theirs.txt", "theirs")]);
    origin.git(&["push", "--quiet", "upstream", "main"]);
    let plain = run(
        &ctx,
        "git",
        "out",
        Some(&put_dir),
        &json!({"source": source, "params": {"repository": "repo"}}),
    );
    plain.assert_failed_with("rejected");
    let output = run(&ctx, "git", "out", Some(&put_dir), &json!({"source": source, "params": {"repository": "repo", "rebase": true, "branch": "main"}})).json();
    let pushed = output["version"]["ref"].as_str().unwrap().to_owned();
    assert_eq!(
        output["version"]["branch"], "main",
        "params.branch is echoed in the version"
    );
    let remote_repo = Repo::open(&remote, tmp.path());
    assert_eq!(remote_repo.git(&["rev-parse", "main"]), pushed);
    assert_eq!(
        remote_repo.git(&["rev-parse", "main~1"]),
        theirs,
        "our commit was rebased onto theirs"
    );
    assert_eq!(remote_repo.git(&["show", "main:ours.txt"]), "ours");
}

#[test]
fn ssh_uris_use_the_private_key_through_git_ssh_command() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"), tmp.path());
    let head = repo.commit("one", &[("a.txt", "1")]);
    // A stand-in for ssh: remembers the key file it was given, then runs the remote command
    // locally, which is what sshd would do on the other end.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake_ssh = bin.join("ssh");
    std::fs::write(
        &fake_ssh,
        "#!/bin/sh\nkey=\nwhile [ $# -gt 1 ]; do\n  case \"$1\" in\n    -i) key=$2; shift 2 ;;\n    -o|-l|-p) shift 2 ;;\n    *) shift ;;\n  esac\ndone\ncp \"$key\" \"$RECORD_DIR/key-seen\"\nexec sh -c \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_ssh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let ctx = context(tmp.path())
        .with_var("PATH", path)
        .with_var("RECORD_DIR", tmp.path().as_os_str());
    let key =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----";
    let source = json!({"uri": format!("ssh://git@git.example.invalid{}", repo.path.display()), "branch": "main", "private_key": key});
    let versions = run(&ctx, "git", "check", None, &json!({"source": source})).json();
    assert_eq!(refs(&versions), vec![head]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("key-seen")).unwrap(),
        format!("{key}\n")
    );
    let leftovers: Vec<_> = std::fs::read_dir(ctx.temp_dir())
        .unwrap()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("concorde-git-")
                && !entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("concorde-git-cache")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "the key file is removed after the run: {leftovers:?}"
    );
}

#[test]
fn http_username_and_password_reach_git_through_askpass() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = Repo::init(&tmp.path().join("origin"), tmp.path());
    let base = origin.commit("base", &[("a.txt", "1")]);
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let bare = origin.bare_clone(&served.join("project.git"));
    Repo::open(&bare, tmp.path()).git(&["config", "http.receivepack", "true"]);
    let addr = crate::git_http::serve(&served);
    let ctx = context(tmp.path());
    let source = json!({"uri": format!("http://{addr}/project.git"), "branch": "main", "username": "alice", "password": "wonderland"});
    let versions = run(&ctx, "git", "check", None, &json!({"source": source})).json();
    assert_eq!(refs(&versions), vec![base.clone()]);
    let put_dir = tmp.path().join("put");
    let output = run(
        &ctx,
        "git",
        "in",
        Some(&put_dir.join("repo")),
        &json!({"source": source, "version": {"ref": base}}),
    )
    .json();
    assert_eq!(
        metadata_value(&output, "url"),
        Some(format!("http://{addr}/project/commit/{base}"))
    );
    let config = std::fs::read_to_string(put_dir.join("repo/.git/config")).unwrap();
    assert!(
        !config.contains("wonderland"),
        "the password is not stored in the clone: {config}"
    );
    let change =
        Repo::open(&put_dir.join("repo"), tmp.path()).commit("over http", &[("b.txt", "2")]);
    let pushed = run(
        &ctx,
        "git",
        "out",
        Some(&put_dir),
        &json!({"source": source, "params": {"repository": "repo"}}),
    )
    .json();
    assert_eq!(pushed["version"]["ref"], change.as_str());
    assert_eq!(
        Repo::open(&bare, tmp.path()).git(&["rev-parse", "main"]),
        change
    );
    let mut wrong = source.clone();
    wrong["password"] = json!("guess");
    run(&ctx, "git", "check", None, &json!({"source": wrong})).assert_failed_with("git fetch");
}
