//! Benchmark of artifact streaming between two workers (run with `cargo bench -p
//! concorde-server --bench streaming`): a web node and two `concorde worker` processes on the
//! host runtime, registered through the TSA on loopback. A job makes an output and hands it
//! to a task on the same worker (`local`) or on the other one, by tag (`cross`); the
//! difference of their median durations is the time the stream took (worker to web node to
//! worker, through both SSH tunnels; or straight from worker to worker with
//! `--enable-p2p-volume-streaming` and `--p2p-bind`), and the difference of the three
//! processes' CPU time is what it cost. Two kinds of data: random bytes and base64 text.

mod common;

use std::time::Instant;

use common::{Killed, Web, cpu_seconds, keys, start_web, start_worker, wait};

const MIB: usize = 512;
const ROUNDS: usize = 3;

fn pipeline(make: &str) -> String {
    let job = |name: &str, tags: &str| {
        format!(
            "- name: {name}\n  plan:\n  - task: make\n    config:\n      platform: linux\n      outputs: [{{name: out}}]\n      run: {{path: sh, args: [-c, '{make}']}}\n  - task: use\n    tags: [{tags}]\n    config:\n      platform: linux\n      inputs: [{{name: out}}]\n      run: {{path: 'true'}}\n"
        )
    };
    format!("jobs:\n{}{}", job("local", ""), job("cross", "far"))
}

/// Median wall seconds of `job`'s builds, and the median CPU seconds of the web node and each
/// worker.
fn measure(web: &Web, workers: &[&Killed], pipeline: &str, job: &str) -> (f64, [f64; 3]) {
    let mut walls = Vec::new();
    let mut cpus: [Vec<f64>; 3] = Default::default();
    let cpu = || {
        [
            cpu_seconds(web.pid()),
            cpu_seconds(workers[0].0.id()),
            cpu_seconds(workers[1].0.id()),
        ]
    };
    for _ in 0..ROUNDS {
        let before = cpu();
        let started = Instant::now();
        let id = web.trigger(pipeline, job);
        assert_eq!(web.finish(id), "succeeded", "{job} build {id}");
        walls.push(started.elapsed().as_secs_f64());
        let after = cpu();
        for (process, samples) in cpus.iter_mut().enumerate() {
            samples.push(after[process] - before[process]);
        }
    }
    walls.sort_by(f64::total_cmp);
    let median = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[ROUNDS / 2]
    };
    let [web_cpu, near_cpu, far_cpu] = cpus;
    (
        walls[ROUNDS / 2],
        [median(web_cpu), median(near_cpu), median(far_cpu)],
    )
}

fn main() {
    let keys_dir = tempfile::tempdir().expect("tempdir");
    keys(keys_dir.path());
    let peer = format!("127.0.0.1:{}", common::free_port());
    let modes: [(&str, Vec<&str>, Vec<&str>); 4] = [
        (
            "through the web node, raw",
            vec!["--streaming-artifacts-compression", "raw"],
            vec!["--tag", "far"],
        ),
        (
            "through the web node, zstd",
            vec!["--streaming-artifacts-compression", "zstd"],
            vec!["--tag", "far"],
        ),
        (
            "peer to peer, raw",
            vec![
                "--enable-p2p-volume-streaming",
                "--streaming-artifacts-compression",
                "raw",
            ],
            vec!["--tag", "far", "--p2p-bind", &peer],
        ),
        (
            "peer to peer, zstd",
            vec![
                "--enable-p2p-volume-streaming",
                "--streaming-artifacts-compression",
                "zstd",
            ],
            vec!["--tag", "far", "--p2p-bind", &peer],
        ),
    ];
    for (mode, web_flags, far_flags) in modes {
        let web = start_web(keys_dir.path(), &web_flags);
        let near_dir = tempfile::tempdir().expect("tempdir");
        let far_dir = tempfile::tempdir().expect("tempdir");
        let near = start_worker(&web, keys_dir.path(), "near", near_dir.path(), &[]);
        let far = start_worker(&web, keys_dir.path(), "far", far_dir.path(), &far_flags);
        for name in ["near", "far"] {
            wait("registration", || {
                web.worker_state(name).as_deref() == Some("running")
            });
        }
        let kinds = [
            (
                "random bytes",
                format!("head -c {MIB}M /dev/urandom > out/data"),
            ),
            (
                "base64 text",
                format!("head -c {}M /dev/urandom | base64 > out/data", MIB * 3 / 4),
            ),
        ];
        for (index, (kind, make)) in kinds.iter().enumerate() {
            let name = format!("p{index}");
            web.set_pipeline(&name, &pipeline(make));
            let (local, local_cpu) = measure(&web, &[&near, &far], &name, "local");
            let (cross, cross_cpu) = measure(&web, &[&near, &far], &name, "cross");
            let streaming = (cross - local).max(f64::EPSILON);
            let extra: Vec<f64> = (0..3).map(|i| cross_cpu[i] - local_cpu[i]).collect();
            println!(
                "{mode}: {MIB} MiB of {kind} between two workers: {:.0} MB/s ({:.2} s more than on one worker, median of {ROUNDS}); CPU s more: web node {:.2}, sending worker {:.2}, receiving worker {:.2}",
                (MIB * 1024 * 1024) as f64 / 1e6 / streaming,
                streaming,
                extra[0],
                extra[1],
                extra[2]
            );
        }
    }
}
