//! runc containers of `ImageSpec::HostRoot` for real: the worker's root filesystem, read-only,
//! with a writable `/tmp`, the step's volumes, the worker's directory hidden, and executables
//! from elsewhere (the host's `/tmp`, another mount) bound in at their host paths.
//!
//! Root, `runc`, `ip` and `iptables` are required (CI installs them); the tests fail without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::busybox::*;
use common::*;
use concorde_worker::{ExitStatus, ImageSpec, RuncRuntime, Runtime, WorkerError};

/// A runc worker whose directory is outside `/tmp`, on the root filesystem where the container
/// would see it if it were not hidden.
fn runtime_off_tmp() -> (WorkDir, RuncRuntime) {
    require_runc();
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let runtime = RuncRuntime::new(dir.path()).unwrap();
    (
        WorkDir::new(dir, |path| Box::new(RuncRuntime::new(path).unwrap())),
        runtime,
    )
}

/// The mount points under `dir` in this process's mount namespace.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount_point| mount_point.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A tmpfs mounted at a fresh directory outside `/tmp`, unmounted when dropped.
struct OtherMount {
    dir: tempfile::TempDir,
}

impl OtherMount {
    fn new() -> OtherMount {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let none = None::<&str>;
        nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            none,
        )
        .unwrap();
        OtherMount { dir }
    }
}

impl Drop for OtherMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

#[tokio::test]
async fn the_host_root_is_read_only_with_a_writable_tmp_and_the_volumes() {
    let (work, runtime) = runtime_off_tmp();
    let volume = volume_with(&runtime, "get", &[("data", "from the volume\n")]).await;
    let mut container = spec("host-root", ImageSpec::HostRoot);
    container.mounts = vec![mount("get", "/tmp/build/get")];
    container.env = vec!["FROM_SPEC=1".into()];
    runtime.create_container(container).await.unwrap();

    // The host's files are there; /usr cannot be written; /tmp and the volume can.
    let out = run(&runtime, "host-root", sh("cat /etc/passwd")).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    assert_eq!(out.stdout, std::fs::read_to_string("/etc/passwd").unwrap());
    let out = run(&runtime, "host-root", sh("touch /usr/concorde-was-here")).await;
    assert_eq!(out.status, ExitStatus::Exited(1));
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!Path::new("/usr/concorde-was-here").exists());
    let mut process = sh("echo scratch > /tmp/file && cat /tmp/file && ls /tmp && \
         cat get/data && echo written > get/new && echo $HOME $TMPDIR $FROM_SPEC && id -u");
    process.dir = Some("/tmp/build".into());
    let out = run(&runtime, "host-root", process).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    // The host's own /tmp is not visible: the container's is fresh.
    assert_eq!(
        out.stdout,
        "scratch\nbuild\nfile\nfrom the volume\n/tmp /tmp 1\n0\n"
    );
    assert_eq!(
        std::fs::read_to_string(volume.join("new")).unwrap(),
        "written\n"
    );

    // The worker's directory (other containers' volumes) is hidden; the network namespace and
    // its files are the container's own, as in any runc container.
    let script = format!(
        "ls -A {}; grep -c host-root /etc/hosts; readlink /proc/self/ns/net",
        work.path().display()
    );
    let out = run(&runtime, "host-root", sh(&script)).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    let host_netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "{}", out.stdout);
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_ne!(lines[1], host_netns.to_str().unwrap());
    runtime.destroy_container(&ctr("host-root")).await.unwrap();
    assert!(volume.join("data").exists());
}

#[tokio::test]
async fn executables_elsewhere_are_bound_at_their_host_path() {
    let (_work, runtime) = runtime_off_tmp();
    // One executable under the host's /tmp, which the container's own /tmp hides.
    let in_tmp = tempfile::tempdir().unwrap();
    let tmp_tool = in_tmp.path().join("bin/tool");
    write_script(&tmp_tool, "echo from-tmp \"$@\"");
    // One on another filesystem, next to a file that must stay out of sight: only the
    // executable comes in, read-only, and only for its own process.
    let other = OtherMount::new();
    let other_tool: PathBuf = other.dir.path().join("deep/bin/tool");
    write_script(
        &other_tool,
        "echo from-other-mount \"$@\"; ls \"$(dirname \"$0\")\"; \
         (echo >> \"$0\") 2>/dev/null || echo refused",
    );
    std::fs::write(other.dir.path().join("deep/bin/secret"), "hidden").unwrap();

    runtime
        .create_container(spec("tools", ImageSpec::HostRoot))
        .await
        .unwrap();
    for (tool, expected) in [
        (&tmp_tool, "from-tmp a b\n"),
        (&other_tool, "from-other-mount a b\ntool\nrefused\n"),
    ] {
        let process = concorde_worker::ProcessSpec {
            path: tool.display().to_string(),
            args: vec!["a".into(), "b".into()],
            ..sh("")
        };
        let out = run(&runtime, "tools", process).await;
        assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
        assert_eq!(out.stdout, expected);
    }
    assert!(
        std::fs::read_to_string(&other_tool)
            .unwrap()
            .ends_with("refused\n")
    );
    let script = format!("test -e {} || echo absent", other_tool.display());
    assert_eq!(run(&runtime, "tools", sh(&script)).await.stdout, "absent\n");
    // Relative names are looked up on the worker's PATH, in the host's root filesystem.
    let out = run(&runtime, "tools", sh("git --version")).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("git version"), "{}", out.stdout);
}

#[tokio::test]
async fn destroy_and_failed_creates_leave_no_mount_and_the_host_intact() {
    let (work, runtime) = runtime_off_tmp();
    runtime
        .create_volume(&vol("deep"), concorde_worker::VolumeStrategy::Empty)
        .await
        .unwrap();
    // Nothing can be created on the read-only root, so such a mount point is refused at once.
    let mut container = spec("bad-mount", ImageSpec::HostRoot);
    container.mounts = vec![mount("deep", "/no-such-dir/input")];
    let err = runtime.create_container(container).await.unwrap_err();
    assert!(
        matches!(&err, WorkerError::InvalidPath(message) if message.contains("/no-such-dir/input")),
        "{err:?}"
    );
    assert!(runtime.list_containers().await.unwrap().is_empty());
    assert_eq!(mounts_under(work.path()), Vec::<String>::new());

    runtime
        .create_container(spec("stacked", ImageSpec::HostRoot))
        .await
        .unwrap();
    let rootfs = work.path().join("containers/stacked/rootfs");
    // A second bind of the host's root stacked on the first is released too.
    let none = None::<&str>;
    nix::mount::mount(Some("/"), &rootfs, none, nix::mount::MsFlags::MS_BIND, none).unwrap();
    assert_eq!(mounts_under(work.path()).len(), 2);
    runtime.destroy_container(&ctr("stacked")).await.unwrap();
    assert_eq!(mounts_under(work.path()), Vec::<String>::new());
    assert!(runtime.list_containers().await.unwrap().is_empty());
    assert!(Path::new("/etc/passwd").exists() && Path::new("/usr/bin").is_dir());
}
