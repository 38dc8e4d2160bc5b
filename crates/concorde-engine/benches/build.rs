//! Benchmark: a one-task build from plan to finish, on the host runtime and (when run as root
//! with runc and busybox-static installed) in a runc container. Run with
//! `cargo bench -p concorde-engine`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline};
use concorde_engine::{
    BuildContext, BuildStatus, CacheLocks, CollectingSink, RunEnv, compile_job_plan, run_build,
};
use concorde_worker::{HostRuntime, RuncRuntime, Runtime};

#[path = "../tests/common/one_worker.rs"]
mod one_worker;
#[path = "../tests/common/unrecorded.rs"]
mod unrecorded;

fn pipeline(rootfs: Option<&std::path::Path>) -> String {
    let image = rootfs.map_or(String::new(), |path| {
        format!("      rootfs_uri: raw://{}\n", path.display())
    });
    format!(
        "jobs:\n- name: j\n  plan:\n  - task: t\n    config:\n      platform: linux\n{image}      run: {{path: /bin/sh, args: [-c, 'echo hi']}}\n"
    )
}

async fn measure(label: &str, runtime: Arc<dyn Runtime>, yaml: &str) {
    let config = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
        .expect("loads")
        .pipeline;
    let locks = Arc::new(CacheLocks::default());
    let mut samples = Vec::new();
    for build_id in 0..30 {
        let started = Instant::now();
        let plan = compile_job_plan(&config, &config.jobs[0], &BTreeMap::new()).expect("compiles");
        let events = Arc::new(CollectingSink::default());
        let context = BuildContext {
            build_id,
            build_name: build_id.to_string(),
            ..BuildContext::default()
        };
        let worker = Arc::new(unrecorded::UnrecordedWorker::new(runtime.clone(), None));
        let placer = Arc::new(one_worker::OneWorker::new(worker, Default::default()));
        let env = RunEnv::new(context, placer, events.clone(), locks.clone());
        let status = run_build(Arc::new(env), &plan).await;
        assert_eq!(status, BuildStatus::Succeeded, "{}", events.log_text());
        samples.push(started.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "one-task build, plan to finish, {label}: median {:.1} ms, fastest {:.1} ms over {} builds",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        samples.len()
    );
}

/// A busybox rootfs, from Debian's busybox-static.
fn busybox_rootfs(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let busybox = std::path::Path::new("/bin/busybox");
    if !busybox.exists() {
        return None;
    }
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).ok()?;
    std::fs::copy(busybox, rootfs.join("bin/busybox")).ok()?;
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).ok()?;
    Some(rootfs)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host: Arc<dyn Runtime> =
        Arc::new(HostRuntime::new(&dir.path().join("host")).expect("host runtime"));
    measure("host runtime", host, &pipeline(None)).await;
    let is_root = std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
    });
    match (is_root, busybox_rootfs(dir.path())) {
        (true, Some(rootfs)) => match RuncRuntime::new(&dir.path().join("runc")) {
            Ok(runc) => measure("runc runtime", Arc::new(runc), &pipeline(Some(&rootfs))).await,
            Err(err) => println!("runc runtime unavailable: {err}"),
        },
        _ => println!("runc measurement skipped: needs root and /bin/busybox (busybox-static)"),
    }
}
