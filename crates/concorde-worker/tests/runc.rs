//! The runc backend with real containers: a busybox rootfs from Debian's `busybox-static`,
//! overlay rootfs, cgroup limits, users, network namespaces with NAT.
//!
//! These tests need root, `runc`, `ip` and `iptables`; CI has them (`.ci/run` installs the
//! packages). Anywhere else they fail loudly rather than skip.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::time::Duration;

use common::busybox::*;
use common::*;
use concorde_worker::{
    ExitStatus, ImageSpec, Limits, NetworkMode, ProcessSpec, RuncRuntime, Runtime, VolumeStrategy,
    WorkerError,
};

#[tokio::test]
async fn exit_codes_stdout_stderr_and_stdin() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    exit_codes_and_streams(&runtime, image).await;
}

#[tokio::test]
async fn environment_layers_over_the_image_env() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    environment(&runtime, image.clone()).await;
    let mut container = spec("image-env", image);
    container.env = vec!["FROM_SPEC=1".into()];
    runtime.create_container(container).await.unwrap();
    let out = run(
        &runtime,
        "image-env",
        sh("echo $IMAGE_VAR $FROM_SPEC $PATH $HOME"),
    )
    .await;
    assert_eq!(out.stdout, "from-image 1 /bin /root\n");
    let mut process = sh("echo $IMAGE_VAR");
    process.env = vec!["IMAGE_VAR=overridden".into()];
    assert_eq!(
        run(&runtime, "image-env", process).await.stdout,
        "overridden\n"
    );
}

#[tokio::test]
async fn mounts_working_dir_and_read_only_volumes() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    mounts_and_working_dir(&runtime, image.clone(), "/tmp/build/abcd1234").await;

    let frozen = volume_with(&runtime, "frozen", &[("f", "kept")]).await;
    let mut container = spec("ro", image);
    container.mounts = vec![concorde_worker::Mount {
        volume: vol("frozen"),
        path: "/in".into(),
        read_only: true,
    }];
    runtime.create_container(container).await.unwrap();
    let out = run(&runtime, "ro", sh("cat /in/f; echo x > /in/f")).await;
    assert_eq!(out.stdout, "kept");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert_eq!(out.status, ExitStatus::Exited(1));
    assert_eq!(std::fs::read_to_string(frozen.join("f")).unwrap(), "kept");
}

#[tokio::test]
async fn missing_executable_and_images() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    missing_executable(&runtime, image).await;
    let err = runtime
        .create_container(spec("no-image", ImageSpec::None))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidImage(_)), "{err:?}");
    runtime
        .create_volume(&vol("not-an-image"), VolumeStrategy::Empty)
        .await
        .unwrap();
    let err = runtime
        .create_container(spec("bad-image", ImageSpec::Volume(vol("not-an-image"))))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidImage(_)), "{err:?}");
    // Failed creates leave no container behind.
    assert!(runtime.list_containers().await.unwrap().is_empty());
}

#[tokio::test]
async fn cancellation_terminates_then_kills() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    cancellation(&runtime, image, GRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_flood_does_not_hang() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    output_flood(&runtime, image).await;
}

#[tokio::test]
async fn containers_are_listed_and_destroyed() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    container_lifecycle(&runtime, image).await;
}

#[tokio::test]
async fn users_come_from_the_image() {
    let (_dir, runtime) = runtime();
    let image = busybox_with(
        &runtime,
        "alice-image",
        r#"{"env": ["PATH=/bin"], "user": "alice"}"#,
    )
    .await;
    runtime
        .create_container(spec("users", image))
        .await
        .unwrap();
    let whoami = |user: Option<&str>| ProcessSpec {
        user: user.map(str::to_owned),
        ..sh("id -u; id -g; id -G; echo $HOME")
    };
    assert_eq!(
        run(&runtime, "users", whoami(None)).await.stdout,
        "1000\n1000\n1000 50\n/home/alice\n"
    );
    assert_eq!(
        run(&runtime, "users", whoami(Some("root"))).await.stdout,
        "0\n0\n0\n/root\n"
    );
    assert_eq!(
        run(&runtime, "users", whoami(Some("nobody:staff")))
            .await
            .stdout,
        "65534\n50\n50\n/\n"
    );
    let err = run_with(&runtime, "users", whoami(Some("mallory")), None)
        .await
        .err()
        .expect("unknown user");
    assert!(
        matches!(&err, WorkerError::ProcessStart { reason, .. } if reason.contains("mallory")),
        "{err:?}"
    );
    // A non-root user cannot write where root owns things.
    let out = run(&runtime, "users", sh("touch /etc/nope")).await;
    assert_eq!(out.status, ExitStatus::Exited(1));
}

