//! The mock type: Concourse's test resource, whose versions come from its source and params.

use serde_json::json;

use crate::support::{context, run};

#[test]
fn check_yields_initial_forced_or_echoed_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let check = |request: serde_json::Value| run(&ctx, "mock", "check", None, &request).json();
    assert_eq!(check(json!({"source": {}})), json!([{"version": "mock"}]));
    assert_eq!(
        check(json!({"source": {"initial_version": "v1"}})),
        json!([{"version": "v1"}])
    );
    assert_eq!(
        check(json!({"source": {"no_initial_version": true}})),
        json!([])
    );
    assert_eq!(
        check(json!({"source": {}, "version": {"version": "from-fly"}})),
        json!([{"version": "from-fly"}])
    );
    assert_eq!(
        check(json!({"source": {"force_version": "forced"}, "version": {"version": "x"}})),
        json!([{"version": "forced"}])
    );
}

#[test]
fn check_failure_fails_with_the_message_and_check_delay_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let failed = run(
        &ctx,
        "mock",
        "check",
        None,
        &json!({"source": {"check_failure": "upstream is down", "log": "checking"}}),
    );
    failed.assert_failed_with("upstream is down");
    assert!(
        failed.stderr.starts_with("checking\n"),
        "log is printed first: {}",
        failed.stderr
    );
    let started = std::time::Instant::now();
    run(
        &ctx,
        "mock",
        "check",
        None,
        &json!({"source": {"check_delay": "200ms"}}),
    )
    .json();
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    run(
        &ctx,
        "mock",
        "check",
        None,
        &json!({"source": {"check_delay": "soon"}}),
    )
    .assert_failed_with("check_delay");
}

#[test]
fn in_writes_the_version_and_the_created_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let dest = tmp.path().join("get");
    let output = run(
        &ctx,
        "mock",
        "in",
        Some(&dest),
        &json!({
            "source": {"create_files": {"a.yml": "foo: bar\n", "nested/b.sh": "echo hi\n"}, "metadata": [{"name": "k", "value": "v"}]},
            "version": {"version": "v7"},
            "params": {"create_files_via_params": {"a.yml": "replaced\n", "c.txt": "c"}},
        }),
    )
    .json();
    assert_eq!(
        output,
        json!({"version": {"version": "v7"}, "metadata": [{"name": "k", "value": "v"}]})
    );
    let read = |name: &str| std::fs::read_to_string(dest.join(name)).unwrap();
    assert_eq!(read("version"), "v7");
    assert_eq!(read("privileged"), "false");
    assert_eq!(read("a.yml"), "replaced\n", "params override source files");
    assert_eq!(read("nested/b.sh"), "echo hi\n");
    assert_eq!(read("c.txt"), "c");
    let escape = run(
        &ctx,
        "mock",
        "in",
        Some(&dest),
        &json!({"source": {"create_files": {"../escape": "x"}}, "version": {"version": "v"}}),
    );
    escape.assert_failed_with("relative paths");
    assert!(!tmp.path().join("escape").exists());
}

#[test]
fn in_can_mirror_itself_as_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path()).with_self_exe("/usr/local/bin/concorde");
    let dest = tmp.path().join("image");
    run(
        &ctx,
        "mock",
        "in",
        Some(&dest),
        &json!({"source": {"mirror_self": true}, "version": {"version": "v"}}),
    )
    .json();
    let metadata: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dest.join("metadata.json")).unwrap())
            .unwrap();
    assert_eq!(metadata, json!({"env": [], "user": ""}));
    let check = std::fs::read_to_string(dest.join("rootfs/opt/resource/check")).unwrap();
    assert!(
        check.contains("exec '/usr/local/bin/concorde' resource mock check \"$@\""),
        "{check}"
    );
}

#[test]
fn out_returns_the_version_from_params_or_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path()).with_var("BUILD_ID", "42");
    let dir = tmp.path().join("put");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/version"), "from-file\n").unwrap();
    let put = |params: serde_json::Value| {
        run(
            &ctx,
            "mock",
            "out",
            Some(&dir),
            &json!({"source": {}, "params": params}),
        )
    };
    assert_eq!(
        put(json!({"version": "v2"})).json(),
        json!({"version": {"version": "v2"}, "metadata": []})
    );
    assert_eq!(
        put(json!({"file": "out/version"})).json()["version"],
        json!({"version": "from-file"})
    );
    let printed = put(json!({"version": "v3", "print_env": true}));
    assert!(
        printed.stderr.contains("BUILD_ID=42"),
        "env goes to stderr: {}",
        printed.stderr
    );
    assert!(
        !printed.stdout.contains("BUILD_ID"),
        "stdout holds only the result"
    );
    put(json!({})).assert_failed_with("params.version is required");
}
