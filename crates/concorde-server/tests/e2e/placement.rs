//! Placement per step across real workers: a build's steps go to the workers their tags ask
//! for, an artifact made on one worker is streamed to the step that needs it on another (through
//! the web node, or straight between peers), and limit-active-tasks makes a task wait for a slot
//! rather than overfill a worker.

use crate::cluster::Cluster;
use crate::harness::{Backend, assert_in_order, free_port};

/// A job whose first task runs on the plain worker and whose others ask for the tag only the
/// other worker has: they read the first one's output, streamed across.
const CROSSING: &str = "jobs:
- name: cross
  plan:
  - task: make
    config:
      platform: linux
      outputs: [{name: out}]
      run: {path: sh, args: [-c, 'echo made on plain > out/file; mkdir out/dir; echo nested > out/dir/f']}
  - task: use
    tags: [gpu]
    config:
      platform: linux
      inputs: [{name: out}]
      run: {path: sh, args: [-c, 'cat out/file out/dir/f']}
  - task: again
    tags: [gpu]
    config:
      platform: linux
      inputs: [{name: out}]
      run: {path: sh, args: [-c, 'echo again; cat out/dir/f']}
";

/// Runs [`CROSSING`] on workers `w-plain` and `w-gpu` and checks what `watch` shows: each step
/// on its worker, the output streamed to `w-gpu` once for both tasks there, then gone with the
/// build.
fn run_crossing(cluster: &Cluster) {
    cluster.server.set_pipeline("demo", CROSSING);
    let watched = cluster
        .server
        .fly_ok(&["trigger-job", "-j", "demo/cross", "-w"]);
    assert_in_order(
        &watched,
        &[
            "selected worker: w-plain",
            "selected worker: w-gpu",
            "streaming volume",
            "from worker w-plain",
            "made on plain\nnested\n",
            "selected worker: w-gpu",
            "again\nnested\n",
            "succeeded",
        ],
    );
    assert_eq!(watched.matches("streaming volume").count(), 1, "{watched}");
    let volumes = cluster.server.fly_ok(&["volumes"]);
    assert!(!volumes.contains("stream"), "{volumes}");
    let artifacts = cluster.server.get_json("/api/v1/builds/1/artifacts");
    assert_eq!(artifacts, serde_json::json!([]));
}

/// Through the web node's tunnels (the workers take no streams from their peers).
pub fn an_artifact_crosses_workers_to_a_tagged_step(backend: Backend) {
    let cluster = Cluster::start(backend);
    let _gpu = cluster.worker("w-gpu", "worker_key", &["--tag", "gpu"]);
    let _plain = cluster.worker("w-plain", "worker_key", &[]);
    cluster.wait_for_worker("w-gpu", "running");
    cluster.wait_for_worker("w-plain", "running");
    run_crossing(&cluster);
}

/// Straight from worker to worker: the web node streams peer to peer and the receiving worker
/// has a peer address.
pub fn peer_workers_take_artifacts_straight_from_each_other(backend: Backend) {
    let cluster = Cluster::start_with(backend, "127.0.0.1", &["--enable-p2p-volume-streaming"]);
    let peer = format!("127.0.0.1:{}", free_port());
    let gpu = cluster.worker(
        "w-gpu",
        "worker_key",
        &["--tag", "gpu", "--p2p-bind", &peer],
    );
    let _plain = cluster.worker("w-plain", "worker_key", &[]);
    cluster.wait_for_worker("w-gpu", "running");
    cluster.wait_for_worker("w-plain", "running");
    run_crossing(&cluster);
    assert!(
        gpu.log().contains("streaming in from a peer"),
        "{}",
        gpu.log()
    );
}

/// With limit-active-tasks at one task per worker, two parallel tasks on one worker run one
/// after the other: the second waits, saying why, and every slot is given back at the end.
pub fn limit_active_tasks_makes_a_task_wait_for_a_slot(backend: Backend) {
    let cluster = Cluster::start_with(
        backend,
        "127.0.0.1",
        &[
            "--container-placement-strategy",
            "limit-active-tasks",
            "--max-active-tasks-per-worker",
            "1",
        ],
    );
    let task = |name: &str| {
        format!(
            "    - task: {name}\n      config: {{platform: linux, run: {{path: sh, args: [-c, 'echo {name} starts; sleep 1; echo {name} ends']}}}}\n"
        )
    };
    let pipeline = format!(
        "jobs:\n- name: pair\n  plan:\n  - in_parallel:\n{}{}",
        task("one"),
        task("two")
    );
    cluster.server.set_pipeline("demo", &pipeline);
    let _worker = cluster.worker("w-one", "worker_key", &[]);
    cluster.wait_for_worker("w-one", "running");
    let watched = cluster
        .server
        .fly_ok(&["trigger-job", "-j", "demo/pair", "-w"]);
    assert!(
        watched.contains("All workers are busy at the moment, please stand-by."),
        "{watched}"
    );
    let position = |text: &str| {
        watched
            .find(text)
            .unwrap_or_else(|| panic!("{text:?} missing from:\n{watched}"))
    };
    // Whichever ran first ended before the other started.
    let (first, second) = if position("one starts") < position("two starts") {
        ("one", "two")
    } else {
        ("two", "one")
    };
    assert!(
        position(&format!("{first} ends")) < position(&format!("{second} starts")),
        "{watched}"
    );
    assert!(watched.trim_end().ends_with("succeeded"), "{watched}");
    let workers = cluster.server.get_json("/api/v1/workers");
    assert_eq!(workers[0]["active_tasks"], 0, "{workers}");
}
