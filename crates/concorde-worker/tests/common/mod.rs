//! Helpers shared by the backend test harnesses: output capture, process specs, and scenarios
//! that every backend must pass, parametrised by the runtime and a base path for mounts.

#![allow(dead_code, reason = "each harness uses a subset")]

pub mod busybox;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ImageSpec, Limits, Mount, ProcessIo, ProcessSpec,
    Runtime, VolumeHandle, VolumeStrategy, WorkerError,
};
use tokio::io::AsyncWrite;
use tokio_util::sync::CancellationToken;

/// An `AsyncWrite` into shared memory, readable while the process still runs.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Counts bytes without keeping them (for floods).
#[derive(Clone, Default)]
pub struct Counted(pub Arc<Mutex<usize>>);

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        *self.0.lock().unwrap() += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A test's work directory. Dropping it destroys the containers and volumes left in it first,
/// through a fresh runtime on the same directory (their state is on disk), so no overlay
/// mount or network namespace outlives the test.
pub struct WorkDir {
    dir: tempfile::TempDir,
    open: fn(&std::path::Path) -> Box<dyn Runtime>,
}

impl WorkDir {
    pub fn new(dir: tempfile::TempDir, open: fn(&std::path::Path) -> Box<dyn Runtime>) -> Self {
        WorkDir { dir, open }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let path = self.dir.path().to_owned();
        let open = self.open;
        // The test's own tokio runtime may be shutting down: use another, on another thread.
        let cleanup = std::thread::spawn(move || {
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio.block_on(async {
                let runtime = open(&path);
                for handle in runtime.list_containers().await.unwrap() {
                    runtime.destroy_container(&handle).await.unwrap();
                }
                // Any order works: a parent with children is deleted with its last child.
                for handle in runtime.list_volumes().await.unwrap() {
                    runtime.destroy_volume(&handle).await.unwrap();
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A process's captured output.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

pub fn sh(script: &str) -> ProcessSpec {
    ProcessSpec {
        path: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![],
        dir: None,
        user: None,
    }
}

pub fn vol(name: &str) -> VolumeHandle {
    VolumeHandle(name.into())
}

pub fn ctr(name: &str) -> ContainerHandle {
    ContainerHandle(name.into())
}

pub fn spec(handle: &str, image: ImageSpec) -> ContainerSpec {
    ContainerSpec {
        handle: ctr(handle),
        image,
        mounts: vec![],
        env: vec![],
        privileged: false,
        limits: Limits::default(),
    }
}

pub fn mount(volume: &str, path: &str) -> Mount {
    Mount {
        volume: vol(volume),
        path: path.into(),
        read_only: false,
    }
}

/// Runs a process with optional stdin and captures both outputs.
pub async fn run_with(
    runtime: &dyn Runtime,
    handle: &str,
    process: ProcessSpec,
    stdin: Option<&[u8]>,
) -> Result<Output, WorkerError> {
    let (stdout, stderr) = (Captured::default(), Captured::default());
    let io = ProcessIo {
        stdin: stdin.map(|bytes| Box::new(std::io::Cursor::new(bytes.to_vec())) as _),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
    };
    let status = runtime
        .run(&ctr(handle), process, io, CancellationToken::new())
        .await?;
    Ok(Output {
        status,
        stdout: stdout.text(),
        stderr: stderr.text(),
    })
}

pub async fn run(runtime: &dyn Runtime, handle: &str, process: ProcessSpec) -> Output {
    run_with(runtime, handle, process, None).await.expect("run")
}

/// Creates a volume holding `files` (relative path, contents).
pub async fn volume_with(
    runtime: &dyn Runtime,
    handle: &str,
    files: &[(&str, &str)],
) -> std::path::PathBuf {
    let info = runtime
        .create_volume(&vol(handle), VolumeStrategy::Empty)
        .await
        .expect("create volume");
    for (path, contents) in files {
        let file = info.path.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    info.path
}

// ---- scenarios every backend passes -------------------------------------------------------

/// Exit codes, stdout and stderr kept apart, stdin fed then closed.
pub async fn exit_codes_and_streams(runtime: &dyn Runtime, image: ImageSpec) {
    runtime
        .create_container(spec("streams", image))
        .await
        .unwrap();
    let out = run(runtime, "streams", sh("echo out; echo err >&2; exit 3")).await;
    assert_eq!(out.status, ExitStatus::Exited(3));
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(
        run(runtime, "streams", sh("true")).await.status,
        ExitStatus::Exited(0)
    );
    let out = run_with(
        runtime,
        "streams",
        sh("cat; echo done"),
        Some(b"from stdin\n"),
    )
    .await
    .unwrap();
    assert_eq!(out.stdout, "from stdin\ndone\n");
    // A process killed by a signal reports 128 + the signal, like a shell (the inner shell is
    // not PID 1, which would ignore its own SIGKILL).
    let out = run(runtime, "streams", sh("sh -c 'kill -9 $$'; exit $?")).await;
    assert_eq!(out.status, ExitStatus::Exited(137));
    runtime.destroy_container(&ctr("streams")).await.unwrap();
}

/// The container's env, then the process's, override in that order.
pub async fn environment(runtime: &dyn Runtime, image: ImageSpec) {
    let mut container = spec("env", image);
    container.env = vec!["A=container".into(), "B=container".into()];
    runtime.create_container(container).await.unwrap();
    let mut process = sh("echo $A $B $C");
    process.env = vec!["B=process".into(), "C=process=with=equals".into()];
    let out = run(runtime, "env", process).await;
    assert_eq!(out.stdout, "container process process=with=equals\n");
    runtime.destroy_container(&ctr("env")).await.unwrap();
}

/// Mounted volumes are visible at their paths and writes land in the volume; the working
/// directory is created when missing; a relative executable resolves against it.
pub async fn mounts_and_working_dir(runtime: &dyn Runtime, image: ImageSpec, base: &str) {
    let input = volume_with(
        runtime,
        "mnt-input",
        &[("run.sh", "echo running from input\n"), ("data", "hello")],
    )
    .await;
    let output = volume_with(runtime, "mnt-output", &[]).await;
    let mut container = spec("mounts", image);
    container.mounts = vec![
        mount("mnt-input", &format!("{base}/input")),
        mount("mnt-output", &format!("{base}/output")),
    ];
    runtime.create_container(container).await.unwrap();

    let mut process = sh("cat input/data > output/copy && echo written > output/new && ls input");
    process.dir = Some(base.to_owned());
    let out = run(runtime, "mounts", process).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    assert_eq!(out.stdout, "data\nrun.sh\n");
    assert_eq!(
        std::fs::read_to_string(output.join("copy")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(output.join("new")).unwrap(),
        "written\n"
    );
    assert_eq!(
        std::fs::read_to_string(input.join("data")).unwrap(),
        "hello"
    );

    let process = ProcessSpec {
        path: "sh".into(),
        args: vec!["input/run.sh".into()],
        dir: Some(base.to_owned()),
        ..sh("")
    };
    assert_eq!(
        run(runtime, "mounts", process).await.stdout,
        "running from input\n"
    );

    let mut process = sh("pwd && touch here");
    process.dir = Some(format!("{base}/output/deeper/dir"));
    let out = run(runtime, "mounts", process).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    assert!(output.join("deeper/dir/here").exists());
    runtime.destroy_container(&ctr("mounts")).await.unwrap();
    // Destroying the container leaves the volumes alone.
    assert!(input.join("data").exists());
}

/// A missing executable is an error saying so, not an exit status.
pub async fn missing_executable(runtime: &dyn Runtime, image: ImageSpec) {
    runtime
        .create_container(spec("missing", image))
        .await
        .unwrap();
    let process = ProcessSpec {
        path: "no-such-program".into(),
        ..sh("")
    };
    let err = run_with(runtime, "missing", process, None)
        .await
        .err()
        .expect("must fail");
    match &err {
        WorkerError::ProcessStart { path, reason } => {
            assert_eq!(path, "no-such-program");
            assert!(reason.contains("not found"), "{reason}");
        }
        other => panic!("expected ProcessStart, got {other:?}"),
    }
    let err = run_with(runtime, "no-such-container", sh("true"), None)
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, WorkerError::ContainerNotFound(ref h) if h == "no-such-container"),
        "{err:?}"
    );
    runtime.destroy_container(&ctr("missing")).await.unwrap();
}

/// Cancelling stops a process: one that dies of SIGTERM (or would ignore it, as PID 1 of a
/// container) well within the grace, one that handles it by exiting as it exits, and one that
/// handles it but keeps running by SIGKILL after the grace. Output produced before the
/// cancellation is delivered as it is produced.
pub async fn cancellation(runtime: &dyn Runtime, image: ImageSpec, grace: Duration) {
    runtime
        .create_container(spec("cancel", image))
        .await
        .unwrap();
    let handle = ctr("cancel");
    let cases: [(&str, &str, Duration, Duration); 3] = [
        (
            "echo started; exec sleep 1000",
            "started\n",
            Duration::ZERO,
            grace / 2,
        ),
        (
            "trap 'echo stopping; exit 0' TERM; echo started; while true; do sleep 0.1; done",
            "started\nstopping\n",
            Duration::ZERO,
            grace / 2,
        ),
        (
            "trap 'echo ignoring' TERM; echo started; while true; do sleep 0.1; done",
            "started\nignoring\n",
            grace,
            grace + Duration::from_secs(5),
        ),
    ];
    for (script, expected, min, max) in cases {
        let stdout = Captured::default();
        let cancel = CancellationToken::new();
        let io = ProcessIo {
            stdin: None,
            stdout: Box::new(stdout.clone()),
            stderr: Box::new(Captured::default()),
        };
        let running = runtime.run(&handle, sh(script), io, cancel.clone());
        let watcher = async {
            // The line arrives while the process is still running: output is streamed.
            while stdout.text() != "started\n" {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            cancel.cancel();
            std::time::Instant::now()
        };
        let (status, cancelled_at) = tokio::time::timeout(Duration::from_secs(60), async {
            tokio::join!(running, watcher)
        })
        .await
        .unwrap_or_else(|_| panic!("{script:?} was not stopped"));
        let took = cancelled_at.elapsed();
        assert_eq!(status.unwrap(), ExitStatus::Cancelled, "{script:?}");
        assert_eq!(stdout.text(), expected, "{script:?}");
        assert!(
            took >= min && took < max,
            "{script:?} took {took:?}, expected {min:?}..{max:?}"
        );
    }
    runtime.destroy_container(&ctr("cancel")).await.unwrap();
}

/// 50 MB on stderr and some stdout neither deadlock nor lose bytes.
pub async fn output_flood(runtime: &dyn Runtime, image: ImageSpec) {
    runtime
        .create_container(spec("flood", image))
        .await
        .unwrap();
    let (stdout, stderr) = (Counted::default(), Counted::default());
    let io = ProcessIo {
        stdin: None,
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
    };
    let process = sh("head -c 52428800 /dev/zero >&2; head -c 1000000 /dev/zero");
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        runtime.run(&ctr("flood"), process, io, CancellationToken::new()),
    )
    .await
    .expect("flood hung")
    .unwrap();
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(*stderr.0.lock().unwrap(), 52_428_800);
    assert_eq!(*stdout.0.lock().unwrap(), 1_000_000);
    runtime.destroy_container(&ctr("flood")).await.unwrap();
}

/// Handles are listed, taken handles refused, destroying is idempotent.
pub async fn container_lifecycle(runtime: &dyn Runtime, image: ImageSpec) {
    runtime
        .create_container(spec("life-a", image.clone()))
        .await
        .unwrap();
    runtime
        .create_container(spec("life-b", image.clone()))
        .await
        .unwrap();
    let err = runtime
        .create_container(spec("life-a", image.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::AlreadyExists(_)), "{err:?}");
    let err = runtime
        .create_container(spec("../escape", image.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidHandle(_)), "{err:?}");
    let mut bad_mount = spec("life-c", image);
    bad_mount.mounts = vec![mount("no-such-volume", "/tmp/x")];
    let err = runtime.create_container(bad_mount).await.unwrap_err();
    assert!(matches!(err, WorkerError::VolumeNotFound(_)), "{err:?}");

    let listed = runtime.list_containers().await.unwrap();
    assert_eq!(listed, vec![ctr("life-a"), ctr("life-b")]);
    runtime.destroy_container(&ctr("life-a")).await.unwrap();
    runtime.destroy_container(&ctr("life-a")).await.unwrap();
    runtime.destroy_container(&ctr("life-b")).await.unwrap();
    assert!(runtime.list_containers().await.unwrap().is_empty());
}
