//! The worker's service and the client over real HTTP, on a real host runtime: every
//! `Runtime` call means over the wire what it means in process, errors keep their kind, a
//! process's streams arrive as it writes them, and a cancelled run stops its process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, HostRuntime, ImageSpec, Limits, Mount, ProcessIo,
    ProcessSpec, Runtime, VolumeHandle, VolumeStrategy, WorkerError,
};
use concorde_worker_http::{Compression, P2p, RemoteRuntime, serve, serve_peers};
use tokio_util::sync::CancellationToken;

struct Served {
    _dir: tempfile::TempDir,
    remote: RemoteRuntime,
    stop: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn served() -> Served {
    served_with(false).await
}

/// A served runtime; with `peers`, it also takes streams from its peers on its own port.
async fn served_with(peers: bool) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let runtime: Arc<dyn Runtime> = Arc::new(
        HostRuntime::new(dir.path())
            .unwrap()
            .with_kill_grace(Duration::from_millis(200)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let p2p = if peers {
        let peer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p2p = P2p::new(&format!("http://{}", peer_listener.local_addr().unwrap()));
        tokio::spawn(serve_peers(
            peer_listener,
            runtime.clone(),
            p2p.clone(),
            stop.clone(),
        ));
        Some(p2p)
    } else {
        None
    };
    tokio::spawn(serve(listener, runtime, p2p, stop.clone()));
    Served {
        _dir: dir,
        remote: RemoteRuntime::new(&address),
        stop,
    }
}

/// An in-memory writer whose bytes a test reads afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
    builder.into_inner().unwrap()
}

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec {
        path: "sh".to_owned(),
        args: vec!["-c".to_owned(), script.to_owned()],
        env: Vec::new(),
        dir: Some("/tmp/build/w".to_owned()),
        user: None,
    }
}