#[tokio::test]
async fn rootfs_is_copy_on_write_per_container() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    let image_dir = runtime
        .lookup_volume(&vol("image"))
        .await
        .unwrap()
        .unwrap()
        .path;
    runtime
        .create_container(spec("cow-a", image.clone()))
        .await
        .unwrap();
    runtime
        .create_container(spec("cow-b", image))
        .await
        .unwrap();
    let out = run(
        &runtime,
        "cow-a",
        sh("echo a > /etc/marker && rm /bin/ls && cat /etc/marker"),
    )
    .await;
    assert_eq!(out.stdout, "a\n", "{}", out.stderr);
    // A later process of the same container sees the change; the other container does not.
    assert_eq!(
        run(
            &runtime,
            "cow-a",
            sh("cat /etc/marker; test -e /bin/ls || echo gone")
        )
        .await
        .stdout,
        "a\ngone\n"
    );
    let out = run(
        &runtime,
        "cow-b",
        sh("test -e /etc/marker || echo absent; test -e /bin/ls && echo present"),
    )
    .await;
    assert_eq!(out.stdout, "absent\npresent\n");
    assert!(!image_dir.join("rootfs/etc/marker").exists());
    assert!(image_dir.join("rootfs/bin/ls").symlink_metadata().is_ok());

    // A copy-on-write child of the image volume is an image of its own.
    let child = runtime
        .create_volume(
            &vol("child-image"),
            VolumeStrategy::CopyOnWrite(vol("image")),
        )
        .await
        .unwrap();
    std::fs::write(child.path.join("rootfs/etc/child"), "child\n").unwrap();
    runtime
        .create_container(spec("cow-child", ImageSpec::Volume(vol("child-image"))))
        .await
        .unwrap();
    assert_eq!(
        run(&runtime, "cow-child", sh("cat /etc/child; echo $IMAGE_VAR"))
            .await
            .stdout,
        "child\nfrom-image\n"
    );
    assert!(!image_dir.join("rootfs/etc/child").exists());
}

#[tokio::test]
async fn memory_and_cpu_limits_apply() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    let mut container = spec("limited", image);
    container.limits = Limits {
        cpu_shares: Some(256),
        memory_bytes: Some(64 * 1024 * 1024),
    };
    runtime.create_container(container).await.unwrap();
    let out = run(
        &runtime,
        "limited",
        sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares"),
    )
    .await;
    assert_eq!(out.stdout, "67108864\n256\n", "{}", out.stderr);
    // Holding 200 MB in a 64 MB cgroup gets the process OOM-killed (SIGKILL: 137).
    let out = run(
        &runtime,
        "limited",
        sh("dd if=/dev/zero of=/dev/null bs=200M count=1"),
    )
    .await;
    assert_eq!(out.status, ExitStatus::Exited(137), "{}", out.stderr);
    // Within the limit the same works.
    let out = run(
        &runtime,
        "limited",
        sh("dd if=/dev/zero of=/dev/null bs=8M count=1"),
    )
    .await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
}

/// The effective capability mask of a process in the container.
async fn cap_eff(runtime: &RuncRuntime, handle: &str) -> u64 {
    let out = run(runtime, handle, sh("grep CapEff /proc/self/status")).await;
    u64::from_str_radix(out.stdout.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[tokio::test]
async fn capabilities_are_reduced_unless_privileged() {
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_CHOWN: u64 = 1;
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("plain", image.clone()))
        .await
        .unwrap();
    let mut privileged = spec("privileged", image);
    privileged.privileged = true;
    runtime.create_container(privileged).await.unwrap();
    let plain = cap_eff(&runtime, "plain").await;
    assert_eq!(plain & CAP_SYS_ADMIN, 0);
    assert_eq!(plain & CAP_CHOWN, CAP_CHOWN);
    assert_eq!(
        cap_eff(&runtime, "privileged").await & CAP_SYS_ADMIN,
        CAP_SYS_ADMIN
    );
    // Only the privileged container may mount.
    assert_eq!(
        run(&runtime, "plain", sh("mount -t tmpfs none /mnt"))
            .await
            .status,
        ExitStatus::Exited(255)
    );
    let out = run(
        &runtime,
        "privileged",
        sh("mkdir -p /mnt && mount -t tmpfs none /mnt && echo mounted"),
    )
    .await;
    assert_eq!(out.stdout, "mounted\n", "{}", out.stderr);
}

#[tokio::test]
async fn destroy_kills_processes_and_leaves_nothing_mounted() {
    let (dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("doomed", image))
        .await
        .unwrap();
    let netns = run(&runtime, "doomed", sh("readlink /proc/self/ns/net"))
        .await
        .stdout;
    let running = run_with(&runtime, "doomed", sh("sleep 1000"), None);
    let destroyer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        runtime.destroy_container(&ctr("doomed")).await.unwrap();
    };
    let (out, ()) = tokio::time::timeout(Duration::from_secs(15), async {
        tokio::join!(running, destroyer)
    })
    .await
    .expect("destroy did not stop the process");
    assert_eq!(out.unwrap().status, ExitStatus::Exited(137));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(dir.path().to_str().unwrap()),
        "a mount is left behind"
    );
    assert!(!dir.path().join("containers/doomed").exists());
    assert!(runtime.list_containers().await.unwrap().is_empty());
    assert!(
        !named_netns_inodes().contains(&netns.trim().to_owned()),
        "network namespace {netns} left behind"
    );
}

#[tokio::test]
async fn host_network_mode_shares_the_worker_namespace() {
    let (_dir, runtime) = runtime_with(NetworkMode::Host);
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("hostnet", image))
        .await
        .unwrap();
    let inside = run(&runtime, "hostnet", sh("readlink /proc/self/ns/net"))
        .await
        .stdout;
    let outside = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(inside.trim(), outside.to_str().unwrap());
}
