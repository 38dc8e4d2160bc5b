//! End-to-end on the runc runtime: a pipeline's custom `resource_types` entry whose image is
//! fetched with the built-in `registry-image` type from a real local registry, after which the
//! resource's own `/opt/resource/check` and `/opt/resource/in` scripts run in containers of
//! that image, and a task reads what `in` wrote.
//!
//! Needs root, `runc`, `docker-registry`, `skopeo`, `umoci` and `busybox-static` (CI installs
//! them); it fails loudly without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[allow(dead_code, reason = "the shared e2e harness refers to it")]
#[path = "support/follow_events.rs"]
mod follow_events;
#[allow(dead_code, reason = "this flow uses part of the shared e2e harness")]
#[path = "e2e/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Backend, Server, WorkerRuntime};

/// The resource's check: reads its request, then reports one version.
const CHECK: &str = "#!/bin/sh\ncat >/dev/null\necho '[{\"n\":\"1\"}]'\n";

/// The resource's in: reads its request, writes `value` into the destination `$1`, then
/// reports the version it fetched.
const IN: &str = "#!/bin/sh\ncat >/dev/null\necho counted-by-custom-type >\"$1/value\"\necho '{\"version\":{\"n\":\"1\"}}'\n";

/// A running registry, killed (by its own pid) when dropped. It listens on the host's
/// outbound address, not loopback: containers have network namespaces of their own, where
/// 127.0.0.1 is the container itself, and reach the host through their veth gateway.
struct TestRegistry {
    addr: String,
    child: Child,
}

impl TestRegistry {
    /// Starts Debian's `docker-registry` storing under `dir`, on a free port of the address
    /// the host's default route leaves from.
    fn start(dir: &Path) -> TestRegistry {
        for program in ["docker-registry", "umoci", "skopeo"] {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {program}"))
                .output()
                .unwrap()
                .status
                .success();
            assert!(
                found,
                "{program} is missing: apt-get install docker-registry skopeo umoci busybox-static"
            );
        }
        // Connecting a UDP socket sends nothing; it picks the source address of the default route.
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        probe
            .connect("203.0.113.1:9")
            .expect("the host has a default route (containers reach it over NAT)");
        let host = probe.local_addr().unwrap().ip();
        let port = std::net::TcpListener::bind((host, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("{host}:{port}");
        std::fs::create_dir_all(dir).unwrap();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.join("storage").display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let registry = TestRegistry { addr, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not listen: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        // Only our own child, by its handle; a failure means it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a tool and fails the test with its stderr when it fails.
fn tool(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

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
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
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
    tool(
        "umoci",
        &["insert", "--image", &image, rootfs.to_str().unwrap(), "/"],
    );
    tool(
        "umoci",
        &["config", "--image", &image, "--config.env", "PATH=/bin"],
    );
    layout
}

#[test]
fn a_custom_resource_type_from_a_registry_runs_its_own_scripts() {
    require_runc();
    let work = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start(&work.path().join("registry"));
    let layout = build_counter_layout(work.path());
    let source = format!("oci:{}:latest", layout.display());
    let destination = format!("docker://{}/counter:latest", registry.addr);
    tool(
        "skopeo",
        &[
            "copy",
            "--insecure-policy",
            "--dest-tls-verify=false",
            &source,
            &destination,
        ],
    );
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
        server
            .job_builds("custom", "read")
            .first()
            .is_some_and(|(_, status)| !matches!(status.as_str(), "pending" | "started"))
    });
    let watched = server.fly(&["watch", "-j", "custom/read"]);
    let output = String::from_utf8_lossy(&watched.stdout);
    assert!(output.contains("value: counted-by-custom-type"), "{output}");
    assert!(output.trim_end().ends_with("succeeded"), "{output}");
    assert_eq!(server.job_builds("custom", "read")[0].1, "succeeded");
    // The version is the one the image's own check reported.
    let versions = server.get_json("/api/v1/teams/main/pipelines/custom/resources/count/versions");
    assert_eq!(
        versions[0]["version"],
        serde_json::json!({"n": "1"}),
        "{versions}"
    );

    server.fly_ok(&["pause-pipeline", "-p", "custom"]);
    server.stop();
}
