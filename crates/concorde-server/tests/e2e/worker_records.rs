//! Containers and volumes on record, through the real CLI: while a build runs, `containers`
//! lists its get and task containers and `volumes` its resource cache, input copy, output and
//! task cache, with fly's columns; when the build ends its containers and own volumes go; the
//! caches stay, across a restart of the node, and the next build reuses both.

use std::time::Duration;

use crate::harness::{Backend, Repo, Server};

const LONG: Duration = Duration::from_secs(60);

/// Rows of a fly table whose columns contain every one of `cells`.
fn rows_with<'a>(table: &'a str, cells: &[&str]) -> Vec<&'a str> {
    table
        .lines()
        .filter(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            cells.iter().all(|cell| columns.contains(cell))
        })
        .collect()
}

pub fn containers_and_volumes_show_what_exists(backend: Backend) {
    let mut server = Server::start(backend);
    let repo = Repo::new();
    let commit = repo.commit("one");
    // The first build keeps a marker in its task cache and waits to be aborted; the next
    // one finds the marker and succeeds.
    let pipeline = format!(
        "resources:\n- name: repo\n  type: git\n  source: {{uri: {uri}, branch: main}}\njobs:\n- name: unit\n  plan:\n  - get: repo\n    trigger: true\n  - task: wait\n    config:\n      platform: linux\n      inputs: [{{name: repo}}]\n      outputs: [{{name: out}}]\n      caches: [{{path: deps}}]\n      run: {{path: sh, args: [-c, 'if [ -e deps/seen ]; then echo cache kept; exit 0; fi; touch deps/seen; sleep 120']}}\n",
        uri = repo.uri()
    );
    server.set_pipeline("demo", &pipeline);
    // Created: the worker has the container, and its volumes are on record with it.
    server.wait_for("the task's container", LONG, || {
        let all: serde_json::Value =
            serde_json::from_str(&server.fly_ok(&["containers", "--json"])).unwrap_or_default();
        all.as_array().is_some_and(|all| {
            all.iter()
                .any(|c| c["type"] == "task" && c["state"] == "created")
        })
    });
    let containers = server.fly_ok(&["containers"]);
    let task = rows_with(&containers, &["demo", "unit", "1", "task", "wait"]);
    assert_eq!(task.len(), 1, "{containers}");
    let get = rows_with(&containers, &["demo", "unit", "1", "get", "repo"]);
    assert_eq!(
        get.len(),
        1,
        "the get's container lives as long as the build: {containers}"
    );
    let task_handle = task[0].split_whitespace().next().expect("handle");

    let volumes = server.fly_ok(&["volumes"]);
    let cache = format!("ref:{commit}");
    assert_eq!(
        rows_with(&volumes, &["resource", &cache]).len(),
        1,
        "{volumes}"
    );
    assert_eq!(
        rows_with(&volumes, &["container", task_handle]).len(),
        2,
        "the input's copy and the output belong to the task's container: {volumes}"
    );
    assert_eq!(
        rows_with(&volumes, &["task-cache", "demo/unit/wait"]).len(),
        1,
        "{volumes}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&server.fly_ok(&["volumes", "--json"])).expect("json");
    let output = json
        .as_array()
        .expect("a list")
        .iter()
        .find(|volume| {
            volume["path"]
                .as_str()
                .is_some_and(|path| path.ends_with("/out"))
        })
        .unwrap_or_else(|| panic!("the output volume: {json}"));
    assert_eq!(output["container_handle"], task_handle);

    server.fly_ok(&["abort-build", "-j", "demo/unit", "-b", "1"]);
    // A build is finished on record once its cleanup is done.
    server.wait_for("the build to end", LONG, || {
        server
            .job_builds("demo", "unit")
            .first()
            .is_some_and(|(_, status)| status == "aborted")
    });
    let containers = server.fly_ok(&["containers"]);
    assert!(rows_with(&containers, &["demo"]).is_empty(), "{containers}");
    let volumes = server.fly_ok(&["volumes"]);
    assert!(
        rows_with(&volumes, &["container"]).is_empty(),
        "{volumes}\n{}",
        server.log_tail()
    );
    assert_eq!(
        rows_with(&volumes, &["resource", &cache]).len(),
        1,
        "{volumes}"
    );
    assert_eq!(
        rows_with(&volumes, &["task-cache", "demo/unit/wait"]).len(),
        1,
        "{volumes}"
    );

    server.stop();
    server.spawn();
    let volumes = server.fly_ok(&["volumes"]);
    assert_eq!(
        rows_with(&volumes, &["resource", &cache]).len(),
        1,
        "the cache outlives the node's process: {volumes}"
    );
    assert_eq!(
        rows_with(&volumes, &["task-cache", "demo/unit/wait"]).len(),
        1,
        "{volumes}"
    );
    server.fly_ok(&["trigger-job", "-j", "demo/unit"]);
    let watched = server.fly_ok(&["watch", "-j", "demo/unit", "-b", "2"]);
    assert!(
        watched.contains("found existing resource cache"),
        "{watched}"
    );
    assert!(watched.contains("cache kept"), "{watched}");
}
