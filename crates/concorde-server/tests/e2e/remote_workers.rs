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

/// `land-worker` drains a worker and its process exits 0 once landed; it registers again when
/// restarted; a running worker cannot be pruned, a stalled one (killed, its heartbeats
/// lapsed) can.
pub fn land_and_prune_follow_the_worker_lifecycle(backend: Backend) {
    let cluster = Cluster::start(backend);
    let mut worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");

    let refused = cluster.server.fly(&["prune-worker", "-w", "w1"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cannot prune running worker"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let unknown = cluster.server.fly(&["land-worker", "-w", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));

    let landed = cluster.server.fly_ok(&["land-worker", "-w", "w1"]);
    assert_eq!(landed.trim(), "landed 'w1'");
    assert_eq!(worker.wait_exit(LONG), Some(0), "{}", worker.log());
    cluster.wait_for_worker("w1", "landed");

    let worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");
    drop(worker);
    cluster.wait_for_worker("w1", "stalled");
    let pruned = cluster.server.fly_ok(&["prune-worker", "-w", "w1"]);
    assert_eq!(pruned.trim(), "pruned 'w1'");
    let workers = cluster.server.fly_ok(&["workers"]);
    assert!(!workers.contains("w1"), "{workers}");
}

/// A worker killed mid-build: the build errors at once with a message naming the worker, and
/// the next build waits for a worker rather than failing.
pub fn a_worker_killed_mid_build_errors_the_build_naming_it(backend: Backend) {
    let cluster = Cluster::start(backend);
    let pipeline = "jobs:\n- name: slow\n  plan:\n  - task: wait\n    config: {platform: linux, run: {path: sh, args: [-c, 'echo waiting; sleep 5']}}\n";
    cluster.server.set_pipeline("demo", pipeline);
    let worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");
    kill_mid_task(&cluster, worker);
    let watched = cluster.server.fly(&["watch", "-j", "demo/slow", "-b", "1"]);
    let log = String::from_utf8_lossy(&watched.stdout);
    assert!(log.contains("worker w1 at "), "{log}");
}

/// Step tags steer builds: a tagged step runs only on a worker with its tags, an untagged one
/// only on an untagged worker, and one whose tags no worker has waits for one.
pub fn tags_steer_builds_to_the_workers_that_have_them(backend: Backend) {
    let cluster = Cluster::start(backend);
    let pipeline = "jobs:
- name: gpu
  plan:
  - task: t
    tags: [gpu]
    config: {platform: linux, run: {path: sh, args: [-c, 'echo on a gpu']}}
- name: plain
  plan:
  - task: t
    config: {platform: linux, run: {path: sh, args: [-c, 'echo plain']}}
- name: nowhere
  plan:
  - task: t
    tags: [quantum]
    config: {platform: linux, run: {path: 'true'}}
";
    cluster.server.set_pipeline("demo", pipeline);
    let _gpu = cluster.worker("w-gpu", "worker_key", &["--tag", "gpu"]);
    let _plain = cluster.worker("w-plain", "worker_key", &[]);
    cluster.wait_for_worker("w-gpu", "running");
    cluster.wait_for_worker("w-plain", "running");
    for (job, worker) in [("gpu", "w-gpu"), ("plain", "w-plain"), ("gpu", "w-gpu")] {
        let watched = cluster
            .server
            .fly_ok(&["trigger-job", "-j", &format!("demo/{job}"), "-w"]);
        assert!(
            watched.contains(&format!("selected worker: {worker}")),
            "{job}: {watched}"
        );
    }
    cluster
        .server
        .fly_ok(&["trigger-job", "-j", "demo/nowhere"]);
    cluster
        .server
        .wait_for("the untaggable build to wait", LONG, || {
            cluster
                .server
                .job_builds("demo", "nowhere")
                .first()
                .is_some_and(|(_, status)| status == "started")
        });
    let aborted = cluster
        .server
        .fly(&["abort-build", "-j", "demo/nowhere", "-b", "1"]);
    assert!(aborted.status.success());
    let watched = cluster
        .server
        .fly(&["watch", "-j", "demo/nowhere", "-b", "1"]);
    let log = String::from_utf8_lossy(&watched.stdout);
    // Aborted while it waited, whether or not it had said it waits yet.
    assert!(log.trim_end().ends_with("aborted"), "{log}");
    assert!(!log.contains("selected worker"), "{log}");
}

/// A worker killed mid-build leaves its container behind, marked for destruction on record;
/// started again on the same work directory, it reports what it has and its sweeper destroys
/// that container (and what still ran in it), so nothing leaks.
pub fn a_restarted_worker_sweeps_what_a_killed_build_left(backend: Backend) {
    let cluster = Cluster::start(backend);
    let work = tempfile::tempdir().expect("tempdir");
    let pipeline = "jobs:\n- name: slow\n  plan:\n  - task: wait\n    config: {platform: linux, run: {path: sh, args: [-c, 'sleep 120']}}\n";
    cluster.server.set_pipeline("demo", pipeline);
    let sweep = ["--sweep-interval", "1s"];
    let worker = cluster.worker_on("w1", work.path(), &sweep);
    cluster.wait_for_worker("w1", "running");
    kill_mid_task(&cluster, worker);
    let containers_on_disk = || {
        std::fs::read_dir(work.path().join("host/containers"))
            .map(|dir| dir.count())
            .unwrap_or(0)
    };
    assert_eq!(
        containers_on_disk(),
        1,
        "the killed worker left its container"
    );

    let _worker = cluster.worker_on("w1", work.path(), &sweep);
    cluster
        .server
        .wait_for("the sweeper to destroy it", LONG, || {
            containers_on_disk() == 0
        });
    cluster.server.wait_for("its record to go", LONG, || {
        !cluster
            .server
            .fly_ok(&["containers"])
            .lines()
            .any(|line| line.contains("task"))
    });
}

/// Triggers `demo/slow`, kills `worker` once its task runs, and waits for the build to error.
fn kill_mid_task(cluster: &Cluster, worker: crate::cluster::Worker) {
    cluster.server.fly_ok(&["trigger-job", "-j", "demo/slow"]);
    // Created means the worker has it: a row alone may precede the container.
    cluster.server.wait_for("the task's container", LONG, || {
        let containers: serde_json::Value =
            serde_json::from_str(&cluster.server.fly_ok(&["containers", "--json"]))
                .unwrap_or_default();
        containers.as_array().is_some_and(|all| {
            all.iter()
                .any(|c| c["type"] == "task" && c["state"] == "created")
        })
    });
    drop(worker);
    cluster.server.wait_for("the build to end", LONG, || {
        cluster
            .server
            .job_builds("demo", "slow")
            .first()
            .is_some_and(|(_, status)| status == "errored")
    });
}

/// `concorde retire-worker` on the worker's side: the web node removes the worker (no build
/// holds it) and the worker's process exits 0.
pub fn land_and_retire_from_the_worker_end_its_process(backend: Backend) {
    let cluster = Cluster::start(backend);
    // Landed from its own machine first: it exits 0 and is `landed`; started again, it runs.
    let mut worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");
    from_the_worker(&cluster, "land-worker", "w1");
    assert_eq!(worker.wait_exit(LONG), Some(0), "{}", worker.log());
    cluster.wait_for_worker("w1", "landed");
    drop(worker);
    let mut worker = cluster.worker("w1", "worker_key", &[]);
    cluster.wait_for_worker("w1", "running");
    from_the_worker(&cluster, "retire-worker", "w1");
    assert_eq!(worker.wait_exit(LONG), Some(0), "{}", worker.log());
    let workers = cluster.server.fly_ok(&["workers"]);
    assert!(!workers.contains("w1"), "{workers}");
}

/// Runs `command` (`land-worker`, `retire-worker`) as on worker `name`'s machine: its name
/// and TSA flags, no target.
fn from_the_worker(cluster: &Cluster, command: &str, name: &str) {
    let output = std::process::Command::new(crate::harness::binary())
        .args([command, "--name", name, "--tsa-host", &cluster.tsa])
        .arg("--tsa-public-key")
        .arg(cluster.keys.path("host_key.pub"))
        .arg("--tsa-worker-private-key")
        .arg(cluster.keys.path("worker_key"))
        .output()
        .expect("the command runs");
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
