//! The worker's side: a [`Runtime`] served over HTTP. Process output streams back in frames as
//! it is produced; a `stop` request (not a dropped connection) stops a process, so a process
//! outlives a broken connection to the web node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, Runtime, VolumeHandle,
    WorkerError,
};
use futures::TryStreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::io::{ReaderStream, StreamReader};
use tokio_util::sync::CancellationToken;

use crate::compression::Compression;
use crate::frames::{self, MAX_FRAME};
use crate::p2p::P2p;
use crate::wire::{CreateVolume, P2pUrl, WireError};

/// Largest process spec a run request may carry.
const MAX_SPEC: usize = 4 * 1024 * 1024;

#[derive(Clone)]
struct ServiceState {
    runtime: Arc<dyn Runtime>,
    processes: Arc<Mutex<HashMap<String, CancellationToken>>>,
    next_process: Arc<AtomicU64>,
    /// Set when the worker takes streams from its peers.
    p2p: Option<P2p>,
}

/// A worker error as a response.
struct Failure(WorkerError);

impl From<WorkerError> for Failure {
    fn from(err: WorkerError) -> Failure {
        Failure(err)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let wire = WireError::from(&self.0);
        let status =
            StatusCode::from_u16(wire.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(wire)).into_response()
    }
}

type Served<T> = Result<T, Failure>;

