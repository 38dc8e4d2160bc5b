//! The host backend and the volume store, on the real filesystem with real processes.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use concorde_worker::{
    ExitStatus, HostRuntime, ImageSpec, ProcessSpec, ROOT_ENV, Runtime, VolumeStrategy, WorkerError,
};

const GRACE: Duration = Duration::from_secs(2);

fn runtime() -> (WorkDir, HostRuntime) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = HostRuntime::new(dir.path()).unwrap().with_kill_grace(GRACE);
    (
        WorkDir::new(dir, |path| Box::new(HostRuntime::new(path).unwrap())),
        runtime,
    )
}

#[tokio::test]
async fn exit_codes_stdout_stderr_and_stdin() {
    let (_dir, runtime) = runtime();
    exit_codes_and_streams(&runtime, ImageSpec::None).await;
}

#[tokio::test]
async fn environment_layers() {
    let (_dir, runtime) = runtime();
    environment(&runtime, ImageSpec::None).await;
}

#[tokio::test]
async fn mounts_are_symlinks_under_the_container_root() {
    let (_dir, runtime) = runtime();
    mounts_and_working_dir(&runtime, ImageSpec::None, "/tmp/build/abcd1234").await;
}

#[tokio::test]
async fn missing_executable_is_a_start_error() {
    let (_dir, runtime) = runtime();
    missing_executable(&runtime, ImageSpec::None).await;
}

#[tokio::test]
async fn cancellation_terminates_then_kills() {
    let (_dir, runtime) = runtime();
    cancellation(&runtime, ImageSpec::None, GRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_flood_does_not_hang() {
    let (_dir, runtime) = runtime();
    output_flood(&runtime, ImageSpec::None).await;
}

#[tokio::test]
async fn containers_are_listed_and_destroyed() {
    let (_dir, runtime) = runtime();
    container_lifecycle(&runtime, ImageSpec::None).await;
}

#[tokio::test]
async fn root_is_exported_and_absolute_paths_translated() {
    let (_dir, runtime) = runtime();
    let scripts = volume_with(
        &runtime,
        "scripts",
        &[("task.sh", "#!/bin/sh\necho \"task in $PWD\"\n")],
    )
    .await;
    std::fs::set_permissions(
        scripts.join("task.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut container = spec(
        "rooted",
        ImageSpec::RawPath("/ignored/with/a/warning".into()),
    );
    container.mounts = vec![mount("scripts", "/tmp/build/x/scripts")];
    runtime.create_container(container).await.unwrap();

    let out = run(
        &runtime,
        "rooted",
        sh(&format!("echo ${ROOT_ENV}; echo $HOME")),
    )
    .await;
    let root = out.stdout.lines().next().unwrap().to_owned();
    assert!(root.ends_with("/containers/rooted/root"), "{root}");
    assert_eq!(out.stdout, format!("{root}\n{root}\n"));

    let process = ProcessSpec {
        path: "/tmp/build/x/scripts/task.sh".into(),
        dir: Some("/tmp/build/x".into()),
        ..sh("")
    };
    let out = run(&runtime, "rooted", process).await;
    assert_eq!(out.stdout, format!("task in {root}/tmp/build/x\n"));

    // Absolute arguments naming something in the root are translated too; others are not.
    let process = ProcessSpec {
        path: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "echo \"$1 $2 $3\"".into(),
            "sh".into(),
            "/tmp/build/x/scripts".into(),
            "/etc".into(),
            "--flag".into(),
        ],
        ..sh("")
    };
    let out = run(&runtime, "rooted", process).await;
    assert_eq!(
        out.stdout,
        format!("{root}/tmp/build/x/scripts /etc --flag\n")
    );
    runtime.destroy_container(&ctr("rooted")).await.unwrap();
    assert!(
        scripts.join("task.sh").exists(),
        "destroying must not follow the mount symlinks"
    );
}

#[tokio::test]
async fn destroying_a_container_kills_its_processes() {
    let (_dir, runtime) = runtime();
    runtime
        .create_container(spec("doomed", ImageSpec::None))
        .await
        .unwrap();
    let running = run_with(&runtime, "doomed", sh("sleep 1000"), None);
    let destroyer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        runtime.destroy_container(&ctr("doomed")).await.unwrap();
    };
    let (out, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(running, destroyer)
    })
    .await
    .expect("destroy did not stop the process");
    assert_eq!(out.unwrap().status, ExitStatus::Exited(137));
}

