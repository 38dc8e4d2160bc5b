//! set-pipeline: local validation, the diff, the prompt, the config version header and fly's
//! messages for created and updated pipelines.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use common::{Env, Reply, Server};
use serde_json::json;

const PIPELINE: &str = "\
resources:
- name: repo
  type: git
  source: {uri: ((uri))}
jobs:
- name: build
  plan:
  - get: repo
    trigger: true
  - task: unit
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      run: {path: echo, args: [hi]}
";

fn pipeline_json(paused: bool) -> serde_json::Value {
    json!({"id": 1, "name": "p", "paused": paused, "public": false, "archived": false, "team_name": "main", "last_updated": 1_700_000_000})
}

fn write_config(env: &Env, text: &str) -> String {
    let path = env.home.path().join("pipeline.yml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn creating_a_pipeline_shows_the_additions_asks_and_reports_it_paused() {
    let server = Server::start();
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(201, json!({})),
    );
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);
    // The fake answers 404 to `GET config` and `GET pipeline`: a new pipeline.
    let out = env.run_with_input(
        &[
            "-t",
            "ci",
            "set-pipeline",
            "-p",
            "p",
            "-c",
            &config,
            "-v",
            "uri=https://example.com/repo.git",
        ],
        "y\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let expected_start = "\
resources:
  resource repo has been added:
+ name: repo
+ source:
+   uri: https://example.com/repo.git
+ type: git
  
jobs:
  job build has been added:
+ name: build
+ plan:
+ - get: repo
+   trigger: true
+ - config:
";
    assert!(out.stdout.starts_with(expected_start), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("\npipeline name: p\n\napply configuration? [yN]: pipeline created!\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(&format!(
            "you can view your pipeline here: {}/teams/main/pipelines/p\n",
            server.url
        )),
        "{}",
        out.stdout
    );

    let put = &server.find("PUT", "/api/v1/teams/main/pipelines/p/config")[0];
    assert_eq!(put.header("authorization"), Some("bearer TOKEN"));
    assert_eq!(put.header("content-type"), Some("application/x-yaml"));
    assert_eq!(put.header("x-concourse-config-version"), None);
    let body = put.body_text();
    assert!(body.contains("uri: https://example.com/repo.git"), "{body}");
    assert!(body.contains("name: build"), "{body}");
}

#[test]
fn a_new_paused_pipeline_says_how_to_unpause() {
    let server = Server::start();
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(201, json!({})),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p",
        Reply::json(200, pipeline_json(true)),
    );
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);
    let out = env.run(&[
        "-t", "ci", "sp", "-n", "-p", "p", "-c", &config, "-v", "uri=x",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("apply configuration?"));
    let tail = format!(
        "pipeline created!\nyou can view your pipeline here: {}/teams/main/pipelines/p\n\n\
         the pipeline is currently paused. to unpause, either:\n  - run the unpause-pipeline command:\n    \
         concorde -t ci unpause-pipeline -p p\n  - click play next to the pipeline in the web ui\n",
        server.url
    );
    assert!(out.stdout.ends_with(&tail), "{}", out.stdout);
}

