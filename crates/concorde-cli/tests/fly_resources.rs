//! resources, resource-versions, check-resource(-type), pin/unpin, enable/disable versions,
//! workers, containers and volumes.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use common::{Env, NOW, Reply, Server};
use serde_json::json;

const RESOURCE: &str = "/api/v1/teams/main/pipelines/p/resources/repo";

#[test]
fn resources_table() {
    let server = Server::start();
    let resources = json!([
        {"name": "repo", "pipeline_id": 1, "pipeline_name": "p", "team_name": "main", "type": "git",
         "pinned_version": {"ref": "abc", "branch": "main"},
         "build": {"id": 3, "name": "check", "status": "succeeded", "team_name": "main", "pipeline_id": 1, "pipeline_name": "p"}},
        {"name": "timer", "pipeline_id": 1, "pipeline_name": "p", "team_name": "main", "type": "time"}
    ]);
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/resources",
        Reply::json(200, resources.clone()),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "resources", "-p", "p"]);
    assert_eq!(
        out.stdout,
        "repo   git   branch:main,ref:abc  succeeded\ntimer  time  n/a                  n/a      \n"
    );
    let json_out: serde_json::Value =
        serde_json::from_str(&env.run(&["-t", "ci", "rs", "-p", "p", "--json"]).stdout).unwrap();
    assert_eq!(json_out, resources);
}

#[test]
fn resource_versions_table_and_limit() {
    let server = Server::start();
    let versions = json!([
        {"id": 9, "version": {"ref": "def"}, "enabled": true},
        {"id": 8, "version": {"ref": "abc", "a": "1"}, "metadata": [{"name": "m", "value": "v"}], "enabled": false}
    ]);
    server.route(
        "GET",
        &format!("{RESOURCE}/versions"),
        Reply::json(200, versions),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "resource-versions", "-r", "p/repo", "-c", "2"]);
    assert_eq!(out.stdout, "9  ref:def      yes\n8  a:1,ref:abc  no \n");
    assert_eq!(
        server.find("GET", &format!("{RESOURCE}/versions"))[0].query,
        "limit=2"
    );
    let missing = env.run(&["-t", "ci", "rvs", "-r", "p/nope"]);
    assert_eq!(
        missing.stderr,
        "error: pipeline 'p' or resource 'nope' not found\n"
    );
}

#[test]
fn check_resource_streams_the_check_build() {
    let server = Server::start();
    let check_build = json!({"id": 77, "team_name": "main", "name": "check", "status": "started", "api_url": "/api/v1/builds/77"});
    server.route(
        "POST",
        &format!("{RESOURCE}/check"),
        Reply::json(201, check_build.clone()),
    );
    server.route(
        "POST",
        "/api/v1/teams/main/pipelines/p/resource-types/custom/check",
        Reply::json(201, check_build),
    );
    server.route(
        "GET",
        "/api/v1/builds/77/events",
        Reply::events(
            &[
                (
                    "initialize-check",
                    "1.0",
                    json!({"origin": {"id": "c"}, "name": "repo"}),
                ),
                (
                    "error",
                    "4.1",
                    json!({"origin": {"id": "c"}, "message": "git failed"}),
                ),
                ("status", "1.0", json!({"status": "failed", "time": NOW})),
            ],
            true,
        ),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&[
        "-t",
        "ci",
        "check-resource",
        "-r",
        "p/repo",
        "-f",
        "ref:abc",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout,
        "checking p/repo in build 77\ninitializing check: repo\ngit failed\nfailed\n"
    );
    let posted = &server.find("POST", &format!("{RESOURCE}/check"))[0];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&posted.body_text()).unwrap(),
        json!({"from": {"ref": "abc"}, "shallow": false})
    );
    let quick = env.run(&["-t", "ci", "cr", "-r", "p/repo", "--async", "--shallow"]);
    assert_eq!(
        (quick.code, quick.stdout.as_str()),
        (0, "checking p/repo in build 77\n")
    );
    let posted = &server.find("POST", &format!("{RESOURCE}/check"))[1];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&posted.body_text()).unwrap(),
        json!({"from": null, "shallow": true})
    );
    let typed = env.run(&["-t", "ci", "check-resource-type", "-r", "p/custom", "-a"]);
    assert_eq!(typed.stdout, "checking p/custom in build 77\n");
    let missing = env.run(&["-t", "ci", "crt", "-r", "p/nope"]);
    assert_eq!(
        missing.stderr,
        "error: pipeline 'p' or resource type 'nope' not found\n"
    );
}

