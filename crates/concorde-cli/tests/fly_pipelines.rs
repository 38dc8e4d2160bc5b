//! get-pipeline, pipelines, destroy/rename/pause/unpause/expose/hide/order-pipelines: requests
//! and fly's messages.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use common::{Env, NOW, Reply, Server, assert_command_tree, parse_error};
use serde_json::json;

fn pipeline(id: i64, name: &str, paused: bool, public: bool) -> serde_json::Value {
    json!({"id": id, "name": name, "paused": paused, "public": public, "archived": false, "team_name": "main", "last_updated": NOW})
}

#[test]
fn pipelines_table_json_and_all_teams() {
    let server = Server::start();
    let mut archived = pipeline(3, "old", true, false);
    archived["archived"] = json!(true);
    let mut instanced = pipeline(2, "release", false, true);
    instanced["instance_vars"] = json!({"version": "1.2"});
    let listed = json!([pipeline(1, "main-line", true, false), instanced, archived]);
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines",
        Reply::json(200, listed.clone()),
    );
    server.route("GET", "/api/v1/pipelines", Reply::json(200, listed.clone()));
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "pipelines"]);
    assert_eq!(
        out.stdout,
        "1  main-line            yes  no   2023-11-14 22:13:20 +0000 UTC\n\
         2  release/version:1.2  no   yes  2023-11-14 22:13:20 +0000 UTC\n"
    );
    let all = env.run(&[
        "--print-table-headers",
        "-t",
        "ci",
        "ps",
        "-a",
        "--include-archived",
    ]);
    assert_eq!(
        all.stdout,
        "id  name                 team  paused  public  archived  last updated                 \n\
         1   main-line            main  yes     no      no        2023-11-14 22:13:20 +0000 UTC\n\
         2   release/version:1.2  main  no      yes     no        2023-11-14 22:13:20 +0000 UTC\n\
         3   old                  main  yes     no      yes       2023-11-14 22:13:20 +0000 UTC\n"
    );
    let json_out: serde_json::Value =
        serde_json::from_str(&env.run(&["-t", "ci", "pipelines", "--json"]).stdout).unwrap();
    assert_eq!(json_out, json!([listed[0], listed[1]]));
}

#[test]
fn get_pipeline_prints_yaml_or_json() {
    let server = Server::start();
    let config = json!({"jobs": [{"name": "a", "plan": [{"task": "t", "file": "x.yml"}]}]});
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines/p/config",
        Reply::json(200, json!({"config": config})),
    );
    let env = Env::with_target(&server.url);
    let yaml = env.run(&["-t", "ci", "get-pipeline", "-p", "p"]);
    assert_eq!(
        yaml.stdout,
        "jobs:\n- name: a\n  plan:\n  - file: x.yml\n    task: t\n"
    );
    let as_json: serde_json::Value =
        serde_json::from_str(&env.run(&["-t", "ci", "gp", "-p", "p", "-j"]).stdout).unwrap();
    assert_eq!(as_json, config);
    let missing = env.run(&["-t", "ci", "get-pipeline", "-p", "nope"]);
    assert_eq!(
        (missing.code, missing.stderr.as_str()),
        (1, "error: pipeline not found\n")
    );
}

#[test]
fn destroy_pipeline_confirms_unless_non_interactive() {
    let server = Server::start();
    server.route(
        "DELETE",
        "/api/v1/teams/main/pipelines/p",
        Reply::empty(204),
    );
    let env = Env::with_target(&server.url);
    let declined = env.run_with_input(&["-t", "ci", "destroy-pipeline", "-p", "p"], "n\n");
    assert_eq!(
        declined.stdout,
        "!!! this will remove all data for pipeline `p`\n\nare you sure? [yN]: bailing out\n"
    );
    assert!(
        server
            .find("DELETE", "/api/v1/teams/main/pipelines/p")
            .is_empty()
    );
    let confirmed = env.run_with_input(&["-t", "ci", "dp", "-p", "p"], "yes\n");
    assert!(
        confirmed
            .stdout
            .ends_with("are you sure? [yN]: `p` deleted\n"),
        "{}",
        confirmed.stdout
    );
    let forced = env.run(&["-t", "ci", "destroy-pipeline", "-n", "-p", "gone"]);
    assert_eq!(
        forced.stdout,
        "!!! this will remove all data for pipeline `gone`\n\n`gone` does not exist\n"
    );
}

