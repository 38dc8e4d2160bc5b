//! Benchmark of workers on their own (run with `cargo bench -p concorde-server --bench
//! workers`), each figure over fresh processes on SQLite:
//! - worker start to registered, and to the first build (one that waited for a worker) placed
//!   on it and finished (target: placed under 1 s);
//! - stall detection: a worker killed with `kill -9` (heartbeat 1 s, so a TTL of 2 s) until the
//!   web node shows it `stalled`.

mod common;

use std::time::Instant;

use common::{keys, median, start_web, start_worker, wait};

const ROUNDS: usize = 5;

fn main() {
    let keys_dir = tempfile::tempdir().expect("tempdir");
    keys(keys_dir.path());
    let (mut registered, mut placed, mut finished, mut stalled) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let web = start_web(keys_dir.path(), &[]);
        let build = web.waiting_build();
        wait("the build to start", || {
            web.get(&format!("/api/v1/builds/{build}"))["status"] == "started"
        });
        let work = tempfile::tempdir().expect("tempdir");
        let name = format!("w{round}");
        let started = Instant::now();
        let worker = start_worker(&web, keys_dir.path(), &name, work.path(), &[]);
        wait("registration", || {
            web.worker_state(&name).as_deref() == Some("running")
        });
        registered.push(started.elapsed());
        wait("placement", || {
            web.get("/api/v1/teams/main/containers")
                .as_array()
                .is_some_and(|containers| !containers.is_empty())
        });
        placed.push(started.elapsed());
        wait("the build to finish", || {
            web.get(&format!("/api/v1/builds/{build}"))["status"] == "succeeded"
        });
        finished.push(started.elapsed());
        drop(worker);
        let killed = Instant::now();
        wait("the stall", || {
            web.worker_state(&name).as_deref() == Some("stalled")
        });
        stalled.push(killed.elapsed());
    }
    println!(
        "worker start to registered: median {:.0} ms; to its first container (build placed): median {:.0} ms; to that build finished: median {:.0} ms ({ROUNDS} rounds)",
        median(registered),
        median(placed),
        median(finished)
    );
    println!(
        "kill -9 of a worker with a 2 s TTL to stalled: median {:.0} ms ({ROUNDS} rounds; TTL plus up to one 10 s lifecycle tick)",
        median(stalled)
    );
}