#[test]
fn pin_unpin_enable_disable_use_the_latest_matching_version() {
    let server = Server::start();
    server.route(
        "GET",
        &format!("{RESOURCE}/versions"),
        Reply::json(
            200,
            json!([{"id": 42, "version": {"ref": "abc", "branch": "main"}, "enabled": true}]),
        ),
    );
    for action in ["pin", "enable", "disable"] {
        server.route(
            "PUT",
            &format!("{RESOURCE}/versions/42/{action}"),
            Reply::empty(200),
        );
    }
    server.route("PUT", &format!("{RESOURCE}/pin_comment"), Reply::empty(200));
    server.route("PUT", &format!("{RESOURCE}/unpin"), Reply::empty(200));
    let env = Env::with_target(&server.url);
    let pinned = env.run(&[
        "-t",
        "ci",
        "pin-resource",
        "-r",
        "p/repo",
        "-v",
        "ref:abc",
        "-c",
        "hold it",
    ]);
    assert_eq!(pinned.code, 0, "{pinned:?}");
    assert_eq!(
        pinned.stdout,
        "pinned 'p/repo' with version {\"branch\":\"main\",\"ref\":\"abc\"}\npin comment 'hold it' is saved\n"
    );
    assert_eq!(
        server.find("GET", &format!("{RESOURCE}/versions"))[0].query,
        "limit=1&filter=ref%3Aabc"
    );
    assert_eq!(
        server.find("PUT", &format!("{RESOURCE}/pin_comment"))[0].body_text(),
        r#"{"pin_comment":"hold it"}"#
    );
    assert_eq!(
        env.run(&["-t", "ci", "ur", "-r", "p/repo"]).stdout,
        "unpinned 'p/repo'\n"
    );
    assert_eq!(
        env.run(&[
            "-t",
            "ci",
            "disable-resource-version",
            "-r",
            "p/repo",
            "-v",
            "ref:abc"
        ])
        .stdout,
        "disabled 'p/repo' with version {\"branch\":\"main\",\"ref\":\"abc\"}\n"
    );
    assert_eq!(
        env.run(&["-t", "ci", "erv", "-r", "p/repo", "-v", "ref:abc"])
            .stdout,
        "enabled 'p/repo' with version {\"branch\":\"main\",\"ref\":\"abc\"}\n"
    );
    let nothing = env.run(&["-t", "ci", "pr", "-r", "p/repo"]);
    assert_eq!(
        nothing.stderr,
        "error: the required flag `-v, --version' was not specified\n"
    );

    let empty = Server::start();
    empty.route(
        "GET",
        &format!("{RESOURCE}/versions"),
        Reply::json(200, json!([])),
    );
    let none = Env::with_target(&empty.url).run(&[
        "-t",
        "ci",
        "pin-resource",
        "-r",
        "p/repo",
        "-v",
        "ref:zzz",
    ]);
    assert_eq!(
        none.stderr,
        "error: could not find version matching {\"ref\":\"zzz\"}\n"
    );
}

