//! watch, trigger-job, rerun-build, builds, abort-build and jobs: event rendering, exit codes,
//! requests and tables.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use common::{Env, NOW, Reply, Server};
use serde_json::json;

fn build(id: i64, name: &str, status: &str) -> serde_json::Value {
    json!({"id": id, "team_name": "main", "name": name, "status": status, "api_url": format!("/api/v1/builds/{id}"),
           "job_name": "unit", "pipeline_id": 1, "pipeline_name": "p"})
}

fn log(text: &str) -> (&'static str, &'static str, serde_json::Value) {
    (
        "log",
        "5.1",
        json!({"time": NOW, "origin": {"id": "a1", "source": "stdout"}, "payload": text}),
    )
}

fn status(status: &str) -> (&'static str, &'static str, serde_json::Value) {
    ("status", "1.0", json!({"status": status, "time": NOW}))
}

fn task_events(
    exit_status: i64,
    final_status: &str,
) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        status("started"),
        (
            "selected-worker",
            "1.0",
            json!({"time": NOW, "origin": {"id": "a1"}, "selected_worker": "w1"}),
        ),
        (
            "initialize-task",
            "4.0",
            json!({"time": NOW, "origin": {"id": "a1"}, "config": {}}),
        ),
        (
            "start-task",
            "5.0",
            json!({"time": NOW, "origin": {"id": "a1"}, "config": {"platform": "linux", "run": {"path": "sh", "args": ["-c", "make test"]}}}),
        ),
        log("ok 1\nnot ok 2\n"),
        (
            "finish-task",
            "4.0",
            json!({"time": NOW, "origin": {"id": "a1"}, "exit_status": exit_status}),
        ),
        status(final_status),
    ]
}

fn watch_build(
    events: &[(&str, &str, serde_json::Value)],
    end: bool,
    args: &[&str],
    tty: bool,
) -> common::Output {
    let server = Server::start();
    server.route(
        "GET",
        "/api/v1/builds/42/events",
        Reply::events(events, end),
    );
    let mut env = Env::with_target(&server.url);
    env.tty = tty;
    let mut full = vec!["-t", "ci", "watch", "-b", "42"];
    full.extend(args);
    env.run(&full)
}

#[test]
fn watch_renders_steps_logs_and_the_final_status() {
    let out = watch_build(&task_events(0, "succeeded"), true, &[], false);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "selected worker: w1\ninitializing\nrunning sh -c make test\nok 1\nnot ok 2\nsucceeded\n"
    );

    let colored = watch_build(&task_events(0, "succeeded"), true, &[], true);
    assert_eq!(
        colored.stdout,
        "\x1b[1mselected worker:\x1b[0m w1\n\x1b[1minitializing\x1b[0m\n\x1b[1mrunning sh -c make test\x1b[0m\nok 1\nnot ok 2\n\x1b[32msucceeded\x1b[0m\n"
    );
}

#[test]
fn watch_exits_with_the_task_status_or_the_build_status() {
    assert_eq!(
        watch_build(&task_events(7, "failed"), true, &[], false).code,
        7
    );
    let failed = watch_build(&[status("started"), status("failed")], true, &[], true);
    assert_eq!(
        (failed.code, failed.stdout.as_str()),
        (1, "\x1b[31mfailed\x1b[0m\n")
    );
    let errored = watch_build(
        &[
            (
                "error",
                "4.1",
                json!({"message": "timeout exceeded", "origin": {"id": "a1"}, "time": NOW}),
            ),
            status("errored"),
        ],
        true,
        &[],
        true,
    );
    assert_eq!(
        (errored.code, errored.stdout.as_str()),
        (
            2,
            "\x1b[31;1mtimeout exceeded\x1b[0m\n\x1b[31;1merrored\x1b[0m\n"
        )
    );
    let aborted = watch_build(&[status("aborted")], true, &[], true);
    assert_eq!(
        (aborted.code, aborted.stdout.as_str()),
        (3, "\x1b[35maborted\x1b[0m\n")
    );
    let unknown = watch_build(&[status("exploded")], true, &[], false);
    assert_eq!(
        (unknown.code, unknown.stdout.as_str()),
        (255, "unknown status: exploded")
    );
    // A stream that ends without a status exits with the last task status.
    assert_eq!(
        watch_build(&[log("partial\n")], true, &[], false).stdout,
        "partial\n"
    );
}

