//! Workers on their own, through the TSA: a build with no worker waits and says so, a worker
//! registers with an authorized key and runs it (its containers and volumes on record under
//! its name), a stranger's key is refused, and a web node restart leaves the worker to
//! reconnect with what it has.

use std::time::Duration;

use crate::cluster::Cluster;
use crate::harness::Backend;

const LONG: Duration = Duration::from_secs(60);

const PIPELINE: &str = "resources:
- name: ticker
  type: mock
  source: {initial_version: one}
jobs:
- name: solo
  plan:
  - task: alone
    config:
      platform: linux
      run: {path: sh, args: [-c, 'echo alone on the worker']}
- name: unit
  plan:
  - get: ticker
  - task: hello
    config:
      platform: linux
      inputs: [{name: ticker}]
      run: {path: sh, args: [-c, 'echo hello from the worker; cat ticker/version']}
";

pub fn a_worker_registers_through_the_tsa_and_runs_builds(backend: Backend) {
    let mut cluster = Cluster::start(backend);
    cluster.server.set_pipeline("demo", PIPELINE);
    // A job with no inputs starts at once, and waits for a worker.
    cluster.server.fly_ok(&["trigger-job", "-j", "demo/solo"]);
    cluster.server.wait_for("the build to start", LONG, || {
        cluster
            .server
            .job_builds("demo", "solo")
            .first()
            .is_some_and(|(_, status)| status == "started")
    });

    let mut stranger = cluster.worker("stranger", "stranger_key", &[]);
    let code = stranger.wait_exit(LONG);
    assert_ne!(code, Some(0), "a stranger's key is refused");
    assert!(stranger.log().contains("refused"), "{}", stranger.log());

    let worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");
    let watched = cluster
        .server
        .fly_ok(&["watch", "-j", "demo/solo", "-b", "1"]);
    assert!(
        watched.contains("no suitable workers found, waiting for worker..."),
        "{watched}"
    );
    assert!(watched.contains("selected worker: w1"), "{watched}");
    assert!(watched.contains("alone on the worker"), "{watched}");
    // Its input is checked on the worker, fetched there and used by the task.
    cluster.server.fly_ok(&["trigger-job", "-j", "demo/unit"]);
    let watched = cluster
        .server
        .fly_ok(&["watch", "-j", "demo/unit", "-b", "1"]);
    assert!(watched.contains("hello from the worker"), "{watched}");
    assert!(watched.trim_end().ends_with("succeeded"), "{watched}");
    let workers = cluster.server.fly_ok(&["workers"]);
    assert!(!workers.contains("stranger"), "{workers}");
    let volumes = cluster.server.fly_ok(&["volumes"]);
    assert!(
        volumes
            .lines()
            .any(|line| line.contains(" w1 ") && line.contains("resource")),
        "the cache is recorded on the worker that has it: {volumes}"
    );

    // The web node goes away and comes back: the worker reconnects, registers again at its
    // new tunnel, and keeps its cache.
    cluster.server.stop();
    cluster.server.spawn();
    cluster
        .server
        .wait_for("the worker to register again", LONG, || {
            worker.log().matches("registered with the TSA").count() >= 2
        });
    cluster.server.fly_ok(&["trigger-job", "-j", "demo/unit"]);
    let watched = cluster
        .server
        .fly_ok(&["watch", "-j", "demo/unit", "-b", "2"]);
    assert!(
        watched.contains("found existing resource cache"),
        "{watched}\n{}",
        worker.log()
    );
    assert!(watched.trim_end().ends_with("succeeded"), "{watched}");
}
