//! Bad input never panics: it ends with a message on stderr, nothing on stdout and exit 1.

use serde_json::json;

use crate::support::{context, run, run_raw};

#[test]
fn non_json_stdin_fails_cleanly_for_every_type() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    for ty in ["git", "time", "mock", "registry-image"] {
        run_raw(&ctx, ty, "check", None, b"this is not json")
            .assert_failed_with("invalid request on stdin");
        run_raw(&ctx, ty, "check", None, b"").assert_failed_with("invalid request on stdin");
        run_raw(&ctx, ty, "in", Some(&tmp.path().join("d")), b"[1, 2]")
            .assert_failed_with("invalid request on stdin");
    }
}

#[test]
fn missing_and_unknown_source_keys_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    run(&ctx, "git", "check", None, &json!({"source": {}}))
        .assert_failed_with("source.uri is required");
    run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": "file:///x", "colour": "blue"}}),
    )
    .assert_failed_with("found unknown keys in source: colour");
    run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": "file:///x", "paths": "not-a-list"}}),
    )
    .assert_failed_with("invalid source");
    run(
        &ctx,
        "git",
        "in",
        Some(&tmp.path().join("d")),
        &json!({"source": {"uri": "file:///x"}}),
    )
    .assert_failed_with("version.ref is required");
    run(
        &ctx,
        "git",
        "check",
        None,
        &json!({"source": {"uri": format!("file://{}", tmp.path().join("missing").display())}}),
    )
    .assert_failed_with("git fetch");
}

#[test]
fn unknown_types_actions_and_missing_directories_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    run(&ctx, "svn", "check", None, &json!({})).assert_failed_with("unknown resource type \"svn\"");
    run(&ctx, "git", "fetch", None, &json!({})).assert_failed_with("unknown action \"fetch\"");
    run(
        &ctx,
        "mock",
        "in",
        None,
        &json!({"source": {}, "version": {"version": "v"}}),
    )
    .assert_failed_with("in needs a directory");
}

#[test]
fn malformed_requests_never_panic_and_never_print_a_result() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let requests = [
        json!({"source": []}),
        json!({"source": "uri"}),
        json!({"source": {"uri": 7, "repository": ["x"], "interval": {}, "initial_version": 3}}),
        json!({"source": {"uri": "file:///nowhere", "repository": "127.0.0.1:1/x", "insecure": true}, "version": {"ref": {"nested": true}}}),
        json!({"source": {"uri": "-oProxyCommand=touch /tmp/pwned", "repository": "UPPER/case"}, "version": {"ref": "--help", "digest": "../../etc/passwd", "time": "yesterday"}}),
        json!({"source": {"start": "é12", "stop": "0200", "location": "", "days": [1]}, "params": {"depth": -1, "format": "zip", "repository": "../.."}}),
        json!({"source": {"repository": "127.0.0.1:1/x", "insecure": true, "tag": "../../x"}, "version": {"digest": "sha256:zz/../.."}}),
        json!(null),
        json!(42),
    ];
    for ty in ["git", "time", "mock", "registry-image"] {
        for action in ["check", "in", "out"] {
            for request in &requests {
                let dir = tmp.path().join(format!("{ty}-{action}"));
                let outcome = run(&ctx, ty, action, Some(&dir), request);
                if outcome.code != 0 {
                    assert_eq!(outcome.code, 1);
                    assert!(
                        outcome.stdout.is_empty(),
                        "{ty} {action} {request}: {}",
                        outcome.stdout
                    );
                    assert!(
                        outcome.stderr.contains("error: "),
                        "{ty} {action} {request}: {}",
                        outcome.stderr
                    );
                }
            }
        }
    }
    assert!(
        !std::path::Path::new("/tmp/pwned").exists(),
        "option-looking URIs are never options"
    );
}