#[test]
fn updating_sends_the_config_version_and_shows_changes() {
    let server = Server::start();
    let existing = serde_yaml_to_json(
        &PIPELINE
            .replace("((uri))", "old")
            .replace("args: [hi]", "args: [bye]"),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(200, json!({"config": existing})).header("X-Concourse-Config-Version", "7"),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p",
        Reply::json(200, pipeline_json(false)),
    );
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(200, json!({})),
    );
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);

    let declined = env.run_with_input(
        &[
            "-t",
            "ci",
            "set-pipeline",
            "-p",
            "p",
            "-c",
            &config,
            "-v",
            "uri=new",
        ],
        "maybe\nn\n",
    );
    assert_eq!(declined.code, 0);
    assert!(declined.stdout.contains("resources:\n  resource repo has changed:\n  name: repo\n  source:\n-   uri: old\n+   uri: new\n  type: git\n"), "{}", declined.stdout);
    assert!(
        declined
            .stdout
            .contains("jobs:\n  job build has changed:\n"),
        "{}",
        declined.stdout
    );
    assert!(
        declined.stdout.contains(
            "      run:\n        args:\n-       - bye\n+       - hi\n        path: echo\n"
        ),
        "{}",
        declined.stdout
    );
    assert!(declined.stdout.ends_with("apply configuration? [yN]: invalid input (not y, n, yes, or no)\napply configuration? [yN]: bailing out\n"), "{}", declined.stdout);
    assert!(
        server
            .find("PUT", "/api/v1/teams/main/pipelines/p/config")
            .is_empty()
    );

    let applied = env.run(&[
        "-t",
        "ci",
        "set-pipeline",
        "-n",
        "-p",
        "p",
        "-c",
        &config,
        "-v",
        "uri=new",
    ]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert!(
        applied
            .stdout
            .ends_with("pipeline name: p\n\nconfiguration updated\n"),
        "{}",
        applied.stdout
    );
    let put = &server.find("PUT", "/api/v1/teams/main/pipelines/p/config")[0];
    assert_eq!(put.header("x-concourse-config-version"), Some("7"));
}

#[test]
fn an_identical_config_has_no_changes_to_apply() {
    let server = Server::start();
    let existing = serde_yaml_to_json(&PIPELINE.replace("((uri))", "same"));
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(200, json!({"config": existing})).header("X-Concourse-Config-Version", "2"),
    );
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);
    let out = env.run(&[
        "-t",
        "ci",
        "set-pipeline",
        "-p",
        "p",
        "-c",
        &config,
        "-v",
        "uri=same",
    ]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "no changes to apply\n")
    );
    assert!(
        server
            .find("PUT", "/api/v1/teams/main/pipelines/p/config")
            .is_empty()
    );
}

#[test]
fn an_invalid_config_is_refused_before_any_request() {
    let server = Server::start();
    let env = Env::with_target(&server.url);
    let config = write_config(&env, "jobs:\n- name: a\n  plan:\n  - get: missing\n");
    let out = env.run(&["-t", "ci", "set-pipeline", "-p", "p", "-c", &config]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
    assert!(
        out.stderr.ends_with("error: configuration invalid\n"),
        "{}",
        out.stderr
    );
    assert!(server.requests().is_empty());
}

#[test]
fn a_server_side_rejection_lists_the_errors() {
    let server = Server::start();
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(400, json!({"errors": ["bad thing"]})),
    );
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);
    let out = env.run(&[
        "-t",
        "ci",
        "set-pipeline",
        "-n",
        "-p",
        "p",
        "-c",
        &config,
        "-v",
        "uri=x",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: invalid pipeline config:\n  - bad thing\n"
    );
}

#[test]
fn dry_run_stops_after_the_diff() {
    let server = Server::start();
    let env = Env::with_target(&server.url);
    let config = write_config(&env, PIPELINE);
    let out = env.run(&[
        "-t",
        "ci",
        "set-pipeline",
        "-d",
        "-p",
        "p",
        "-c",
        &config,
        "-v",
        "uri=x",
    ]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .ends_with("pipeline name: p\n\nDry-run mode was set, exiting.\n"),
        "{}",
        out.stdout
    );
    assert!(
        server
            .find("PUT", "/api/v1/teams/main/pipelines/p/config")
            .is_empty()
    );
}

/// The JSON the server would store for a YAML config.
fn serde_yaml_to_json(yaml: &str) -> serde_json::Value {
    let loaded = concorde_config::load_pipeline(
        yaml.as_bytes(),
        &concorde_config::vars::StaticVars::default(),
        concorde_config::UnknownKeys::Ignore,
    )
    .unwrap();
    concorde_config::pipeline_to_json(&loaded.pipeline)
}