#[tokio::test]
async fn volumes_lifecycle() {
    let (_dir, runtime) = runtime();
    let info = runtime
        .create_volume(&vol("v1"), VolumeStrategy::Empty)
        .await
        .unwrap();
    assert!(info.path.is_dir());
    assert!(info.path.ends_with("volumes/v1"));
    assert_eq!(
        runtime.lookup_volume(&vol("v1")).await.unwrap(),
        Some(info.clone())
    );
    assert_eq!(runtime.lookup_volume(&vol("v2")).await.unwrap(), None);
    let err = runtime
        .create_volume(&vol("v1"), VolumeStrategy::Empty)
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::AlreadyExists(_)), "{err:?}");
    let err = runtime
        .create_volume(&vol("a/b"), VolumeStrategy::Empty)
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidHandle(_)), "{err:?}");
    let err = runtime
        .create_volume(&vol("v3"), VolumeStrategy::CopyOnWrite(vol("nope")))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::VolumeNotFound(_)), "{err:?}");
    runtime
        .create_volume(&vol("v0"), VolumeStrategy::Empty)
        .await
        .unwrap();
    assert_eq!(
        runtime.list_volumes().await.unwrap(),
        vec![vol("v0"), vol("v1")]
    );
    runtime.destroy_volume(&vol("v1")).await.unwrap();
    runtime.destroy_volume(&vol("v1")).await.unwrap();
    assert!(!info.path.exists());
    assert_eq!(runtime.list_volumes().await.unwrap(), vec![vol("v0")]);
    // A failed create leaves nothing behind, so the handle is free again.
    assert!(runtime.lookup_volume(&vol("v3")).await.unwrap().is_none());
}

#[tokio::test]
async fn copy_on_write_children_are_isolated() {
    let (_dir, runtime) = runtime();
    let parent = volume_with(
        &runtime,
        "parent",
        &[("shared", "original"), ("sub/deep", "deep")],
    )
    .await;
    std::os::unix::fs::symlink("sub/deep", parent.join("link")).unwrap();
    std::fs::set_permissions(
        parent.join("shared"),
        std::fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o750)).unwrap();
    let child = runtime
        .create_volume(&vol("child"), VolumeStrategy::CopyOnWrite(vol("parent")))
        .await
        .unwrap()
        .path;

    assert_eq!(std::fs::read_to_string(child.join("link")).unwrap(), "deep");
    assert_eq!(
        std::fs::read_link(child.join("link")).unwrap(),
        std::path::Path::new("sub/deep")
    );
    assert_eq!(
        std::fs::metadata(child.join("shared"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o751
    );
    assert_eq!(
        std::fs::metadata(&child).unwrap().permissions().mode() & 0o777,
        0o750
    );
    std::fs::write(child.join("shared"), "changed in child").unwrap();
    std::fs::write(child.join("only-child"), "").unwrap();
    std::fs::remove_file(child.join("sub/deep")).unwrap();
    assert_eq!(
        std::fs::read_to_string(parent.join("shared")).unwrap(),
        "original"
    );
    assert!(!parent.join("only-child").exists());
    assert_eq!(
        std::fs::read_to_string(parent.join("sub/deep")).unwrap(),
        "deep"
    );

    // A child of a child works too (as a copy), and is isolated from both.
    let grandchild = runtime
        .create_volume(
            &vol("grandchild"),
            VolumeStrategy::CopyOnWrite(vol("child")),
        )
        .await
        .unwrap()
        .path;
    assert_eq!(
        std::fs::read_to_string(grandchild.join("shared")).unwrap(),
        "changed in child"
    );
    assert!(!grandchild.join("sub/deep").exists());
    std::fs::write(grandchild.join("shared"), "grandchild").unwrap();
    assert_eq!(
        std::fs::read_to_string(child.join("shared")).unwrap(),
        "changed in child"
    );
}

/// As root the children are overlay mounts: destroying the parent first must not take their
/// contents, a stopped worker unmounts them and a restarted one mounts them again.
#[tokio::test]
async fn copy_on_write_children_survive_their_parent_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = HostRuntime::new(dir.path()).unwrap();
    volume_with(&runtime, "parent", &[("file", "from parent")]).await;
    let child = runtime
        .create_volume(&vol("child"), VolumeStrategy::CopyOnWrite(vol("parent")))
        .await
        .unwrap()
        .path;
    let sibling = runtime
        .create_volume(&vol("sibling"), VolumeStrategy::CopyOnWrite(vol("parent")))
        .await
        .unwrap()
        .path;
    let is_mount = |path: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().dev()
            != std::fs::metadata(dir.path().join("volumes")).unwrap().dev()
    };
    assert_eq!(
        is_mount(&child),
        nix::unistd::geteuid().is_root(),
        "children are overlays exactly when root"
    );

    runtime.destroy_volume(&vol("parent")).await.unwrap();
    assert_eq!(
        runtime.list_volumes().await.unwrap(),
        vec![vol("child"), vol("sibling")]
    );
    assert_eq!(
        std::fs::read_to_string(child.join("file")).unwrap(),
        "from parent"
    );
    runtime.destroy_volume(&vol("child")).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(sibling.join("file")).unwrap(),
        "from parent"
    );

    // A stopped worker leaves no mounts behind; reopening mounts the volumes again (as after
    // a reboot).
    let overlay = is_mount(&sibling);
    drop(runtime);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(dir.path().to_str().unwrap()),
        "a stopped worker left a mount"
    );
    assert_eq!(sibling.join("file").exists(), !overlay);
    let runtime = HostRuntime::new(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(sibling.join("file")).unwrap(),
        "from parent"
    );
    runtime.destroy_volume(&vol("sibling")).await.unwrap();
    assert!(runtime.list_volumes().await.unwrap().is_empty());
    // The orphaned parent went with its last child (deleted in the background).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(dir.path().join("volumes/.orphans"))
        .unwrap()
        .next()
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "orphaned parent never deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(dir.path().to_str().unwrap()),
        "a mount is left behind"
    );
}

