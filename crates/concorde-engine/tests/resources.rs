//! Resource steps through real scripts on the host runtime: get, put with its implicit get,
//! caches, and scripts that misbehave (non-JSON, hanging, flooding stderr, failing).

mod common;

use common::{Harness, job};
use concorde_engine::{BaseResourceType, BuildStatus, RunEnv, ScriptCommand};
use concorde_worker::ImageSpec;

/// A resource type whose check/in/out are one shell script: `$1` is the action, `$2` the dir.
/// `in` writes the version into `$2/version`; `out` reads `$2/<artifact>/value` back.
const GOOD: &str = r#"
read -r request
case "$1" in
  check) echo '[{"v":"1"},{"v":"2"}]' ;;
  in) v=$(echo "$request" | sed -n 's/.*"v":"\([^"]*\)".*/\1/p'); echo "$v" > "$2/version"; echo "fetching $v" >&2; echo "{\"version\":{\"v\":\"$v\"},\"metadata\":[{\"name\":\"n\",\"value\":\"$v\"}]}" ;;
  out) v=$(cat "$2"/*/value); echo "pushing $v" >&2; echo "{\"version\":{\"v\":\"$v\"}}" ;;
esac
"#;

fn script_type(name: &str, script: &str) -> BaseResourceType {
    BaseResourceType {
        name: name.to_owned(),
        image: ImageSpec::None,
        command: ScriptCommand::Binary {
            path: "/bin/sh".into(),
            args_prefix: vec!["-c".to_owned(), script.to_owned(), "resource".to_owned()],
        },
        privileged: false,
    }
}

/// A harness whose worker provides the test types.
fn harness() -> Harness {
    Harness::new().with_base_types(test_types())
}

fn no_changes(_: &mut RunEnv) {}

fn test_types() -> Vec<BaseResourceType> {
    let mut types = Vec::new();
    for (name, script) in [
        ("good", GOOD),
        ("nonjson", "read -r request; echo 'this is not json'"),
        ("hang", "read -r request; sleep 60"),
        (
            "flood",
            "read -r request; head -c 20000000 /dev/zero | tr '\\0' x >&2; echo '{\"version\":{\"v\":\"1\"}}'",
        ),
        ("failing", "read -r request; echo 'no such ref' >&2; exit 1"),
        ("nullversion", "read -r request; echo '{\"version\":null}'"),
    ] {
        types.push(script_type(name, script));
    }
    types
}

fn pipeline(kind: &str, plan: &str) -> String {
    format!(
        "resources:\n- name: r\n  type: {kind}\n  source: {{}}\n{}",
        job(plan)
    )
}

#[tokio::test]
async fn get_fetches_the_latest_version_and_tasks_see_it() {
    let harness = harness();
    let plan = "  - get: r\n  - task: t\n    config: {platform: linux, inputs: [{name: r}], run: {path: cat, args: [r/version]}}\n";
    let finished = harness.run(1, &pipeline("good", plan), no_changes).await;
    assert_eq!(
        finished.status,
        BuildStatus::Succeeded,
        "{:?}",
        finished.errors()
    );
    assert_eq!(finished.log, "fetching 2\n2\n");
    assert!(finished.event_types().contains(&"finish-get"));
}

#[tokio::test]
async fn a_cached_version_is_not_fetched_again() {
    let harness = harness();
    let plan = "  - get: r\n    version: {v: '1'}\n";
    let first = harness.run(1, &pipeline("good", plan), no_changes).await;
    assert_eq!(first.log, "fetching 1\n");
    let second = harness.run(2, &pipeline("good", plan), no_changes).await;
    assert_eq!(second.status, BuildStatus::Succeeded);
    assert_eq!(second.log, "INFO: found existing resource cache\n\n");
}

#[tokio::test]
async fn put_detects_its_inputs_and_the_implicit_get_fetches_what_it_made() {
    let harness = harness();
    let plan = "  - task: make\n    config: {platform: linux, outputs: [{name: out}], run: {path: sh, args: [-c, 'echo 7 > out/value']}}\n  - put: r\n    params: {file: out/value}\n  - task: t\n    config: {platform: linux, inputs: [{name: r}], run: {path: cat, args: [r/version]}}\n";
    let finished = harness.run(1, &pipeline("good", plan), no_changes).await;
    assert_eq!(
        finished.status,
        BuildStatus::Succeeded,
        "{} {:?}",
        finished.log,
        finished.errors()
    );
    assert_eq!(finished.log, "pushing 7\nfetching 7\n7\n");
    assert!(finished.event_types().contains(&"finish-put"));
}

#[tokio::test]
async fn a_put_naming_a_missing_input_errors() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("good", "  - put: r\n    inputs: [nowhere]\n"),
            no_changes,
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert_eq!(finished.errors(), vec!["input not found: nowhere"]);
}

#[tokio::test]
async fn a_script_printing_non_json_errors_the_step() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("nonjson", "  - get: r\n    version: {v: '1'}\n"),
            no_changes,
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    let errors = finished.errors();
    assert!(
        errors[0]
            .starts_with("resource script (/opt/resource/in /tmp/build/get) output invalid JSON"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_null_version_errors_the_step() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("nullversion", "  - get: r\n    version: {v: '1'}\n"),
            no_changes,
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert_eq!(
        finished.errors(),
        vec!["resource script (/opt/resource/in /tmp/build/get) output a null version"]
    );
}

#[tokio::test]
async fn a_failing_script_fails_the_step_with_its_stderr_logged() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("failing", "  - get: r\n    version: {v: '1'}\n"),
            no_changes,
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Failed);
    assert_eq!(finished.log, "no such ref\n");
}

#[tokio::test]
async fn a_hanging_script_is_cut_off_by_the_step_timeout() {
    let harness = harness();
    let started = std::time::Instant::now();
    let finished = harness
        .run(
            1,
            &pipeline(
                "hang",
                "  - get: r\n    version: {v: '1'}\n    timeout: 300ms\n",
            ),
            no_changes,
        )
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(finished.status, BuildStatus::Failed);
    assert_eq!(finished.errors(), vec!["timeout exceeded"]);
}

#[tokio::test]
async fn a_script_flooding_stderr_completes_and_the_worker_keeps_serving() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("flood", "  - get: r\n    version: {v: '1'}\n"),
            no_changes,
        )
        .await;
    assert_eq!(
        finished.status,
        BuildStatus::Succeeded,
        "{:?}",
        finished.errors()
    );
    assert_eq!(finished.log.len(), 20_000_000);
    let after = harness.run(2, &job("  - task: t\n    config: {platform: linux, run: {path: echo, args: [still serving]}}\n"), |_| {}).await;
    assert_eq!(after.log, "still serving\n");
}

#[tokio::test]
async fn an_unknown_resource_type_errors_clearly() {
    let harness = harness();
    let finished = harness
        .run(
            1,
            &pipeline("nosuchtype", "  - get: r\n    version: {v: '1'}\n"),
            no_changes,
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert_eq!(
        finished.errors(),
        vec!["no workers satisfying: resource type 'nosuchtype'"]
    );
}
