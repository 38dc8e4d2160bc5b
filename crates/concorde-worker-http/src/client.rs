//! The web node's side: a [`Runtime`] whose every call is a request to a worker's service
//! (through the TSA's tunnel for a remote worker). A process's output is written out as its
//! frames arrive; cancelling a run asks the worker to stop the process and waits for its end.

use bytes::Bytes;
use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, Runtime, VolumeHandle,
    VolumeInfo, VolumeStrategy, WorkerError,
};
use futures::{StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

use crate::compression::Compression;
use crate::frames::{self, FrameReader};
use crate::wire::{CreateVolume, P2pUrl, WireError};

type RequestBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Largest error body read from the worker.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A worker's runtime, reached over HTTP at `address`.
#[derive(Clone)]
pub struct RemoteRuntime {
    address: String,
    /// How errors name the worker: `worker <name> at <address>`, or `worker at <address>`.
    label: String,
    client: Client<HttpConnector, RequestBody>,
    /// How volume streams to and from it (and pushed from it to peers) are compressed.
    compression: Compression,
}

impl std::fmt::Debug for RemoteRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRuntime")
            .field("address", &self.address)
            .finish()
    }
}

fn empty() -> RequestBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(bytes: Vec<u8>) -> RequestBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn json<T: serde::Serialize>(value: &T) -> Result<RequestBody, WorkerError> {
    serde_json::to_vec(value)
        .map(full)
        .map_err(|err| WorkerError::Transport(err.to_string()))
}

/// `text` percent-encoded: every byte but unreserved ones and those in `keep`.
fn percent_encode(text: &str, keep: &[u8]) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || keep.contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// `text` as a URL path (its slashes kept).
fn encode_path(text: &str) -> String {
    percent_encode(text, b"/")
}

/// `text` as a query value.
fn encode_query(text: &str) -> String {
    percent_encode(text, b"")
}

impl RemoteRuntime {
    /// The worker service at `address` (`host:port`).
    pub fn new(address: &str) -> RemoteRuntime {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        RemoteRuntime {
            address: address.to_owned(),
            label: format!("worker at {address}"),
            client: Client::builder(TokioExecutor::new()).build(connector),
            compression: Compression::Raw,
        }
    }

    /// The same, compressing volume streams with `compression`.
    pub fn with_compression(mut self, compression: Compression) -> RemoteRuntime {
        self.compression = compression;
        self
    }

    /// The same, naming the worker in its errors.
    pub fn named(mut self, name: &str) -> RemoteRuntime {
        self.label = format!("worker {name} at {}", self.address);
        self
    }

    /// Its address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the worker answers.
    pub async fn ping(&self) -> Result<(), WorkerError> {
        self.call(Method::GET, "/ping", empty()).await.map(|_| ())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
    ) -> Result<Response<Incoming>, WorkerError> {
        self.send(method, path, body, "application/octet-stream")
            .await
    }

    async fn call_json<T: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        value: &T,
    ) -> Result<Response<Incoming>, WorkerError> {
        self.send(method, path, json(value)?, "application/json")
            .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: RequestBody,
        content_type: &str,
    ) -> Result<Response<Incoming>, WorkerError> {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address))
            .header("content-type", content_type)
            .body(body)
            .map_err(|err| WorkerError::Transport(err.to_string()))?;
        let response =
            self.client.request(request).await.map_err(|err| {
                WorkerError::Transport(format!("{} unreachable: {err}", self.label))
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failure(response).await)
    }

    async fn failure(&self, response: Response<Incoming>) -> WorkerError {
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        match serde_json::from_slice::<WireError>(&body) {
            Ok(wire) => wire.into(),
            Err(_) => WorkerError::Transport(format!(
                "{} answered {status}: {}",
                self.label,
                String::from_utf8_lossy(&body)
            )),
        }
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: Response<Incoming>,
    ) -> Result<T, WorkerError> {
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| self.broken(err))?
            .to_bytes();
        serde_json::from_slice(&body)
            .map_err(|err| WorkerError::Transport(format!("{} sent bad JSON: {err}", self.label)))
    }

    fn broken(&self, err: impl std::fmt::Display) -> WorkerError {
        WorkerError::Transport(format!("connection to {} broke: {err}", self.label))
    }

    async fn stop(&self, handle: &ContainerHandle, id: &str) {
        let path = format!(
            "/containers/{}/processes/{}/stop",
            encode_path(&handle.0),
            encode_path(id)
        );
        if let Err(err) = self.call(Method::PUT, &path, empty()).await {
            tracing::warn!(worker = %self.address, error = %err, "could not stop a process");
        }
    }
}