#[tokio::test]
async fn import_copies_a_host_directory() {
    let (_dir, runtime) = runtime();
    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir(source.path().join("bin")).unwrap();
    std::fs::write(source.path().join("bin/tool"), "#!/bin/sh\n").unwrap();
    let imported = runtime
        .create_volume(
            &vol("imported"),
            VolumeStrategy::Import(source.path().to_owned()),
        )
        .await
        .unwrap()
        .path;
    std::fs::write(source.path().join("bin/tool"), "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(imported.join("bin/tool")).unwrap(),
        "#!/bin/sh\n"
    );
    let err = runtime
        .create_volume(
            &vol("bad"),
            VolumeStrategy::Import(source.path().join("bin/tool")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidPath(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_out_then_in_round_trips() {
    let (_dir, runtime) = runtime();
    let from = volume_with(
        &runtime,
        "from",
        &[
            ("a.txt", "alpha"),
            ("dir/b.txt", "beta"),
            ("dir/sub/c", "gamma"),
        ],
    )
    .await;
    std::os::unix::fs::symlink("../a.txt", from.join("dir/link")).unwrap();
    std::fs::set_permissions(
        from.join("dir/b.txt"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(from.join("big.bin"), &big).unwrap();
    let to = volume_with(&runtime, "to", &[]).await;

    // The two ends run concurrently through a small pipe: neither side buffers the whole tar.
    let (from_handle, to_handle) = (vol("from"), vol("to"));
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let (out, into) = tokio::join!(
        runtime.stream_out(&from_handle, "dir", Box::new(writer)),
        runtime.stream_in(&to_handle, "nested/place", Box::new(reader)),
    );
    out.unwrap();
    into.unwrap();
    let placed = to.join("nested/place");
    assert_eq!(
        std::fs::read_to_string(placed.join("b.txt")).unwrap(),
        "beta"
    );
    assert_eq!(
        std::fs::read_to_string(placed.join("sub/c")).unwrap(),
        "gamma"
    );
    assert_eq!(
        std::fs::read_link(placed.join("link")).unwrap(),
        std::path::Path::new("../a.txt")
    );
    assert_eq!(
        std::fs::metadata(placed.join("b.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    // A single file streams under its own name.
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let (out, into) = tokio::join!(
        runtime.stream_out(&from_handle, "/big.bin", Box::new(writer)),
        runtime.stream_in(&to_handle, ".", Box::new(reader)),
    );
    out.unwrap();
    into.unwrap();
    assert_eq!(std::fs::read(to.join("big.bin")).unwrap(), big);
}

#[tokio::test]
async fn streams_refuse_bad_paths() {
    let (_dir, runtime) = runtime();
    let from = volume_with(&runtime, "from", &[("a", "a")]).await;
    std::os::unix::fs::symlink("/etc", from.join("escape")).unwrap();
    let err = runtime
        .stream_out(&vol("from"), "missing", Box::new(tokio::io::sink()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WorkerError::PathNotFound { volume, path } if volume == "from" && path == "missing"),
        "{err:?}"
    );
    let err = runtime
        .stream_out(&vol("from"), "../x", Box::new(tokio::io::sink()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidPath(_)), "{err:?}");
    let err = runtime
        .stream_out(&vol("from"), "escape/passwd", Box::new(tokio::io::sink()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidPath(_)), "{err:?}");
    let err = runtime
        .stream_in(&vol("from"), "escape", Box::new(tokio::io::empty()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidPath(_)), "{err:?}");
    let err = runtime
        .stream_out(&vol("nope"), ".", Box::new(tokio::io::sink()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::VolumeNotFound(_)), "{err:?}");
}

#[tokio::test]
async fn a_restarted_worker_keeps_its_containers_and_volumes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let runtime = HostRuntime::new(dir.path()).unwrap();
        volume_with(&runtime, "kept", &[("f", "x")]).await;
        runtime
            .create_container(spec("kept", ImageSpec::None))
            .await
            .unwrap();
    }
    let runtime = HostRuntime::new(dir.path()).unwrap();
    assert_eq!(runtime.list_volumes().await.unwrap(), vec![vol("kept")]);
    assert_eq!(runtime.list_containers().await.unwrap(), vec![ctr("kept")]);
    assert_eq!(
        run(&runtime, "kept", sh("echo still here")).await.stdout,
        "still here\n"
    );
}

#[tokio::test]
async fn detect_picks_a_backend() {
    let dir = tempfile::tempdir().unwrap();
    let host = concorde_worker::detect(dir.path(), "host".parse().unwrap()).unwrap();
    assert_eq!(host.name(), "host");
    let auto = concorde_worker::detect(dir.path(), concorde_worker::RuntimeChoice::Auto).unwrap();
    // The test machines (and CI) are root with runc installed.
    let runc_usable = nix::unistd::geteuid().is_root()
        && std::process::Command::new("runc")
            .arg("--version")
            .output()
            .is_ok();
    assert_eq!(auto.name(), if runc_usable { "runc" } else { "host" });
    let err = "docker"
        .parse::<concorde_worker::RuntimeChoice>()
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::UnknownBackend(ref name) if name == "docker"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_host_user_is_honoured_when_root() {
    let (dir, runtime) = runtime();
    // Another user must be able to reach the container's directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    runtime
        .create_container(spec("as-user", ImageSpec::None))
        .await
        .unwrap();
    let process = |user: &str| ProcessSpec {
        user: Some(user.into()),
        ..sh("id -u")
    };
    let me = nix::unistd::geteuid().as_raw().to_string();
    let expected = if nix::unistd::geteuid().is_root() {
        "65534"
    } else {
        me.as_str()
    };
    assert_eq!(
        run(&runtime, "as-user", process("nobody"))
            .await
            .stdout
            .trim(),
        expected
    );
    // An unknown user runs as the worker's user, with a warning.
    assert_eq!(
        run(&runtime, "as-user", process("no-such-user-here"))
            .await
            .stdout
            .trim(),
        me
    );
}

/// Polls until `file` holds a process id.
async fn pid_in(file: &std::path::Path) -> i32 {
    for _ in 0..500 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid in {}", file.display());
}

/// Whether `pid` is a live process (a zombie is not: it has ended and only awaits its parent).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat[stat.rfind(')')? + 1..].split_whitespace().next()?;
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// Polls until `pid` has ended, failing after ten seconds.
async fn ended(pid: i32) {
    for _ in 0..500 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} outlived its run");
}

/// A script leaving a background process behind, whose pid it writes to `file`.
fn leave_a_sleeper(file: &std::path::Path) -> ProcessSpec {
    sh(&format!("sleep 1000 & echo $! > {}; wait", file.display()))
}

#[tokio::test]
async fn a_dropped_run_kills_every_process_it_started() {
    let (_dir, runtime) = runtime();
    runtime
        .create_container(spec("dropped", ImageSpec::None))
        .await
        .unwrap();
    let pids = tempfile::tempdir().unwrap();
    let file = pids.path().join("pid");
    let running = run_with(&runtime, "dropped", leave_a_sleeper(&file), None);
    // Whichever finishes first, the other is dropped: the run, once its sleeper is known.
    let sleeper = tokio::select! {
        out = running => panic!("the run ended: {:?}", out.map(|out| out.status)),
        pid = pid_in(&file) => pid,
    };
    ended(sleeper).await;
}

#[tokio::test]
async fn a_restarted_worker_kills_the_processes_of_a_crashed_one() {
    let dir = tempfile::tempdir().unwrap();
    // The crashed worker is never dropped: its runs are abandoned as a killed process's are.
    let crashed: &'static HostRuntime = Box::leak(Box::new(HostRuntime::new(dir.path()).unwrap()));
    crashed
        .create_container(spec("orphan", ImageSpec::None))
        .await
        .unwrap();
    let pids = tempfile::tempdir().unwrap();
    let file = pids.path().join("pid");
    let mut running = Box::pin(run_with(crashed, "orphan", leave_a_sleeper(&file), None));
    let sleeper = tokio::select! {
        out = &mut running => panic!("the run ended: {:?}", out.map(|out| out.status)),
        pid = pid_in(&file) => pid,
    };
    std::mem::forget(running);
    assert!(alive(sleeper), "a crash kills nothing by itself");

    let restarted = HostRuntime::new(dir.path()).unwrap();
    assert_eq!(
        restarted.list_containers().await.unwrap(),
        vec![ctr("orphan")]
    );
    restarted.destroy_container(&ctr("orphan")).await.unwrap();
    ended(sleeper).await;
    assert!(restarted.list_containers().await.unwrap().is_empty());
}
