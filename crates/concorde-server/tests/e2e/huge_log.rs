//! A huge build log read by several followers at once: the node holds a page of it per
//! reader, not the whole log, and its memory stays small.

use std::time::Duration;

use crate::harness::{Backend, Server};

/// Bytes of log the build prints (base64 of random bytes: text that hardly compresses).
const LOG_BYTES: usize = 40_000_000;
const READERS: usize = 8;
/// The node's peak resident memory must stay under this, all readers at once included.
const PEAK_LIMIT: u64 = 200 * 1024 * 1024;

pub fn a_huge_log_read_by_eight_followers_holds_little_memory(backend: Backend) {
    let server = Server::start(backend);
    let raw = LOG_BYTES / 4 * 3;
    server.set_pipeline(
        "demo",
        &format!(
            "jobs:\n- name: loud\n  plan:\n  - task: t\n    config: {{platform: linux, run: {{path: sh, args: [-c, 'head -c {raw} /dev/urandom | base64']}}}}\n"
        ),
    );
    server.fly_ok(&["trigger-job", "-j", "demo/loud"]);
    server.wait_for("the loud build", Duration::from_secs(120), || {
        server
            .job_builds("demo", "loud")
            .first()
            .is_some_and(|(_, status)| status == "succeeded")
    });
    let id = server.get_json("/api/v1/teams/main/pipelines/demo/jobs/loud/builds")[0]["id"]
        .as_i64()
        .expect("a build id");
    let read: Vec<usize> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..READERS)
            .map(|_| scope.spawn(|| server.follow_events(id).bytes))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("a reader"))
            .collect()
    });
    for bytes in read {
        assert!(bytes > LOG_BYTES, "a reader got only {bytes} bytes");
    }
    let peak = server.peak_rss();
    assert!(
        peak < PEAK_LIMIT,
        "the node peaked at {} MiB",
        peak / 1024 / 1024
    );
}