#[test]
fn pause_unpause_expose_hide_and_rename() {
    let server = Server::start();
    for action in ["pause", "unpause", "expose", "hide", "rename"] {
        server.route(
            "PUT",
            &format!("/api/v1/teams/main/pipelines/p/{action}"),
            Reply::json(200, json!({})),
        );
    }
    server.route(
        "PUT",
        "/api/v1/teams/other/pipelines/q/pause",
        Reply::empty(200),
    );
    server.route(
        "GET",
        "/api/v1/teams/other/pipelines",
        Reply::json(200, json!([pipeline(1, "q", false, false)])),
    );
    let env = Env::with_target(&server.url);
    let said = |args: &[&str]| env.run(&[&["-t", "ci"], args].concat()).stdout;
    assert_eq!(said(&["pause-pipeline", "-p", "p"]), "paused 'p'\n");
    assert_eq!(said(&["up", "-p", "p"]), "unpaused 'p'\n");
    assert_eq!(said(&["expose-pipeline", "-p", "p"]), "exposed 'p'\n");
    assert_eq!(said(&["hp", "-p", "p"]), "hid 'p'\n");
    assert_eq!(said(&["pp", "-a", "--team", "other"]), "paused 'q'\n");
    assert_eq!(
        said(&["rename-pipeline", "-o", "p", "-n", "renamed"]),
        "pipeline successfully renamed to 'renamed'\n"
    );
    assert_eq!(
        server.find("PUT", "/api/v1/teams/main/pipelines/p/rename")[0].body_text(),
        r#"{"name":"renamed"}"#
    );
    let missing = env.run(&["-t", "ci", "pause-pipeline", "-p", "nope"]);
    assert_eq!(missing.stderr, "error: pipeline 'nope' not found\n");
    let slash = env.run(&["-t", "ci", "rename-pipeline", "-o", "p", "-n", "a/b"]);
    assert_eq!(slash.stderr, "error: pipeline name cannot contain '/'\n");
    assert!(parse_error(&["pause-pipeline"]).contains("--pipeline"));
}

#[test]
fn order_pipelines_by_list_or_alphabetically() {
    let server = Server::start();
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/ordering",
        Reply::empty(200),
    );
    server.route(
        "GET",
        "/api/v1/teams/main/pipelines",
        Reply::json(
            200,
            json!([
                pipeline(1, "zeta", false, false),
                pipeline(2, "alpha", false, false)
            ]),
        ),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "order-pipelines", "-p", "b", "-p", "a"]);
    assert_eq!(out.stdout, "ordered pipelines\n  - b\n  - a\n");
    let alpha = env.run(&["-t", "ci", "op", "-a"]);
    assert_eq!(alpha.stdout, "ordered pipelines\n  - alpha\n  - zeta\n");
    let bodies: Vec<String> = server
        .find("PUT", "/api/v1/teams/main/pipelines/ordering")
        .iter()
        .map(|r| r.body_text())
        .collect();
    assert_eq!(bodies, vec![r#"["b","a"]"#, r#"["alpha","zeta"]"#]);
}

#[test]
fn instance_vars_travel_as_a_query() {
    let server = Server::start();
    server.route(
        "PUT",
        "/api/v1/teams/main/pipelines/release/pause",
        Reply::empty(200),
    );
    let env = Env::with_target(&server.url);
    let out = env.run(&["-t", "ci", "pause-pipeline", "-p", "release/version:1.2"]);
    assert_eq!(out.stdout, "paused 'release/version:1.2'\n");
    assert_eq!(
        server.find("PUT", "/api/v1/teams/main/pipelines/release/pause")[0].query,
        "vars=%7B%22version%22%3A1.2%7D"
    );
}

#[test]
fn the_command_tree_has_no_flag_conflicts_and_takes_fly_aliases() {
    assert_command_tree();
    for alias in [
        "sp", "gp", "ps", "dp", "rp", "pp", "up", "ep", "hp", "op", "js", "pj", "uj", "tj", "w",
        "bs", "ab", "rb", "rs", "rvs", "cr", "crt", "pr", "ur", "erv", "drv", "ws", "cs", "vs",
        "ts", "l", "o",
    ] {
        // An alias that exists fails on missing flags or succeeds, never as an unknown command.
        assert!(
            !parse_error(&[alias, "--no-such-flag"]).contains("unrecognized subcommand"),
            "{alias}"
        );
    }
}
