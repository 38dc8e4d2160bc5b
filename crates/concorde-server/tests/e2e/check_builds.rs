//! Check builds through the real CLI and API: `check-resource` streams a real build and
//! exits with its status, a failed check's stderr shows in its log, in `resources` and in the
//! resource's JSON, `--from` starts the check from a version, `check-resource-type` checks a
//! type, non-members cannot read a check build of a public pipeline, and `clear-versions`
//! empties a history so the next check starts from nothing.

use crate::harness::{Backend, Server, WorkerRuntime, base_type_script};

/// A base type `flaky` whose check fails while `<state>/fail` exists (its content on
/// stderr), and otherwise keeps its request in `<state>/request` and finds `v: 1` and `v: 2`.
fn flaky_type(types: &std::path::Path, state: &std::path::Path) {
    let state = state.display();
    let check = format!(
        "#!/bin/sh\nread -r request\nif [ -f {state}/fail ]; then echo \"cannot reach the registry: $(cat {state}/fail)\" >&2; exit 1; fi\nprintf '%s\\n' \"$request\" > {state}/request\necho '[{{\"v\":\"1\"}},{{\"v\":\"2\"}}]'\n"
    );
    base_type_script(types, "flaky", "check", &check);
    base_type_script(types, "flaky", "in", "#!/bin/sh\nexit 1\n");
    base_type_script(types, "flaky", "out", "#!/bin/sh\nexit 1\n");
}

const PIPELINE: &str = "resource_types:
- name: wrapped
  type: flaky
  source: {}
resources:
- name: r
  type: flaky
  check_every: never
  source: {}
jobs:
- name: j
  plan:
  - get: r
";

pub fn check_resource_runs_a_real_check_build(backend: Backend) {
    let types = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    flaky_type(types.path(), state.path());
    let dir = types.path().display().to_string();
    let server = Server::start_with_args(backend, WorkerRuntime::Host, &["--resource-types", &dir]);
    server.set_pipeline("p", PIPELINE);
    std::fs::write(state.path().join("fail"), "connection refused").expect("fail file");

    let failed = server.fly(&["check-resource", "-r", "p/r"]);
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{stdout}");
    let first = stdout.lines().next().unwrap_or_default();
    let id: i64 = first
        .strip_prefix("checking p/r in build ")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("first line names the build: {stdout}"));
    assert!(id > 0, "a real build id: {stdout}");
    assert!(stdout.contains("initializing check: r"), "{stdout}");
    assert!(
        stdout.contains("cannot reach the registry: connection refused"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("failed"), "{stdout}");

    let listed = server.fly(&["resources", "-p", "p"]);
    let (table, notes) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert_eq!(
        table.split_whitespace().collect::<Vec<_>>(),
        ["r", "flaky", "n/a", "failed"]
    );
    assert!(
        notes.contains(&format!("r: last check failed (build {id}):"))
            && notes.contains("cannot reach the registry: connection refused"),
        "{notes}"
    );
    let resource = server.get_json("/api/v1/teams/main/pipelines/p/resources/r");
    assert_eq!(resource["build"]["id"], id, "{resource}");
    assert_eq!(resource["build"]["status"], "failed", "{resource}");
    assert!(
        resource["check_error"]
            .as_str()
            .is_some_and(|error| error.contains("check failed with exit status 1")
                && error.contains("connection refused")),
        "{resource}"
    );
    let build = server.get_json(&format!("/api/v1/builds/{id}"));
    assert_eq!(
        (&build["name"], &build["resource_name"], &build["status"]),
        (&"check".into(), &"r".into(), &"failed".into()),
        "{build}"
    );
    server.fly_ok(&["expose-pipeline", "-p", "p"]);
    let (status, _) = server.get_anonymous(&format!("/api/v1/builds/{id}"));
    assert_ne!(status, 200, "a check build's log is for the team only");
    let (status, body) = server.get_anonymous("/api/v1/teams/main/pipelines/p/resources/r");
    assert_eq!(status, 200, "{body}");

    std::fs::remove_file(state.path().join("fail")).expect("remove fail file");
    let from = server.fly(&["check-resource", "-r", "p/r", "-f", "v:1"]);
    let stdout = String::from_utf8_lossy(&from.stdout);
    assert_eq!(from.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("succeeded"), "{stdout}");
    let request = std::fs::read_to_string(state.path().join("request")).expect("request");
    assert!(request.contains(r#""version":{"v":"1"}"#), "{request}");
    let versions = server.fly_ok(&["resource-versions", "-r", "p/r"]);
    let shown: Vec<&str> = versions
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(shown, ["v:2", "v:1"], "{versions}");
    let resource = server.get_json("/api/v1/teams/main/pipelines/p/resources/r");
    assert!(resource.get("check_error").is_none(), "{resource}");

    let typed = server.fly(&["check-resource-type", "-r", "p/wrapped"]);
    let stdout = String::from_utf8_lossy(&typed.stdout);
    assert_eq!(typed.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("initializing check: wrapped"), "{stdout}");
    let kinds = server.get_json("/api/v1/teams/main/pipelines/p/resource-types");
    assert_eq!(
        kinds[0]["version"],
        serde_json::json!({"v": "2"}),
        "{kinds}"
    );

    // clear-versions: the history goes, and the next check starts from nothing.
    let cleared = server.fly_ok(&["clear-versions", "--resource", "p/r", "-n"]);
    assert!(cleared.contains("2 versions removed"), "{cleared}");
    let versions = server.fly_ok(&["resource-versions", "-r", "p/r"]);
    assert_eq!(versions.trim(), "", "{versions}");
    server.fly_ok(&["check-resource", "-r", "p/r"]);
    let request = std::fs::read_to_string(state.path().join("request")).expect("request");
    assert!(
        !request.contains("version"),
        "no version to start from: {request}"
    );
    assert_eq!(
        server
            .fly_ok(&["resource-versions", "-r", "p/r"])
            .lines()
            .count(),
        2
    );
    let cleared = server.fly_ok(&["clear-versions", "--resource-type", "p/wrapped", "-n"]);
    assert!(cleared.contains("2 versions removed"), "{cleared}");
}
