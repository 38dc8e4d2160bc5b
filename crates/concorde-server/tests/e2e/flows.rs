//! The flows a user goes through, each run against a real server.

use std::time::Duration;

pub use crate::archiving::instances_are_set_with_dash_i_and_archived_one_by_one;
pub use crate::check_builds::check_resource_runs_a_real_check_build;
pub use crate::execute::{
    ctrl_c_aborts_an_executed_build, execute_runs_local_inputs_and_brings_outputs_back,
};
use crate::harness::{Backend, Repo, Server, WorkerRuntime, base_type_script, chain_pipeline};
pub use crate::huge_log::a_huge_log_read_by_eight_followers_holds_little_memory;
pub use crate::placement::{
    an_artifact_crosses_workers_to_a_tagged_step, limit_active_tasks_makes_a_task_wait_for_a_slot,
    peer_workers_take_artifacts_straight_from_each_other,
};
pub use crate::process_cleanup::no_process_outlives_its_step;
pub use crate::remote_workers::{
    a_restarted_worker_sweeps_what_a_killed_build_left,
    a_worker_killed_mid_build_errors_the_build_naming_it,
    a_worker_registers_through_the_tsa_and_runs_builds, land_and_prune_follow_the_worker_lifecycle,
    land_and_retire_from_the_worker_end_its_process,
    tags_steer_builds_to_the_workers_that_have_them,
};
pub use crate::watch::watch_waits_for_a_jobs_first_build;
pub use crate::worker_records::containers_and_volumes_show_what_exists;

const LONG: Duration = Duration::from_secs(60);

fn statuses(server: &Server, job: &str) -> Vec<String> {
    server
        .job_builds("demo", job)
        .into_iter()
        .map(|(_, status)| status)
        .collect()
}

fn finished(server: &Server, job: &str, count: usize) -> bool {
    let builds = statuses(server, job);
    builds.len() >= count
        && builds
            .iter()
            .take(count)
            .all(|status| !matches!(status.as_str(), "pending" | "started"))
}

pub fn webhook_commit_triggers_the_job_and_watch_shows_it(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    server.set_pipeline(
        "demo",
        &chain_pipeline(&repo, "  webhook_token: sekrit\n  check_every: never\n", ""),
    );
    assert_eq!(
        server.post_anonymous(
            "/api/v1/teams/main/pipelines/demo/resources/repo/check/webhook?webhook_token=wrong"
        ),
        401
    );
    assert_eq!(
        server.post_anonymous(
            "/api/v1/teams/main/pipelines/demo/resources/repo/check/webhook?webhook_token=sekrit"
        ),
        201
    );
    server.wait_for("the first build", LONG, || finished(&server, "unit", 1));
    repo.commit("second commit");
    assert_eq!(
        server.post_anonymous(
            "/api/v1/teams/main/pipelines/demo/resources/repo/check/webhook?webhook_token=sekrit"
        ),
        201
    );
    server.wait_for("a build of the new commit", LONG, || {
        finished(&server, "unit", 2)
    });
    let watched = server.fly(&["watch", "-j", "demo/unit"]);
    let output = String::from_utf8_lossy(&watched.stdout);
    assert!(output.contains("content: second commit"), "{output}");
    assert!(output.trim_end().ends_with("succeeded"), "{output}");
    assert_eq!(watched.status.code(), Some(0));
}

pub fn a_passed_chain_carries_the_version_downstream(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    repo.commit("release one");
    server.set_pipeline("demo", &chain_pipeline(&repo, "  check_every: 1s\n", ""));
    server.wait_for("deploy to run", LONG, || finished(&server, "deploy", 1));
    assert_eq!(statuses(&server, "unit"), vec!["succeeded"]);
    assert_eq!(
        statuses(&server, "deploy"),
        vec!["succeeded"],
        "deploy ran once for one version"
    );
    let watched = server.fly_ok(&["watch", "-j", "demo/deploy"]);
    assert!(watched.contains("deployed release one"), "{watched}");
}

