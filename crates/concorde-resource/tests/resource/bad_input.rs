//! Bad input never panics: it ends with a message on stderr, nothing on stdout and exit 1.

use serde_json::json;

use crate::support::{context, run, run_raw};

#[test]
fn non_json_stdin_fails_cleanly_for_every_type() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    for ty in ["git", "time", "mock", "registry-image"] {
        run_raw(&ctx, ty, "check", None, b"this is not json").assert_failed_with("invalid request on stdin");
        run_raw(&ctx, ty, "check", None, b"").assert_failed_with("invalid request on stdin");
        run_raw(&ctx, ty, "in", Some(&tmp.path().join("d")), b"[1, 2]").assert_failed_with("invalid request on stdin");
    }
}

#[test]
fn missing_and_unknown_source_keys_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    run(&ctx, "git", "check", None, &json!({"source": {}})).assert_failed_with("source.uri is required");
    run(&ctx, "git", "check", None, &json!({"source": {"uri": "file:///x", "colour": "blue"}}))
        .assert_failed_with("found unknown keys in source: colour");
    run(&ctx, "git", "check", None, &json!({"source": {"uri": "file:///x", "paths": "not-a-list"}}))
        .assert_failed_with("invalid source");
    run(&ctx, "git", "in", Some(&tmp.path().join("d")), &json!({"source": {"uri": "file:///x"}}))
        .assert_failed_with("version.ref is required");
    run(&ctx, "git", "check", None, &json!({"source": {"uri": format!("file://{}", tmp.path().join("missing").display())}}))
        .assert_failed_with("git fetch");
}

#[test]
fn unknown_types_actions_and_missing_directories_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    run(&ctx, "svn", "check", None, &json!({})).assert_failed_with("unknown resource type \"svn\"");
    run(&ctx, "git", "fetch", None, &json!({})).assert_failed_with("unknown action \"fetch\"");
    run(&ctx, "mock", "in", None, &json!({"source": {}, "version": {"version": "v"}}))
        .assert_failed_with("in needs a directory");
}