#[test]
fn watch_stops_on_unknown_events_unless_told_to_ignore_them() {
    let events = [
        log("a\n"),
        ("brand-new", "1.0", json!({})),
        ("log", "9.0", json!({"payload": "x"})),
        log("b\n"),
        status("succeeded"),
    ];
    let strict = watch_build(&events, true, &[], false);
    assert_eq!(
        (strict.code, strict.stdout.as_str()),
        (
            255,
            "a\nfailed to parse next event: unknown event type: brand-new\n"
        )
    );
    let lenient = watch_build(&events, true, &["--ignore-event-parsing-errors"], false);
    assert_eq!(
        (lenient.code, lenient.stdout.as_str()),
        (0, "a\nb\nsucceeded\n")
    );
}

#[test]
fn watch_timestamps_prefix_each_line() {
    let out = watch_build(
        &[log("one\ntwo\n"), status("succeeded")],
        true,
        &["--timestamps"],
        false,
    );
    assert_eq!(
        out.stdout,
        "22:13:20  one\n22:13:20  two\n22:13:20  succeeded\n"
    );
}

#[test]
fn watch_picks_the_jobs_next_or_finished_build() {
    let server = Server::start();
    let job = json!({"id": 3, "name": "unit", "team_name": "main", "pipeline_id": 1, "pipeline_name": "p",
                     "next_build": null, "finished_build": build(41, "9", "failed")});
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/jobs/unit",
        Reply::json(200, job),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds/8",
        Reply::json(200, build(40, "8", "succeeded")),
    );
    server.route(
        "GET",
        "/api/v1/builds/41/events",
        Reply::events(&[status("failed")], true),
    );
    server.route(
        "GET",
        "/api/v1/builds/40/events",
        Reply::events(&[status("succeeded")], true),
    );
    let env = Env::with_target(&server.url);
    assert_eq!(env.run(&["-t", "ci", "watch", "-j", "p/unit"]).code, 1);
    assert_eq!(
        env.run(&["-t", "ci", "w", "-j", "p/unit", "-b", "8"]).code,
        0
    );
    let missing = env.run(&["-t", "ci", "watch", "-j", "p/nope"]);
    assert_eq!(
        (missing.code, missing.stderr.as_str()),
        (1, "error: job not found\n")
    );
}

#[test]
fn trigger_job_starts_a_build_and_watches_it() {
    let server = Server::start();
    server.route(
        "POST",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds",
        Reply::json(200, build(42, "5", "pending")),
    );
    server.route(
        "GET",
        "/api/v1/builds/42/events",
        Reply::events(&task_events(0, "failed"), true),
    );
    let env = Env::with_target(&server.url);
    let quiet = env.run(&["-t", "ci", "trigger-job", "-j", "p/unit"]);
    assert_eq!(
        (quiet.code, quiet.stdout.as_str()),
        (0, "started p/unit #5\n")
    );
    assert!(server.find("GET", "/api/v1/builds/42/events").is_empty());
    let watched = env.run(&["-t", "ci", "tj", "-j", "p/unit", "-w"]);
    assert_eq!(watched.code, 1);
    assert!(
        watched
            .stdout
            .starts_with("started p/unit #5\n\nselected worker: w1\n"),
        "{}",
        watched.stdout
    );
    assert!(watched.stdout.ends_with("failed\n"));
    assert_eq!(
        server.find("POST", "/api/v1/teams/main/pipelines/p/jobs/unit/builds")[1]
            .header("authorization"),
        Some("bearer TOKEN")
    );
}

#[test]
fn rerun_build_posts_to_the_build_and_reports_the_new_name() {
    let server = Server::start();
    server.route(
        "POST",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds/5",
        Reply::json(200, build(43, "5.1", "pending")),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "rerun-build", "-j", "p/unit", "-b", "5"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "started p/unit #5.1\n")
    );
    let conflict = Server::start();
    conflict.route(
        "POST",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds/5",
        Reply::empty(409),
    );
    let refused =
        Env::with_target(&conflict.url).run(&["-t", "ci", "rb", "-j", "p/unit", "-b", "5"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (1, "error: conflict: \n")
    );
}