fn container(handle: &str, mounts: Vec<Mount>) -> ContainerSpec {
    ContainerSpec {
        handle: ContainerHandle(handle.to_owned()),
        image: ImageSpec::None,
        mounts,
        env: vec!["GREETING=hello".to_owned()],
        privileged: false,
        limits: Limits::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_stream_in_and_out_and_keep_their_errors() {
    let served = served().await;
    let remote = &served.remote;
    remote.ping().await.unwrap();
    let parent = VolumeHandle("parent".to_owned());
    let info = remote
        .create_volume(&parent, VolumeStrategy::Empty)
        .await
        .unwrap();
    assert_eq!(info.handle, parent);
    remote
        .stream_in(
            &parent,
            ".",
            Box::new(std::io::Cursor::new(tar_of("a.txt", b"alpha"))),
        )
        .await
        .unwrap();
    let child = VolumeHandle("child".to_owned());
    remote
        .create_volume(&child, VolumeStrategy::CopyOnWrite(parent.clone()))
        .await
        .unwrap();
    let out = Captured::default();
    remote
        .stream_out(&child, "a.txt", Box::new(out.clone()))
        .await
        .unwrap();
    let bytes = out.0.lock().unwrap().clone();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut content = String::new();
    std::io::Read::read_to_string(&mut entry, &mut content).unwrap();
    assert_eq!(content, "alpha");

    let mut listed = remote.list_volumes().await.unwrap();
    listed.sort();
    assert_eq!(listed, vec![child.clone(), parent.clone()]);
    let missing = VolumeHandle("missing".to_owned());
    assert_eq!(remote.lookup_volume(&missing).await.unwrap(), None);
    assert!(remote.lookup_volume(&child).await.unwrap().is_some());
    let err = remote
        .stream_out(&child, "nope", Box::new(Captured::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::PathNotFound { .. }), "{err:?}");
    let err = remote
        .create_volume(&parent, VolumeStrategy::Empty)
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::AlreadyExists(_)), "{err:?}");
    let err = remote
        .create_volume(&VolumeHandle("../x".to_owned()), VolumeStrategy::Empty)
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidHandle(_)), "{err:?}");
    remote.destroy_volume(&child).await.unwrap();
    remote.destroy_volume(&parent).await.unwrap();
    remote.destroy_volume(&parent).await.unwrap();
    assert!(remote.list_volumes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_streams_its_output_and_exit_status() {
    let served = served().await;
    let remote = &served.remote;
    let volume = VolumeHandle("work".to_owned());
    remote
        .create_volume(&volume, VolumeStrategy::Empty)
        .await
        .unwrap();
    let mount = Mount {
        volume: volume.clone(),
        path: "/tmp/build/w".to_owned(),
        read_only: false,
    };
    remote
        .create_container(container("c", vec![mount]))
        .await
        .unwrap();
    let (stdout, stderr) = (Captured::default(), Captured::default());
    let io = ProcessIo {
        stdin: Some(Box::new(std::io::Cursor::new(b"from stdin".to_vec()))),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
    };
    let status = remote
        .run(
            &ContainerHandle("c".to_owned()),
            sh("cat; echo \" $GREETING\"; echo oops >&2; echo kept > file; exit 3"),
            io,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Exited(3));
    assert_eq!(stdout.text(), "from stdin hello\n");
    assert_eq!(stderr.text(), "oops\n");
    let out = Captured::default();
    remote
        .stream_out(&volume, "file", Box::new(out.clone()))
        .await
        .unwrap();
    assert!(
        out.text().contains("kept"),
        "the process wrote into its mount"
    );

    let err = remote
        .run(
            &ContainerHandle("nope".to_owned()),
            sh("true"),
            ProcessIo {
                stdin: None,
                stdout: Box::new(Captured::default()),
                stderr: Box::new(Captured::default()),
            },
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::ContainerNotFound(_)), "{err:?}");
    assert_eq!(
        remote.list_containers().await.unwrap(),
        vec![ContainerHandle("c".to_owned())]
    );
    remote
        .destroy_container(&ContainerHandle("c".to_owned()))
        .await
        .unwrap();
    assert!(remote.list_containers().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_run_stops_the_process_on_the_worker() {
    let served = served().await;
    let remote = served.remote.clone();
    remote
        .create_container(container("c", Vec::new()))
        .await
        .unwrap();
    let stdout = Captured::default();
    let cancel = CancellationToken::new();
    let run = {
        let remote = remote.clone();
        let cancel = cancel.clone();
        let stdout = stdout.clone();
        tokio::spawn(async move {
            remote
                .run(
                    &ContainerHandle("c".to_owned()),
                    sh("echo started; exec sleep 60"),
                    ProcessIo {
                        stdin: None,
                        stdout: Box::new(stdout),
                        stderr: Box::new(Captured::default()),
                    },
                    cancel,
                )
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while stdout.text().is_empty() {
        assert!(Instant::now() < deadline, "the process never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let status = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run ends soon after the cancel")
        .unwrap()
        .unwrap();
    assert_eq!(status, ExitStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_worker_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = RemoteRuntime::new(&address)
        .list_volumes()
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::Transport(_)), "{err:?}");
    assert!(err.to_string().contains(&address), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_is_pushed_straight_to_a_peer_once_per_ticket() {
    let (sender, receiver) = (served().await, served_with(true).await);
    let source = VolumeHandle("source".to_owned());
    let target = VolumeHandle("target".to_owned());
    sender
        .remote
        .create_volume(&source, VolumeStrategy::Empty)
        .await
        .unwrap();
    sender
        .remote
        .stream_in(
            &source,
            ".",
            Box::new(std::io::Cursor::new(tar_of("dir/a.txt", b"pushed"))),
        )
        .await
        .unwrap();
    // A worker without a peer address hands out no URL.
    assert_eq!(
        sender.remote.p2p_stream_in_url(&source, ".").await.unwrap(),
        None
    );
    let missing = receiver
        .remote
        .p2p_stream_in_url(&target, ".")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, WorkerError::VolumeNotFound(_)),
        "{missing:?}"
    );
    receiver
        .remote
        .create_volume(&target, VolumeStrategy::Empty)
        .await
        .unwrap();
    let url = receiver
        .remote
        .p2p_stream_in_url(&target, ".")
        .await
        .unwrap()
        .expect("a peer URL");
    sender
        .remote
        .stream_p2p_out(&source, ".", &url)
        .await
        .unwrap();
    let out = Captured::default();
    receiver
        .remote
        .stream_out(&target, "dir/a.txt", Box::new(out.clone()))
        .await
        .unwrap();
    assert!(out.text().contains("pushed"), "{}", out.text());
    // The ticket is used up.
    let again = sender
        .remote
        .stream_p2p_out(&source, ".", &url)
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("no such stream ticket"),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_streams_arrive_as_they_were_sent() {
    let content: Vec<u8> = (0..100_000u32).flat_map(|n| n.to_le_bytes()).collect();
    for compression in [Compression::Gzip, Compression::Zstd] {
        let (sender, receiver) = (served().await, served_with(true).await);
        let (sending, receiving) = (
            sender.remote.clone().with_compression(compression),
            receiver.remote.clone().with_compression(compression),
        );
        let source = VolumeHandle("source".to_owned());
        let target = VolumeHandle("target".to_owned());
        sending
            .create_volume(&source, VolumeStrategy::Empty)
            .await
            .unwrap();
        sending
            .stream_in(
                &source,
                ".",
                Box::new(std::io::Cursor::new(tar_of("data", &content))),
            )
            .await
            .unwrap();
        receiving
            .create_volume(&target, VolumeStrategy::Empty)
            .await
            .unwrap();
        let url = receiving
            .p2p_stream_in_url(&target, ".")
            .await
            .unwrap()
            .unwrap();
        sending.stream_p2p_out(&source, ".", &url).await.unwrap();
        let out = Captured::default();
        receiving
            .stream_out(&target, "data", Box::new(out.clone()))
            .await
            .unwrap();
        let bytes = out.0.lock().unwrap().clone();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut back).unwrap();
        assert_eq!(back, content, "{compression:?}");
    }
}
