//! Streaming straight from one worker to another, when they can reach each other: the web
//! node asks the receiving worker for a one-time URL into a volume (a ticket, valid for
//! fifteen minutes) and tells the sending worker to push the tar there. Peers reach only that
//! one route, on the worker's `--p2p-bind` address; everything else stays on loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::put;
use bytes::Bytes;
use concorde_worker::{Runtime, VolumeHandle, WorkerError};
use futures::TryStreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio_util::io::{ReaderStream, StreamReader};
use tokio_util::sync::CancellationToken;

use crate::compression::Compression;
use crate::wire::WireError;

/// How long a ticket waits for its peer.
const TICKET_LIFE: Duration = Duration::from_secs(15 * 60);
/// How long a push waits to connect to its peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes in flight between packing the tar and sending it.
const BUFFER: usize = 256 * 1024;

/// One stream a peer may push.
struct Ticket {
    volume: VolumeHandle,
    path: String,
    expires: Instant,
}

/// The tickets of a worker that takes streams from its peers, and the URL they reach it at.
#[derive(Clone)]
pub struct P2p {
    url: String,
    tickets: Arc<Mutex<HashMap<String, Ticket>>>,
}

impl std::fmt::Debug for P2p {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2p").field("url", &self.url).finish()
    }
}

impl P2p {
    /// Peers reach this worker at `url` (`http://ADDR:PORT`).
    pub fn new(url: &str) -> P2p {
        P2p {
            url: url.trim_end_matches('/').to_owned(),
            tickets: Arc::default(),
        }
    }

    /// A one-time URL into `path` of `volume`.
    pub(crate) fn issue(&self, volume: VolumeHandle, path: &str) -> String {
        let mut bytes = [0u8; 16];
        let _ = getrandom::fill(&mut bytes);
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let now = Instant::now();
        let mut tickets = self.lock();
        tickets.retain(|_, ticket| ticket.expires > now);
        tickets.insert(
            token.clone(),
            Ticket {
                volume,
                path: path.to_owned(),
                expires: now + TICKET_LIFE,
            },
        );
        format!("{}/p2p/stream-in/{token}", self.url)
    }

    /// The volume and path of ticket `token`, used up; `None` if there is no such live ticket.
    fn redeem(&self, token: &str) -> Option<(VolumeHandle, String)> {
        let ticket = self.lock().remove(token)?;
        (ticket.expires > Instant::now()).then_some((ticket.volume, ticket.path))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ticket>> {
        match self.tickets.lock() {
            Ok(tickets) => tickets,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[derive(Clone)]
struct PeerState {
    runtime: Arc<dyn Runtime>,
    p2p: P2p,
}

/// The one route peers reach: `PUT /p2p/stream-in/{token}` with a tar body.
pub fn peer_router(runtime: Arc<dyn Runtime>, p2p: P2p) -> Router {
    Router::new()
        .route("/p2p/stream-in/{token}", put(stream_in))
        .layer(DefaultBodyLimit::disable())
        .with_state(PeerState { runtime, p2p })
}

/// Serves [`peer_router`] on `listener` until `stop` is cancelled.
pub async fn serve_peers(
    listener: tokio::net::TcpListener,
    runtime: Arc<dyn Runtime>,
    p2p: P2p,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, peer_router(runtime, p2p))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

/// How a pushed body is compressed.
#[derive(serde::Deserialize)]
struct PeerQuery {
    #[serde(default)]
    encoding: Compression,
}

async fn stream_in(
    State(state): State<PeerState>,
    Path(token): Path<String>,
    Query(query): Query<PeerQuery>,
    body: Body,
) -> Result<StatusCode, (StatusCode, axum::Json<WireError>)> {
    let failed = |err: WorkerError| {
        let wire = WireError::from(&err);
        let status =
            StatusCode::from_u16(wire.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(wire))
    };
    let Some((volume, path)) = state.p2p.redeem(&token) else {
        return Err(failed(WorkerError::Transport(
            "no such stream ticket (used, expired or never issued)".to_owned(),
        )));
    };
    let data = TryStreamExt::map_err(body.into_data_stream(), std::io::Error::other);
    let tar = query.encoding.decode(Box::new(StreamReader::new(data)));
    tracing::info!(volume = %volume.0, "streaming in from a peer");
    state
        .runtime
        .stream_in(&volume, &path, tar)
        .await
        .map_err(failed)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pushes `path` of `volume` to a peer's ticket `url`, compressed with `encoding`.
pub(crate) async fn push(
    runtime: Arc<dyn Runtime>,
    volume: VolumeHandle,
    path: String,
    url: &str,
    encoding: Compression,
) -> Result<(), WorkerError> {
    let uri: hyper::Uri = format!("{url}?encoding={}", encoding.name())
        .parse()
        .map_err(|err| WorkerError::Transport(format!("invalid peer URL {url}: {err}")))?;
    let (reader, writer) = tokio::io::duplex(BUFFER);
    let packing =
        tokio::spawn(async move { runtime.stream_out(&volume, &path, Box::new(writer)).await });
    let frames =
        ReaderStream::with_capacity(encoding.encode(Box::new(reader)), BUFFER).map_ok(Frame::data);
    let body = BodyExt::boxed_unsync(StreamBody::new(frames));
    let request = hyper::Request::put(uri)
        .body(body)
        .map_err(|err| WorkerError::Transport(err.to_string()))?;
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    // A peer that drops packets must not hold the stream for minutes: the web node then
    // streams the volume through itself instead.
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let client: Client<_, http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let response = client
        .request(request)
        .await
        .map_err(|err| WorkerError::Transport(format!("pushing to {url}: {err}")))?;
    let packed = packing
        .await
        .map_err(|err| WorkerError::Transport(err.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        return Err(match serde_json::from_slice::<WireError>(&body) {
            Ok(wire) => WorkerError::from(wire),
            Err(_) => WorkerError::Transport(format!("peer at {url} answered {status}")),
        });
    }
    packed
}
