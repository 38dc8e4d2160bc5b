//! Container lifecycle and volume streaming figures: `cargo bench -p concorde-worker`.
//!
//! Prints medians over repeated runs of create + run(`true`) + destroy for the runc backend
//! (own network namespace, and the host's) and the host backend, and the throughput of a
//! volume-to-volume tar stream (the `tar` crate, which the runtime uses, against the system
//! `tar` binary piped into itself). The runc figures need root, runc and busybox-static; they
//! are reported as skipped otherwise.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on unexpected errors"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::busybox::busybox;
use common::{Counted, mount, sh, spec, vol, volume_with};
use concorde_worker::{
    ContainerHandle, ExitStatus, HostRuntime, ImageSpec, NetworkMode, ProcessIo, RuncOptions,
    RuncRuntime, Runtime,
};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 50;

/// Per-phase timings of one lifecycle.
#[derive(Default)]
struct Phases {
    create: Vec<Duration>,
    run: Vec<Duration>,
    destroy: Vec<Duration>,
    total: Vec<Duration>,
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Times create + run(`true`) + destroy, with one volume mounted as a task would have.
async fn lifecycle(runtime: &dyn Runtime, image: ImageSpec, label: &str) {
    volume_with(runtime, "bench-input", &[("file", "x")]).await;
    let mut phases = Phases::default();
    for n in 0..RUNS + 3 {
        let handle = format!("bench-{n}");
        let mut container = spec(&handle, image.clone());
        container.mounts = vec![mount("bench-input", "/tmp/build/abcd/input")];
        let start = Instant::now();
        runtime.create_container(container).await.unwrap();
        let created = Instant::now();
        let io = ProcessIo {
            stdin: None,
            stdout: Box::new(Counted::default()),
            stderr: Box::new(Counted::default()),
        };
        let status = runtime
            .run(
                &ContainerHandle(handle.clone()),
                sh("true"),
                io,
                CancellationToken::new(),
            )
            .await;
        assert_eq!(status.unwrap(), ExitStatus::Exited(0));
        let ran = Instant::now();
        runtime
            .destroy_container(&ContainerHandle(handle))
            .await
            .unwrap();
        let destroyed = Instant::now();
        // The first runs warm caches (page cache, runc's binary, iptables setup).
        if n >= 3 {
            phases.create.push(created - start);
            phases.run.push(ran - created);
            phases.destroy.push(destroyed - ran);
            phases.total.push(destroyed - start);
        }
    }
    let mut sorted_total = phases.total.clone();
    sorted_total.sort();
    println!(
        "{label:<34} median {:>9}  (create {}, run {}, destroy {}; min {}, p90 {})  over {RUNS} runs",
        ms(median(&mut phases.total)),
        ms(median(&mut phases.create)),
        ms(median(&mut phases.run)),
        ms(median(&mut phases.destroy)),
        ms(sorted_total[0]),
        ms(sorted_total[sorted_total.len() * 9 / 10]),
    );
}

fn runc_unavailable() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root");
    }
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("runc not installed");
    }
    if !std::path::Path::new("/bin/busybox").exists() {
        return Some("busybox-static not installed");
    }
    None
}

/// Streams a tree of many small files and one big file between two volumes.
async fn streaming(runtime: &HostRuntime) {
    let source = runtime
        .create_volume(&vol("stream-src"), concorde_worker::VolumeStrategy::Empty)
        .await
        .unwrap()
        .path;
    for n in 0..2000 {
        let dir = source.join(format!("dir{}", n % 50));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("file{n}")), vec![b'x'; 16 * 1024]).unwrap();
    }
    std::fs::write(source.join("big"), vec![7u8; 64 * 1024 * 1024]).unwrap();
    let bytes = 2000.0 * 16.0 * 1024.0 + 64.0 * 1024.0 * 1024.0;
    let mut crate_times = Vec::new();
    let mut system_times = Vec::new();
    for n in 0..5 {
        let target = vol(&format!("stream-dst-{n}"));
        let target_path = runtime
            .create_volume(&target, concorde_worker::VolumeStrategy::Empty)
            .await
            .unwrap()
            .path;
        let (writer, reader) = tokio::io::duplex(256 * 1024);
        let start = Instant::now();
        let source_handle = vol("stream-src");
        let (out, into) = tokio::join!(
            runtime.stream_out(&source_handle, ".", Box::new(writer)),
            runtime.stream_in(&target, ".", Box::new(reader)),
        );
        out.unwrap();
        into.unwrap();
        crate_times.push(start.elapsed());
        std::fs::remove_dir_all(&target_path).unwrap();
        std::fs::create_dir(&target_path).unwrap();
        let start = Instant::now();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "tar -C {} -cf - . | tar -C {} -xf -",
                source.display(),
                target_path.display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
        system_times.push(start.elapsed());
        runtime.destroy_volume(&target).await.unwrap();
    }
    let rate = |time: Duration| format!("{:.0} MB/s", bytes / time.as_secs_f64() / 1e6);
    let (crate_median, system_median) = (median(&mut crate_times), median(&mut system_times));
    println!(
        "stream out+in, 96 MB in 2001 files: tar crate {} ({}), system tar {} ({})",
        ms(crate_median),
        rate(crate_median),
        ms(system_median),
        rate(system_median)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let host_dir = tempfile::tempdir().unwrap();
    let host = HostRuntime::new(host_dir.path()).unwrap();
    lifecycle(&host, ImageSpec::None, "host create+run(true)+destroy").await;

    match runc_unavailable() {
        Some(reason) => println!("runc figures skipped: {reason}"),
        None => {
            for (network, label) in [
                (
                    NetworkMode::Isolated(Default::default()),
                    "runc create+run(true)+destroy",
                ),
                (NetworkMode::Host, "runc, host network"),
            ] {
                let dir = tempfile::tempdir().unwrap();
                let options = RuncOptions {
                    network,
                    ..RuncOptions::default()
                };
                let runtime = RuncRuntime::with_options(dir.path(), options).unwrap();
                let image = busybox(&runtime).await;
                lifecycle(&runtime, image, label).await;
                if network == NetworkMode::Host {
                    let mut copies = Vec::new();
                    for n in 0..10 {
                        let start = Instant::now();
                        let child = concorde_worker::VolumeStrategy::CopyOnWrite(vol("image"));
                        runtime
                            .create_volume(&vol(&format!("image-copy-{n}")), child)
                            .await
                            .unwrap();
                        copies.push(start.elapsed());
                    }
                    println!(
                        "copy-on-write child of the busybox image (400 entries): {}",
                        ms(median(&mut copies))
                    );
                }
                // Unmount the copy-on-write children before the directory goes.
                for handle in runtime.list_volumes().await.unwrap() {
                    runtime.destroy_volume(&handle).await.unwrap();
                }
            }
        }
    }
    streaming(&host).await;
}