#[test]
fn workers_split_outdated_and_stalled_on_a_terminal() {
    let server = Server::start();
    let worker = |name: &str, version: &str, state: &str, tags: &[&str]| {
        json!({"addr": "10.0.0.1:7777", "baggageclaim_url": "http://10.0.0.1:7788", "active_containers": 3, "active_volumes": 1,
               "active_tasks": 0, "max_active_tasks": 0, "resource_types": [{"type": "git", "image": "/x", "version": "1"}],
               "platform": "linux", "tags": tags, "team": "", "name": name, "version": version, "start_time": NOW - 3 * 3600 - 120,
               "ephemeral": false, "state": state})
    };
    server.route(
        "GET",
        "/api/v1/workers",
        Reply::json(
            200,
            json!([
                worker("w2", "2.5", "running", &["gpu", "big"]),
                worker("w1", "1.0", "running", &[]),
                worker("w3", "2.5", "stalled", &[])
            ]),
        ),
    );
    server.route(
        "GET",
        "/api/v1/info",
        Reply::json(200, json!({"version": "7.0.0", "worker_version": "2.5"})),
    );
    let mut env = Env::with_target(&server.url);
    let plain = env.run(&["-t", "ci", "workers"]);
    assert_eq!(
        plain.stdout,
        "w2  3  linux  gpu, big  none  running  2.5  3h2m\n\
         w1  3  linux  none      none  running  1.0  3h2m\n\
         w3  3  linux  none      none  stalled  2.5  3h2m\n"
    );
    env.tty = true;
    let tty = env.run(&["-t", "ci", "ws", "-d"]);
    assert!(
        tty.stdout.contains(
            "\n\x1b[1mthe following workers need to be updated to version 2.5:\x1b[0m\n\n"
        ),
        "{}",
        tty.stdout
    );
    assert!(tty.stdout.contains("\x1b[31m1.0\x1b[0m"), "{}", tty.stdout);
    assert!(
        tty.stdout
            .contains("the following workers have not checked in recently:"),
        "{}",
        tty.stdout
    );
    assert!(
        tty.stdout
            .contains("    \x1b[1mconcorde -t ci prune-worker -w (name)\x1b[0m\n"),
        "{}",
        tty.stdout
    );
    assert!(
        tty.stdout
            .contains("10.0.0.1:7777   http://10.0.0.1:7788  0             git"),
        "{}",
        tty.stdout
    );
}

#[test]
fn containers_and_volumes_tables() {
    let server = Server::start();
    server.route(
        "GET",
        "/api/v1/teams/main/containers",
        Reply::json(200, json!([
            {"id": "h2", "worker_name": "w", "type": "check", "resource_name": "repo", "pipeline_name": "p"},
            {"id": "h1", "worker_name": "w", "type": "task", "step_name": "unit", "attempt": "1", "pipeline_name": "p", "job_name": "j", "build_name": "5", "build_id": 12}
        ])),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/volumes",
        Reply::json(200, json!([
            {"id": "v2", "worker_name": "w", "type": "task-cache", "pipeline_name": "p", "job_name": "j", "step_name": "s"},
            {"id": "v1", "worker_name": "w", "type": "container", "container_handle": "h1", "path": "/tmp/build/x", "parent_handle": "v0"},
            {"id": "v3", "worker_name": "w", "type": "resource", "resource_type": {"base_resource_type": {"name": "git", "version": "1"}, "version": {"ref": "abc"}}},
            {"id": "v0", "worker_name": "a", "type": "resource-type", "base_resource_type": {"name": "git", "version": "1"}}
        ])),
    );
    let env = Env::with_target(&server.url);
    let containers = env.run(&["-t", "ci", "containers"]);
    assert_eq!(
        containers.stdout,
        "h1  w  p  j     5     12    task   unit  1  \n\
         h2  w  p  none  none  none  check  repo  n/a\n"
    );
    let volumes = env.run(&["-t", "ci", "volumes"]);
    assert_eq!(
        volumes.stdout,
        "v0  a  resource-type  git    \n\
         v1  w  container      h1     \n\
         v2  w  task-cache     p/j/s  \n\
         v3  w  resource       ref:abc\n"
    );
    let details = env.run(&["-t", "ci", "vs", "-d"]);
    assert!(
        details
            .stdout
            .contains("container:h1,path:/tmp/build/x,parent:v0"),
        "{}",
        details.stdout
    );
    assert!(
        details
            .stdout
            .contains("type:resource(name:git,version:1),version:ref:abc"),
        "{}",
        details.stdout
    );
    assert!(
        details.stdout.contains("name:git,version:1"),
        "{}",
        details.stdout
    );
}