/// The routes of the worker's service over `runtime`; with `p2p`, it also hands out URLs its
/// peers push streams to.
pub fn router(runtime: Arc<dyn Runtime>, p2p: Option<P2p>) -> Router {
    let state = ServiceState {
        runtime,
        processes: Arc::default(),
        next_process: Arc::default(),
        p2p,
    };
    Router::new()
        .route("/ping", get(|| async { StatusCode::NO_CONTENT }))
        .route("/containers", get(list_containers).post(create_container))
        .route(
            "/containers/{handle}",
            axum::routing::delete(destroy_container),
        )
        .route("/containers/{handle}/processes", post(run))
        .route("/containers/{handle}/processes/{id}/stop", put(stop))
        .route("/volumes", get(list_volumes).post(create_volume))
        .route(
            "/volumes/{handle}",
            get(lookup_volume).delete(destroy_volume),
        )
        .route("/volumes/{handle}/stream-in", put(stream_in))
        .route("/volumes/{handle}/stream-out", get(stream_out))
        .route("/volumes/{handle}/p2p-stream-in", post(p2p_stream_in))
        .route("/volumes/{handle}/stream-p2p-out", put(stream_p2p_out))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Serves `runtime` on `listener` until `stop` is cancelled (see [`router`] for `p2p`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    runtime: Arc<dyn Runtime>,
    p2p: Option<P2p>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(runtime, p2p))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

async fn list_containers(State(state): State<ServiceState>) -> Served<Json<Vec<String>>> {
    let handles = state.runtime.list_containers().await?;
    Ok(Json(handles.into_iter().map(|handle| handle.0).collect()))
}

async fn create_container(
    State(state): State<ServiceState>,
    Json(spec): Json<ContainerSpec>,
) -> Served<StatusCode> {
    state.runtime.create_container(spec).await?;
    Ok(StatusCode::CREATED)
}

async fn destroy_container(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
) -> Served<StatusCode> {
    state
        .runtime
        .destroy_container(&ContainerHandle(handle))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forwards what a process writes as frames of one kind.
struct FrameWriter {
    kind: u8,
    frames: mpsc::Sender<Vec<u8>>,
}

impl tokio::io::AsyncWrite for FrameWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let chunk = &buf[..buf.len().min(MAX_FRAME)];
        let permit = match self.frames.try_reserve() {
            Ok(permit) => permit,
            // The web node went away: the output is dropped, the process carries on.
            Err(mpsc::error::TrySendError::Closed(())) => {
                return std::task::Poll::Ready(Ok(chunk.len()));
            }
            Err(mpsc::error::TrySendError::Full(())) => {
                // Wait for room: back-pressure on the process's pipe.
                let waker = cx.waker().clone();
                let frames = self.frames.clone();
                tokio::spawn(async move {
                    let _ = frames.reserve().await;
                    waker.wake();
                });
                return std::task::Poll::Pending;
            }
        };
        permit.send(frames::encode(self.kind, chunk));
        std::task::Poll::Ready(Ok(chunk.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

async fn run(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
    body: Body,
) -> Served<Response> {
    let mut body = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let length = body.read_u32().await.map_err(WorkerError::Io)? as usize;
    if length > MAX_SPEC {
        return Err(WorkerError::Transport(format!(
            "a process spec of {length} bytes is too large"
        ))
        .into());
    }
    let mut spec = vec![0u8; length];
    body.read_exact(&mut spec).await.map_err(WorkerError::Io)?;
    let process: ProcessSpec = serde_json::from_slice(&spec)
        .map_err(|err| WorkerError::Transport(format!("malformed process spec: {err}")))?;
    let id = state
        .next_process
        .fetch_add(1, Ordering::Relaxed)
        .to_string();
    let cancel = CancellationToken::new();
    if let Ok(mut processes) = state.processes.lock() {
        processes.insert(id.clone(), cancel.clone());
    }
    let (sender, receiver) = mpsc::channel::<Vec<u8>>(64);
    let _ = sender
        .send(frames::encode(frames::STARTED, id.as_bytes()))
        .await;
    let io = ProcessIo {
        stdin: Some(Box::new(body)),
        stdout: Box::new(FrameWriter {
            kind: frames::STDOUT,
            frames: sender.clone(),
        }),
        stderr: Box::new(FrameWriter {
            kind: frames::STDERR,
            frames: sender.clone(),
        }),
    };
    let runtime = state.runtime.clone();
    let processes = state.processes.clone();
    tokio::spawn(async move {
        let result = runtime
            .run(&ContainerHandle(handle), process, io, cancel)
            .await;
        let last = match result {
            Ok(ExitStatus::Exited(code)) => frames::encode(frames::EXITED, &code.to_be_bytes()),
            Ok(ExitStatus::Cancelled) => frames::encode(frames::CANCELLED, &[]),
            Err(err) => frames::encode(
                frames::FAILED,
                &serde_json::to_vec(&WireError::from(&err)).unwrap_or_default(),
            ),
        };
        let _ = sender.send(last).await;
        if let Ok(mut processes) = processes.lock() {
            processes.remove(&id);
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|frame| (Ok::<_, std::io::Error>(Bytes::from(frame)), receiver))
    });
    Ok(Body::from_stream(stream).into_response())
}

async fn stop(
    State(state): State<ServiceState>,
    Path((_handle, id)): Path<(String, String)>,
) -> StatusCode {
    let token = state
        .processes
        .lock()
        .ok()
        .and_then(|processes| processes.get(&id).cloned());
    match token {
        Some(token) => {
            token.cancel();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn list_volumes(State(state): State<ServiceState>) -> Served<Json<Vec<String>>> {
    let handles = state.runtime.list_volumes().await?;
    Ok(Json(handles.into_iter().map(|handle| handle.0).collect()))
}

async fn create_volume(
    State(state): State<ServiceState>,
    Json(request): Json<CreateVolume>,
) -> Served<(StatusCode, Json<concorde_worker::VolumeInfo>)> {
    let info = state
        .runtime
        .create_volume(&request.handle, request.strategy)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn lookup_volume(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
) -> Served<Json<concorde_worker::VolumeInfo>> {
    let handle = VolumeHandle(handle);
    match state.runtime.lookup_volume(&handle).await? {
        Some(info) => Ok(Json(info)),
        None => Err(WorkerError::VolumeNotFound(handle.0).into()),
    }
}

async fn destroy_volume(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
) -> Served<StatusCode> {
    state.runtime.destroy_volume(&VolumeHandle(handle)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct PathQuery {
    #[serde(default)]
    path: String,
    /// How a volume stream's body is compressed.
    #[serde(default)]
    encoding: Compression,
}

fn relative(query: &PathQuery) -> &str {
    if query.path.is_empty() {
        "."
    } else {
        &query.path
    }
}

async fn stream_in(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
    Query(query): Query<PathQuery>,
    body: Body,
) -> Served<StatusCode> {
    let body = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let tar = query.encoding.decode(Box::new(body));
    state
        .runtime
        .stream_in(&VolumeHandle(handle), relative(&query), tar)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tar of `path`: an error found before the first byte (a missing path) is the response's
/// status; one found later ends the body early, which the client reports.
async fn stream_out(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
    Query(query): Query<PathQuery>,
) -> Served<Response> {
    let (mut reader, writer) = tokio::io::duplex(256 * 1024);
    let runtime = state.runtime.clone();
    let path = relative(&query).to_owned();
    let mut streaming = tokio::spawn(async move {
        runtime
            .stream_out(&VolumeHandle(handle), &path, Box::new(writer))
            .await
    });
    let mut first = vec![0u8; 64 * 1024];
    let mut finished = false;
    let read = tokio::select! {
        read = reader.read(&mut first) => read.map_err(WorkerError::Io)?,
        done = &mut streaming => {
            finished = true;
            done.map_err(|err| WorkerError::Transport(err.to_string()))??;
            reader.read(&mut first).await.map_err(WorkerError::Io)?
        }
    };
    if read == 0 && !finished {
        // The writer closed before writing anything: the streaming ended, maybe in error.
        finished = true;
        (&mut streaming)
            .await
            .map_err(|err| WorkerError::Transport(err.to_string()))??;
    }
    first.truncate(read);
    let tar = tokio::io::AsyncReadExt::chain(std::io::Cursor::new(first), reader);
    let body = ReaderStream::with_capacity(query.encoding.encode(Box::new(tar)), 256 * 1024);
    if !finished {
        tokio::spawn(async move {
            if let Ok(Err(err)) = streaming.await {
                tracing::warn!(error = %err, "streaming a volume out failed midway");
            }
        });
    }
    Ok(Body::from_stream(body).into_response())
}

/// A one-time URL a peer pushes a tar into `path` of the volume at; `null` without p2p.
async fn p2p_stream_in(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
    Query(query): Query<PathQuery>,
) -> Served<Json<P2pUrl>> {
    let url = match &state.p2p {
        Some(p2p) => {
            let volume = VolumeHandle(handle);
            if state.runtime.lookup_volume(&volume).await?.is_none() {
                return Err(WorkerError::VolumeNotFound(volume.0).into());
            }
            Some(p2p.issue(volume, relative(&query)))
        }
        None => None,
    };
    Ok(Json(P2pUrl { url }))
}

/// Where a volume is pushed to: a peer's one-time URL.
#[derive(Deserialize)]
struct PushQuery {
    #[serde(default)]
    path: String,
    url: String,
    #[serde(default)]
    encoding: Compression,
}

/// Pushes `path` of the volume to a peer's URL; 204 once the peer has it all.
async fn stream_p2p_out(
    State(state): State<ServiceState>,
    Path(handle): Path<String>,
    Query(query): Query<PushQuery>,
) -> Served<StatusCode> {
    let path = if query.path.is_empty() {
        ".".to_owned()
    } else {
        query.path
    };
    crate::p2p::push(
        state.runtime.clone(),
        VolumeHandle(handle),
        path,
        &query.url,
        query.encoding,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