pub fn pin_disable_and_pause_steer_the_scheduler(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    let first = repo.commit("v1");
    server.set_pipeline("demo", &chain_pipeline(&repo, "  check_every: 1s\n", ""));
    server.wait_for("the first build", LONG, || finished(&server, "unit", 1));
    server.fly_ok(&["pause-job", "-j", "demo/unit"]);
    let second = repo.commit("v2");
    server.wait_for("v2 to be checked", LONG, || {
        server
            .fly_ok(&["resource-versions", "-r", "demo/repo"])
            .contains(&second)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        statuses(&server, "unit").len(),
        1,
        "a paused job starts no build"
    );
    server.fly_ok(&[
        "disable-resource-version",
        "-r",
        "demo/repo",
        "-v",
        &format!("ref:{second}"),
    ]);
    server.fly_ok(&["unpause-job", "-j", "demo/unit"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        statuses(&server, "unit").len(),
        1,
        "the disabled v2 does not trigger; v1 was already used"
    );
    server.fly_ok(&[
        "enable-resource-version",
        "-r",
        "demo/repo",
        "-v",
        &format!("ref:{second}"),
    ]);
    server.wait_for("v2 to build", LONG, || finished(&server, "unit", 2));
    server.fly_ok(&[
        "pin-resource",
        "-r",
        "demo/repo",
        "-v",
        &format!("ref:{first}"),
        "-c",
        "back to v1",
    ]);
    server.wait_for("the pinned v1 to build", LONG, || {
        finished(&server, "unit", 3)
    });
    let watched = server.fly_ok(&["watch", "-j", "demo/unit"]);
    assert!(watched.contains("content: v1"), "{watched}");
}

pub fn rerun_reuses_the_original_inputs(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    repo.commit("original");
    let webhook = "/api/v1/teams/main/pipelines/demo/resources/repo/check/webhook?webhook_token=t";
    server.set_pipeline(
        "demo",
        &chain_pipeline(&repo, "  webhook_token: t\n  check_every: never\n", ""),
    );
    assert_eq!(server.post_anonymous(webhook), 201);
    server.wait_for("the first build", LONG, || finished(&server, "unit", 1));
    repo.commit("newer");
    assert_eq!(server.post_anonymous(webhook), 201);
    server.wait_for("a build of the newer commit", LONG, || {
        finished(&server, "unit", 2)
    });
    let output = server.fly(&["rerun-build", "-j", "demo/unit", "-b", "1", "-w"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("started demo/unit #1.1"), "{text}");
    assert!(
        text.contains("content: original"),
        "the rerun used the original's version: {text}"
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
}

pub fn abort_stops_a_running_build(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    let slow = "  - task: slow\n    config:\n      platform: linux\n      run: {path: sh, args: [-c, 'echo sleeping; sleep 120']}\n    on_abort:\n      task: cleanup\n      config: {platform: linux, run: {path: echo, args: [cleaned up]}}\n";
    server.set_pipeline("demo", &chain_pipeline(&repo, "  check_every: 1s\n", slow));
    server.wait_for("the build to start", LONG, || {
        statuses(&server, "unit")
            .first()
            .is_some_and(|s| s == "started")
    });
    std::thread::sleep(Duration::from_secs(1));
    server.fly_ok(&["abort-build", "-j", "demo/unit", "-b", "1"]);
    server.wait_for("the abort", Duration::from_secs(30), || {
        statuses(&server, "unit")
            .first()
            .is_some_and(|s| s == "aborted")
    });
    let watched = server.fly(&["watch", "-j", "demo/unit"]);
    let text = String::from_utf8_lossy(&watched.stdout);
    assert!(text.contains("cleaned up"), "on_abort ran: {text}");
    assert_eq!(
        watched.status.code(),
        Some(3),
        "watch exits 3 for an aborted build"
    );
}

pub fn a_restart_mid_build_fails_it_cleanly_and_the_node_carries_on(backend: Backend) {
    let mut server = Server::start(backend);
    let repo = Repo::new();
    let slow = "  - task: slow\n    config:\n      platform: linux\n      run: {path: sh, args: [-c, 'sleep 120']}\n";
    server.set_pipeline("demo", &chain_pipeline(&repo, "  check_every: 1s\n", slow));
    server.wait_for("the build to start", LONG, || {
        statuses(&server, "unit")
            .first()
            .is_some_and(|s| s == "started")
    });
    server.kill();
    server.spawn();
    server.wait_for("the orphaned build to error", LONG, || {
        statuses(&server, "unit")
            .first()
            .is_some_and(|s| s == "errored")
    });
    let watched =
        String::from_utf8_lossy(&server.fly(&["watch", "-j", "demo/unit", "-b", "1"]).stdout)
            .into_owned();
    assert!(watched.contains("cannot be resumed"), "{watched}");
    server.fly_ok(&["trigger-job", "-j", "demo/unit"]);
    server.wait_for("a new build after the restart", LONG, || {
        statuses(&server, "unit").len() >= 2
    });
    assert_eq!(
        statuses(&server, "unit").len(),
        2,
        "the errored build was not run twice"
    );
}

/// A resource type from a `--resource-types` directory in Concourse's layout: its
/// `/opt/resource` scripts check, fetch and push.
pub fn a_resource_types_directory_provides_base_types(backend: Backend) {
    let types = tempfile::tempdir().expect("tempdir");
    let write_script = |action: &str, body: &str| {
        base_type_script(
            types.path(),
            "counter",
            action,
            &format!("#!/bin/sh\nread -r request\n{body}\n"),
        );
    };
    write_script("check", "echo '[{\"n\":\"41\"},{\"n\":\"42\"}]'");
    write_script(
        "in",
        "echo 42 > \"$1/number\"; echo '{\"version\":{\"n\":\"42\"},\"metadata\":[{\"name\":\"from\",\"value\":\"type dir\"}]}'",
    );
    write_script("out", "echo '{\"version\":{\"n\":\"43\"}}'");
    let dir = types.path().display().to_string();
    let server = Server::start_with_args(backend, WorkerRuntime::Host, &["--resource-types", &dir]);
    let pipeline = "resources:\n- name: c\n  type: counter\n  check_every: 1s\n  source: {}\njobs:\n- name: unit\n  plan:\n  - get: c\n    trigger: true\n  - task: show\n    config: {platform: linux, inputs: [{name: c}], run: {path: sh, args: [-c, 'echo number $(cat c/number)']}}\n  - put: c\n";
    server.set_pipeline("demo", pipeline);
    server.wait_for("the build", LONG, || finished(&server, "unit", 1));
    let watched = server.fly_ok(&["watch", "-j", "demo/unit"]);
    assert!(watched.contains("number 42"), "{watched}");
    let versions = server.fly_ok(&["resource-versions", "-r", "demo/c"]);
    assert!(
        versions.contains("n:43"),
        "the put's version was saved: {versions}"
    );
}

pub fn the_local_worker_is_registered_and_listed(backend: Backend) {
    let server = Server::start(backend);
    let workers = server.fly_ok(&["workers"]);
    let row: Vec<&str> = workers
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row.get(2), Some(&"linux"), "{workers}");
    assert_eq!(row.get(5), Some(&"running"), "{workers}");
}

pub fn anonymous_callers_see_only_the_public_plan(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    let yaml = format!(
        "resources:\n- name: repo\n  type: git\n  check_every: 1s\n  source: {{uri: {uri}, branch: main, private_key: s3cret-source}}\njobs:\n- name: unit\n  public: true\n  plan:\n  - get: repo\n    trigger: true\n    params: {{depth: 1}}\n  - task: test\n    params: {{TOKEN: s3cret-param}}\n    config:\n      platform: linux\n      params: {{OTHER: s3cret-config}}\n      run: {{path: sh, args: [-c, 'echo ok']}}\n",
        uri = repo.uri()
    );
    server.set_pipeline("demo", &yaml);
    server.fly_ok(&["expose-pipeline", "-p", "demo"]);
    server.wait_for("the build", LONG, || finished(&server, "unit", 1));
    let builds = server.get_json("/api/v1/teams/main/pipelines/demo/jobs/unit/builds");
    let id = builds[0]["id"].as_i64().expect("a build id");
    let (status, body) = server.get_anonymous(&format!("/api/v1/builds/{id}/plan"));
    assert_eq!(status, 200, "{body}");
    for secret in ["s3cret", "\"source\"", "\"params\"", "private_key"] {
        assert!(
            !body.contains(secret),
            "{secret} in the public plan: {body}"
        );
    }
    let plan: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(plan["schema"], "exec.v2");
    let steps = plan["plan"]["do"].as_array().expect("a do of two steps");
    assert_eq!(steps[0]["get"]["name"], "repo");
    assert_eq!(steps[0]["get"]["type"], "git");
    assert_eq!(steps[0]["get"]["resource"], "repo");
    assert!(steps[0]["get"]["version"]["ref"].is_string(), "{body}");
    assert_eq!(steps[1]["task"]["name"], "test");
}

pub fn a_login_flood_is_bounded_and_answered_429(backend: Backend) {
    let server = Server::start(backend);
    eprintln!(
        "peak RSS before the flood: {} MiB",
        server.peak_rss() / (1024 * 1024)
    );
    let flood = 128;
    let results: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let attempts: Vec<_> = (0..flood)
            .map(|_| scope.spawn(|| server.login("admin", "wrong")))
            .collect();
        attempts
            .into_iter()
            .map(|attempt| attempt.join().expect("a login attempt"))
            .collect()
    });
    let refused = results.iter().filter(|(status, _)| *status == 401).count();
    let limited: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    assert_eq!(refused + limited.len(), flood, "{results:?}");
    // Five attempts are free and the sixth starts the back-off, however many arrive at once.
    assert!(
        refused <= 6,
        "attempts are counted as they arrive: {refused} got 401"
    );
    assert!(
        limited.iter().all(|(_, retry)| retry
            .as_deref()
            .is_some_and(|secs| secs.parse::<u64>().is_ok())),
        "every 429 says when to retry: {limited:?}"
    );
    let peak = server.peak_rss();
    eprintln!(
        "peak RSS after {flood} failed logins: {} MiB",
        peak / (1024 * 1024)
    );
    assert!(
        peak < 200 * 1024 * 1024,
        "peak RSS {} MiB",
        peak / (1024 * 1024)
    );
    // The right password is refused too while the name backs off, then works.
    let (status, retry) = server.login("admin", "secret");
    assert_eq!(status, 429);
    let wait: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!(wait <= 300, "{wait}");
}

/// Two hundred clients following build logs cost no database connection each: every stream
/// is served, a new build still runs to its end and is watched live, and other routes answer.
pub fn two_hundred_event_streams_starve_nothing(backend: Backend) {
    let server = Server::start(backend);
    let repo = Repo::new();
    server.set_pipeline("demo", &chain_pipeline(&repo, "  check_every: 1s\n", ""));
    server.wait_for("the first build", LONG, || finished(&server, "unit", 1));
    let builds = server.get_json("/api/v1/teams/main/pipelines/demo/jobs/unit/builds");
    let id = builds[0]["id"].as_i64().expect("a build id");
    let streams: Vec<_> = (0..200).map(|_| server.follow_events(id)).collect();
    let watched = server.fly_ok(&["trigger-job", "-j", "demo/unit", "-w"]);
    assert!(watched.contains("content:"), "{watched}");
    assert!(watched.contains("succeeded"), "{watched}");
    for _ in 0..20 {
        let pipelines = server.get_json("/api/v1/teams/main/pipelines");
        assert_eq!(pipelines[0]["name"], "demo");
    }
    // The streams stayed open throughout.
    drop(streams);
}
