//! End-to-end on the runc runtime: a pipeline's custom `resource_types` entry whose image is
//! fetched with the built-in `registry-image` type from a real local registry, after which the
//! resource's own `/opt/resource/check` and `/opt/resource/in` scripts run in containers of
//! that image, and a task reads what `in` wrote.
//!
//! Needs root, `runc`, `docker-registry`, `skopeo`, `umoci` and `busybox-static` (CI installs
//! them); it fails loudly without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[allow(dead_code, reason = "this flow uses part of the shared e2e harness")]
#[path = "e2e/harness.rs"]
mod harness;

#[allow(dead_code, reason = "this flow uses the registry and the push helpers only")]
#[path = "../../concorde-resource/tests/resource/registry_fixture.rs"]
mod registry_fixture;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Backend, Server, WorkerRuntime};
use registry_fixture::{TestRegistry, skopeo_push, tool};

/// The resource's check: reads its request, then reports one version.
const CHECK: &str = "#!/bin/sh\ncat >/dev/null\necho '[{\"n\":\"1\"}]'\n";

/// The resource's in: reads its request, writes `value` into the destination `$1`, then
/// reports the version it fetched.
const IN: &str = "#!/bin/sh\ncat >/dev/null\necho counted-by-custom-type >\"$1/value\"\necho '{\"version\":{\"n\":\"1\"}}'\n";

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

/// A minimal rootfs in `dir`: a static busybox as `sh` and `cat`.
fn busybox_rootfs(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
}

/// Builds an OCI layout under `work` whose tag `latest` is the `counter` resource type:
/// busybox plus executable `/opt/resource/{check,in}`.
fn build_counter_layout(work: &Path) -> PathBuf {
    let layout = work.join("layout");
    let image = format!("{}:latest", layout.display());
    tool("umoci", &["init", "--layout", layout.to_str().unwrap()]);
    tool("umoci", &["new", "--image", &image]);
    let rootfs = work.join("layer");
    busybox_rootfs(&rootfs);
    std::fs::create_dir_all(rootfs.join("opt/resource")).unwrap();
    for (name, script) in [("check", CHECK), ("in", IN)] {
        let path = rootfs.join("opt/resource").join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    tool("umoci", &["insert", "--image", &image, rootfs.to_str().unwrap(), "/"]);
    tool("umoci", &["config", "--image", &image, "--config.env", "PATH=/bin"]);
    layout
}

#[test]
fn a_custom_resource_type_from_a_registry_runs_its_own_scripts() {
    require_runc();
    let work = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&work.path().join("registry"), false);
    let layout = build_counter_layout(work.path());
    skopeo_push(&layout, "latest", &format!("{}/counter:latest", registry.addr), None, None);
    let task_rootfs = work.path().join("task-rootfs");
    busybox_rootfs(&task_rootfs);

    let mut server = Server::start_with(Backend::Sqlite, WorkerRuntime::Runc);
    let pipeline = format!(
        "resource_types:\n- name: counter\n  type: registry-image\n  source: {{repository: {addr}/counter, insecure: true}}\n\
         resources:\n- name: count\n  type: counter\n  check_every: 1s\n  source: {{}}\n\
         jobs:\n- name: read\n  plan:\n  - get: count\n    trigger: true\n  - task: show\n    config:\n      \
         platform: linux\n      rootfs_uri: raw://{rootfs}\n      inputs: [{{name: count}}]\n      \
         run: {{path: sh, args: [-c, 'echo value: $(cat count/value)']}}\n",
        addr = registry.addr,
        rootfs = task_rootfs.display(),
    );
    server.set_pipeline("custom", &pipeline);
    server.wait_for("the build to finish", Duration::from_secs(120), || {
        server.job_builds("custom", "read").first().is_some_and(|(_, status)| !matches!(status.as_str(), "pending" | "started"))
    });
    let watched = server.fly(&["watch", "-j", "custom/read"]);
    let output = String::from_utf8_lossy(&watched.stdout);
    assert!(output.contains("value: counted-by-custom-type"), "{output}");
    assert!(output.trim_end().ends_with("succeeded"), "{output}");
    assert_eq!(server.job_builds("custom", "read")[0].1, "succeeded");

    server.fly_ok(&["pause-pipeline", "-p", "custom"]);
    server.stop();
}