#[test]
fn builds_prints_fly_columns() {
    let server = Server::start();
    let mut finished = build(12, "5", "succeeded");
    finished["start_time"] = json!(NOW - 83);
    finished["end_time"] = json!(NOW);
    finished["created_by"] = json!("admin");
    let mut running = build(13, "6", "started");
    running["start_time"] = json!(NOW - 3725);
    let check = json!({"id": 14, "team_name": "main", "name": "check", "status": "errored", "api_url": "/api/v1/builds/14",
                       "resource_name": "repo", "pipeline_id": 1, "pipeline_name": "p"});
    let one_off = json!({"id": 15, "team_name": "main", "name": "15", "status": "pending", "api_url": "/api/v1/builds/15"});
    server.route(
        "GET",
        "/api/v1/builds",
        Reply::json(200, json!([finished, running, check, one_off])),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds",
        Reply::json(200, json!([build(12, "5", "succeeded")])),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "builds"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "12  p/unit/5      succeeded  2023-11-14@22:11:57+0000  2023-11-14@22:13:20+0000  1m23s    main  admin \n\
         13  p/unit/6      started    2023-11-14@21:11:15+0000  n/a                       1h2m5s+  main  system\n\
         14  p/repo/check  errored    n/a                       n/a                       n/a      main  system\n\
         15  15            pending    n/a                       n/a                       n/a      main  system\n"
    );
    assert_eq!(server.find("GET", "/api/v1/builds")[0].query, "limit=50");

    let json_out = env.run(&["-t", "ci", "bs", "-j", "p/unit", "-c", "3", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!(parsed[0]["name"], "5");
    assert!(
        json_out.stdout.starts_with("[\n  {\n    \"id\": 12,"),
        "{}",
        json_out.stdout
    );
    assert_eq!(
        server.find("GET", "/api/v1/teams/main/pipelines/p/jobs/unit/builds")[0].query,
        "limit=3"
    );

    let both = env.run(&["-t", "ci", "builds", "-j", "p/unit", "-p", "p"]);
    assert_eq!(
        both.stderr,
        "error: Cannot specify both --pipeline and --job\n"
    );
    let range = env.run(&[
        "-t",
        "ci",
        "builds",
        "--since",
        "2023-11-14 00:00:00",
        "--until",
        "2023-11-13 00:00:00",
    ]);
    assert_eq!(range.stderr, "error: Cannot have --since after --until\n");
    let bad = env.run(&["-t", "ci", "builds", "--since", "yesterday"]);
    assert_eq!(
        bad.stderr,
        "error: Since time should be in the format: 2006-01-02 15:04:05\n"
    );
}

#[test]
fn abort_build_by_id_or_job_build_name() {
    let server = Server::start();
    server.route("PUT", "/api/v1/builds/42/abort", Reply::empty(204));
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/jobs/unit/builds/5",
        Reply::json(200, build(42, "5", "started")),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "abort-build", "-b", "42"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "build successfully aborted\n")
    );
    let forced = env.run(&["-t", "ci", "ab", "-j", "p/unit", "-b", "5", "--force"]);
    assert_eq!(forced.stdout, "build forcefully aborted\n");
    let aborts = server.find("PUT", "/api/v1/builds/42/abort");
    assert_eq!(
        (aborts[0].query.as_str(), aborts[1].query.as_str()),
        ("", "force=true")
    );
    let missing = env.run(&["-t", "ci", "abort-build", "-b", "7"]);
    assert_eq!(missing.stderr, "error: build does not exist\n");
}

#[test]
fn jobs_table_and_json() {
    let server = Server::start();
    let summary = |name: &str, paused: bool, finished: Option<&str>, next: Option<&str>| {
        let mut job = json!({"id": 1, "name": name, "team_name": "main", "pipeline_id": 1, "pipeline_name": "p"});
        if paused {
            job["paused"] = json!(true);
        }
        let summary = |status: &str| json!({"id": 9, "name": "3", "status": status, "team_name": "main", "pipeline_id": 1, "pipeline_name": "p", "job_name": name});
        if let Some(status) = finished {
            job["finished_build"] = summary(status);
        }
        if let Some(status) = next {
            job["next_build"] = summary(status);
        }
        job
    };
    let jobs = json!([
        summary("unit", false, Some("succeeded"), Some("started")),
        summary("deploy", true, None, None)
    ]);
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/jobs",
        Reply::json(200, jobs.clone()),
    );
    let mut env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "jobs", "-p", "p"]);
    assert_eq!(
        out.stdout,
        "unit    no   succeeded  started\ndeploy  yes  n/a        n/a    \n"
    );
    env.tty = true;
    let colored = env.run(&["-t", "ci", "js", "-p", "p"]);
    assert!(
        colored.stdout.contains("\x1b[36myes\x1b[0m"),
        "{}",
        colored.stdout
    );
    assert!(
        colored
            .stdout
            .starts_with("\x1b[1mname\x1b[0m    \x1b[1mpaused\x1b[0m"),
        "{}",
        colored.stdout
    );
    env.tty = false;
    let json_out: serde_json::Value =
        serde_json::from_str(&env.run(&["-t", "ci", "jobs", "-p", "p", "--json"]).stdout).unwrap();
    assert_eq!(json_out, jobs);
    let missing = env.run(&["-t", "ci", "jobs", "-p", "nope"]);
    assert_eq!(missing.stderr, "error: pipeline 'nope' not found\n");
}
