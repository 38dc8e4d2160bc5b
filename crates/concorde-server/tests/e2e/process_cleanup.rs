//! No process a step starts outlives the step: not after a step timeout, an abort, a check
//! timeout, a SIGTERM of the node or a kill -9 of it (the next start kills them), nor when
//! its pipeline is destroyed. Each step
//! leaves a background process behind on purpose; they are counted by a marker in their
//! environment.

use std::path::Path;
use std::time::Duration;

use crate::harness::{Backend, Server, WorkerRuntime, base_type_script};
use crate::processes::processes_marked;

const LONG: Duration = Duration::from_secs(60);

/// A task that starts a background process, says so, and waits for it.
fn sleeper_job(name: &str, marker: &str, extra: &str) -> String {
    format!(
        "- name: {name}\n  plan:\n  - task: sleepers\n{extra}    config:\n      platform: linux\n      params: {{PROBE: {marker}}}\n      run: {{path: sh, args: [-c, 'sleep 1000 & echo sleeper started; wait']}}\n"
    )
}

/// A base type `hang` whose check starts a background process, marks `started`, and hangs.
fn hanging_type(types: &Path, marker: &str, started: &Path) {
    let script = format!(
        "#!/bin/sh\nexport PROBE={marker}\nsleep 1000 &\ntouch {}\nwait\n",
        started.display()
    );
    base_type_script(types, "hang", "check", &script);
}

fn status(server: &Server, job: &str) -> Option<String> {
    server
        .job_builds("probe", job)
        .into_iter()
        .next()
        .map(|(_, status)| status)
}

fn has_ended(server: &Server, job: &str) -> bool {
    status(server, job).is_some_and(|status| !matches!(status.as_str(), "pending" | "started"))
}

fn start_and_wait_for_its_processes(server: &Server, job: &str, marker: &str) {
    server.fly_ok(&["trigger-job", "-j", &format!("probe/{job}")]);
    server.wait_for(&format!("{job}'s background process"), LONG, || {
        processes_marked(marker) > 0
    });
}

fn wait_for_none(server: &Server, what: &str, marker: &str) {
    server.wait_for(what, Duration::from_secs(15), || {
        processes_marked(marker) == 0
    });
}

fn containers_left(server: &Server) -> usize {
    let dir = server.data.path().join("worker/host/containers");
    std::fs::read_dir(&dir).map_or(0, Iterator::count)
}

pub fn no_process_outlives_its_step(backend: Backend) {
    let run = format!("{}-{backend:?}", std::process::id());
    let marker = |what: &str| format!("{what}-{run}");
    let types = tempfile::tempdir().expect("tempdir");
    let check_started = types.path().join("check-started");
    hanging_type(types.path(), &marker("check"), &check_started);
    let dir = types.path().display().to_string();
    let mut server =
        Server::start_with_args(backend, WorkerRuntime::Host, &["--resource-types", &dir]);
    let pipeline = format!(
        "resources:\n- name: hung\n  type: hang\n  check_every: 1h\n  check_timeout: 2s\n  source: {{}}\njobs:\n- name: waits\n  plan:\n  - get: hung\n    trigger: true\n{}{}{}{}{}",
        sleeper_job("timed", &marker("timed"), "    timeout: 2s\n"),
        sleeper_job("aborted", &marker("aborted"), ""),
        sleeper_job("stopped", &marker("stopped"), ""),
        sleeper_job("crashed", &marker("crashed"), ""),
        sleeper_job("destroyed", &marker("destroyed"), ""),
    );
    server.set_pipeline("probe", &pipeline);

    // A step timeout.
    server.fly_ok(&["trigger-job", "-j", "probe/timed"]);
    server.wait_for("the timed-out build", LONG, || has_ended(&server, "timed"));
    let log = server.fly(&["watch", "-j", "probe/timed"]);
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains("sleeper started"), "{log}");
    wait_for_none(
        &server,
        "the timed-out step's processes to go",
        &marker("timed"),
    );

    // An abort.
    start_and_wait_for_its_processes(&server, "aborted", &marker("aborted"));
    server.fly_ok(&["abort-build", "-j", "probe/aborted", "-b", "1"]);
    server.wait_for("the abort", LONG, || has_ended(&server, "aborted"));
    wait_for_none(
        &server,
        "the aborted step's processes to go",
        &marker("aborted"),
    );

    // A check timeout: the check runs once (the pipeline is new), hangs, and is stopped.
    server.wait_for("the check to time out", LONG, || {
        server.get_json("/api/v1/teams/main/pipelines/probe/resources/hung")["last_checked"]
            .is_i64()
    });
    assert!(check_started.exists(), "the check script ran");
    wait_for_none(
        &server,
        "the timed-out check's processes to go",
        &marker("check"),
    );

    // SIGTERM: the node stops its builds, which end errored, and leaves nothing running.
    start_and_wait_for_its_processes(&server, "stopped", &marker("stopped"));
    server.stop();
    wait_for_none(
        &server,
        "the stopped node's processes to go",
        &marker("stopped"),
    );
    assert_eq!(containers_left(&server), 0, "containers left after SIGTERM");
    server.spawn();
    assert_eq!(status(&server, "stopped").as_deref(), Some("errored"));
    let log = server.fly(&["watch", "-j", "probe/stopped"]);
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains("cannot be resumed"), "{log}");

    // kill -9: nothing can stop the processes then; the next start kills them.
    start_and_wait_for_its_processes(&server, "crashed", &marker("crashed"));
    server.kill();
    assert!(
        processes_marked(&marker("crashed")) > 0,
        "a crash stops nothing by itself"
    );
    server.spawn();
    wait_for_none(
        &server,
        "the crashed node's processes to go",
        &marker("crashed"),
    );
    assert_eq!(containers_left(&server), 0, "containers left after a crash");

    // Destroying the pipeline stops its running build.
    start_and_wait_for_its_processes(&server, "destroyed", &marker("destroyed"));
    server.fly_ok(&["destroy-pipeline", "-p", "probe", "-n"]);
    wait_for_none(
        &server,
        "the destroyed pipeline's processes to go",
        &marker("destroyed"),
    );
}
