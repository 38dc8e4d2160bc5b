//! End-to-end on the runc runtime: `concorde quickstart --runtime runc` fetches a git resource
//! with the built-in type (run by this binary in a container of the worker's own root
//! filesystem) and runs a task in a busybox rootfs container.
//!
//! Needs root, `runc`, `ip`, `iptables` and `busybox-static` (CI installs them); it fails
//! loudly without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[allow(dead_code, reason = "the shared e2e harness refers to it")]
#[path = "support/follow_events.rs"]
mod follow_events;
#[allow(dead_code, reason = "this flow uses part of the shared e2e harness")]
#[path = "e2e/harness.rs"]
mod harness;
#[path = "support/processes.rs"]
mod processes;

use std::path::Path;
use std::time::Duration;

use harness::{Backend, Repo, Server, WorkerRuntime};

/// Fails unless this machine can run runc containers.
fn require_runc() {
    let root = std::process::Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&root.stdout).trim(),
        "0",
        "the runc e2e test must run as root (CI does); it does not skip"
    );
    let runc = std::process::Command::new("runc").arg("--version").output();
    assert!(
        runc.is_ok_and(|out| out.status.success()),
        "runc is not installed: apt-get install runc busybox-static iproute2 iptables"
    );
}

/// A minimal rootfs in `dir`: a static busybox as `sh`, `cat`, `readlink` and `sleep`.
fn busybox_rootfs(dir: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "readlink", "sleep"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
}

#[test]
fn a_git_get_and_a_task_run_in_runc_containers() {
    require_runc();
    let image = tempfile::tempdir().unwrap();
    busybox_rootfs(image.path());
    let mut server = Server::start_with(Backend::Sqlite, WorkerRuntime::Runc);
    // Resource containers have a fresh /tmp of their own: the repository lives elsewhere on
    // the root filesystem, which they see read-only.
    let repo = Repo::new_in(Path::new("/var/tmp"));
    repo.commit("fetched under runc");
    let pipeline = format!(
        "resources:\n- name: repo\n  type: git\n  check_every: 1s\n  source: {{uri: {uri}, branch: main}}\n\
         jobs:\n- name: unit\n  plan:\n  - get: repo\n    trigger: true\n  - task: test\n    config:\n      \
         platform: linux\n      rootfs_uri: raw://{rootfs}\n      inputs: [{{name: repo}}]\n      \
         run: {{path: sh, args: [-c, 'echo content: $(cat repo/file); echo sh is $(readlink /bin/sh)']}}\n",
        uri = repo.uri(),
        rootfs = image.path().display(),
    );
    server.set_pipeline("demo", &pipeline);
    server.wait_for("the build to finish", Duration::from_secs(120), || {
        server
            .job_builds("demo", "unit")
            .first()
            .is_some_and(|(_, status)| !matches!(status.as_str(), "pending" | "started"))
    });
    let watched = server.fly(&["watch", "-j", "demo/unit"]);
    let output = String::from_utf8_lossy(&watched.stdout);
    assert!(output.contains("content: fetched under runc"), "{output}");
    // The task ran in the busybox image, not on the host.
    assert!(output.contains("sh is busybox"), "{output}");
    assert!(output.trim_end().ends_with("succeeded"), "{output}");
    assert_eq!(server.job_builds("demo", "unit")[0].1, "succeeded");

    server.fly_ok(&["pause-pipeline", "-p", "demo"]);
    server.stop();
    // Nothing stays mounted in the data directory (its removal must not reach into a rootfs).
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let data = server.data.path().to_str().unwrap();
    assert!(
        !mounts.contains(data),
        "a stopped node left mounts in {data}:\n{mounts}"
    );
}

/// A runc container's processes die with their build when the node stops (SIGTERM), and
/// those of a node killed with kill -9 die when it starts again.
#[test]
fn no_container_process_outlives_the_node() {
    require_runc();
    let image = tempfile::tempdir().unwrap();
    busybox_rootfs(image.path());
    let mut server = Server::start_with(Backend::Sqlite, WorkerRuntime::Runc);
    let marker = format!("runc-{}", std::process::id());
    let pipeline = format!(
        "jobs:\n- name: sleeps\n  plan:\n  - task: sleepers\n    config:\n      platform: linux\n      \
         rootfs_uri: raw://{rootfs}\n      params: {{PROBE: {marker}}}\n      \
         run: {{path: sh, args: [-c, 'sleep 1000 & wait']}}\n",
        rootfs = image.path().display(),
    );
    server.set_pipeline("demo", &pipeline);
    let start = |server: &Server| {
        server.fly_ok(&["trigger-job", "-j", "demo/sleeps"]);
        server.wait_for("the container's processes", Duration::from_secs(60), || {
            processes::processes_marked(&marker) > 0
        });
    };
    let none_left = |server: &Server, what: &str| {
        server.wait_for(what, Duration::from_secs(15), || {
            processes::processes_marked(&marker) == 0
        });
    };

    start(&server);
    server.kill();
    assert!(
        processes::processes_marked(&marker) > 0,
        "a crash stops nothing by itself"
    );
    server.spawn();
    none_left(&server, "the crashed node's container processes to die");

    start(&server);
    server.stop();
    none_left(&server, "the stopped node's container processes to die");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let data = server.data.path().to_str().unwrap();
    assert!(
        !mounts.contains(data),
        "a stopped node left mounts in {data}"
    );
}
