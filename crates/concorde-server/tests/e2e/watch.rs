//! `concorde watch -j` of a job that has no build yet waits for its first build and streams
//! it, as fly does.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Backend, Server};

pub fn watch_waits_for_a_jobs_first_build(backend: Backend) {
    let server = Server::start(backend);
    server.set_pipeline(
        "p",
        "jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: echo, args: [first-build]}}\n",
    );
    let watcher = server
        .fly_command(&["watch", "-j", "p/j"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch starts");
    // Give the watcher time to find no build (nothing observable says it looked; were it
    // slower, the test would still pass, only without exercising the wait).
    std::thread::sleep(Duration::from_millis(300));
    server.fly_ok(&["trigger-job", "-j", "p/j"]);
    let output = watcher.wait_with_output().expect("watch ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("first-build"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("succeeded"), "{stdout}");
}