#[async_trait::async_trait]
impl Runtime for RemoteRuntime {
    fn name(&self) -> &'static str {
        "remote"
    }

    async fn create_volume(
        &self,
        handle: &VolumeHandle,
        strategy: VolumeStrategy,
    ) -> Result<VolumeInfo, WorkerError> {
        let request = CreateVolume {
            handle: handle.clone(),
            strategy,
        };
        let response = self.call_json(Method::POST, "/volumes", &request).await?;
        self.read_json(response).await
    }

    async fn lookup_volume(
        &self,
        handle: &VolumeHandle,
    ) -> Result<Option<VolumeInfo>, WorkerError> {
        let path = format!("/volumes/{}", encode_path(&handle.0));
        match self.call(Method::GET, &path, empty()).await {
            Ok(response) => self.read_json(response).await.map(Some),
            Err(WorkerError::VolumeNotFound(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        let path = format!("/volumes/{}", encode_path(&handle.0));
        self.call(Method::DELETE, &path, empty()).await.map(|_| ())
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeHandle>, WorkerError> {
        let response = self.call(Method::GET, "/volumes", empty()).await?;
        let handles: Vec<String> = self.read_json(response).await?;
        Ok(handles.into_iter().map(VolumeHandle).collect())
    }

    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        let compressed = self.compression.encode(tar);
        let frames = ReaderStream::with_capacity(compressed, 256 * 1024).map_ok(Frame::data);
        let body = BodyExt::boxed_unsync(StreamBody::new(frames));
        let path = format!(
            "/volumes/{}/stream-in?path={}&encoding={}",
            encode_path(&handle.0),
            encode_path(path),
            self.compression.name()
        );
        self.call(Method::PUT, &path, body).await.map(|_| ())
    }

    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        mut into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        let path = format!(
            "/volumes/{}/stream-out?path={}&encoding={}",
            encode_path(&handle.0),
            encode_path(path),
            self.compression.name()
        );
        let response = self.call(Method::GET, &path, empty()).await?;
        let body = response
            .into_body()
            .into_data_stream()
            .map_err(std::io::Error::other);
        let mut tar = self
            .compression
            .decode(Box::new(tokio_util::io::StreamReader::new(body)));
        tokio::io::copy(&mut tar, &mut into)
            .await
            .map_err(|err| self.broken(err))?;
        into.shutdown().await?;
        Ok(())
    }

    async fn p2p_stream_in_url(
        &self,
        handle: &VolumeHandle,
        path: &str,
    ) -> Result<Option<String>, WorkerError> {
        let path = format!(
            "/volumes/{}/p2p-stream-in?path={}",
            encode_path(&handle.0),
            encode_path(path)
        );
        let response = self.call(Method::POST, &path, empty()).await?;
        let answer: P2pUrl = self.read_json(response).await?;
        Ok(answer.url)
    }

    async fn stream_p2p_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        url: &str,
    ) -> Result<(), WorkerError> {
        let path = format!(
            "/volumes/{}/stream-p2p-out?path={}&url={}&encoding={}",
            encode_path(&handle.0),
            encode_path(path),
            encode_query(url),
            self.compression.name()
        );
        self.call(Method::PUT, &path, empty()).await.map(|_| ())
    }

    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError> {
        self.call_json(Method::POST, "/containers", &spec)
            .await
            .map(|_| ())
    }

    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        let spec =
            serde_json::to_vec(&process).map_err(|err| WorkerError::Transport(err.to_string()))?;
        let mut head = (spec.len() as u32).to_be_bytes().to_vec();
        head.extend(spec);
        let head = futures::stream::once(async move { Ok(Frame::data(Bytes::from(head))) });
        let body = match io.stdin {
            Some(stdin) => {
                let rest = ReaderStream::new(stdin).map_ok(Frame::data);
                BodyExt::boxed_unsync(StreamBody::new(head.chain(rest)))
            }
            None => BodyExt::boxed_unsync(StreamBody::new(head)),
        };
        let path = format!("/containers/{}/processes", encode_path(&handle.0));
        let response = self.call(Method::POST, &path, body).await?;
        let mut stdout = io.stdout;
        let mut stderr = io.stderr;
        let mut reader = FrameReader::default();
        let mut body = response.into_body().into_data_stream();
        let mut id: Option<String> = None;
        let mut stopping = false;
        loop {
            let chunk = tokio::select! {
                chunk = body.next() => chunk,
                () = cancel.cancelled(), if !stopping && id.is_some() => {
                    stopping = true;
                    if let Some(id) = &id {
                        self.stop(handle, id).await;
                    }
                    continue;
                }
            };
            let Some(chunk) = chunk else {
                return Err(self.broken("the process's stream ended early"));
            };
            reader.push(&chunk.map_err(|err| self.broken(err))?);
            while let Some((kind, payload)) = reader.next_frame().map_err(|err| self.broken(err))? {
                match kind {
                    frames::STARTED => {
                        id = Some(String::from_utf8_lossy(&payload).into_owned());
                        if cancel.is_cancelled() && !stopping {
                            stopping = true;
                            self.stop(handle, &String::from_utf8_lossy(&payload)).await;
                        }
                    }
                    frames::STDOUT => stdout.write_all(&payload).await?,
                    frames::STDERR => stderr.write_all(&payload).await?,
                    frames::EXITED => {
                        let mut code = [0u8; 4];
                        if payload.len() == 4 {
                            code.copy_from_slice(&payload);
                        }
                        finish(&mut stdout, &mut stderr).await;
                        return Ok(ExitStatus::Exited(i32::from_be_bytes(code)));
                    }
                    frames::CANCELLED => {
                        finish(&mut stdout, &mut stderr).await;
                        return Ok(ExitStatus::Cancelled);
                    }
                    frames::FAILED => {
                        finish(&mut stdout, &mut stderr).await;
                        return Err(serde_json::from_slice::<WireError>(&payload)
                            .map(WorkerError::from)
                            .unwrap_or_else(|err| self.broken(err)));
                    }
                    other => return Err(self.broken(format!("unknown frame kind {other}"))),
                }
            }
        }
    }

    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        let path = format!("/containers/{}", encode_path(&handle.0));
        self.call(Method::DELETE, &path, empty()).await.map(|_| ())
    }

    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError> {
        let response = self.call(Method::GET, "/containers", empty()).await?;
        let handles: Vec<String> = self.read_json(response).await?;
        Ok(handles.into_iter().map(ContainerHandle).collect())
    }
}

async fn finish(
    stdout: &mut Box<dyn AsyncWrite + Send + Unpin>,
    stderr: &mut Box<dyn AsyncWrite + Send + Unpin>,
) {
    let _ = stdout.shutdown().await;
    let _ = stderr.shutdown().await;
}
