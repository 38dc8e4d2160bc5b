//! `GET /api/v1/builds/:build_id/events`: a build's events as server-sent events, framed as
//! Concourse frames them (`id:`, `event: event`, `data: <envelope>`), resumable with
//! `Last-Event-ID`, pushed live as the store notifies new events, and closed by an `end`
//! message once the build has finished and every event was sent.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use concorde_proto::{END_EVENT, EVENT_STREAM_VERSION, EventEnvelope, LogOrigin, SSE_EVENT};
use concorde_store::{BuildEvent, BuildId, EventPayload, Listener, Store, Topic};
use tracing::instrument;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, BuildPath};
use crate::present;
use crate::routes::builds::readable_build;
use crate::state::ApiState;

/// Events fetched from the store per query.
const BATCH: usize = 2000;

/// How long to wait for a notification before looking again anyway (notifications are hints).
const POLL: Duration = Duration::from_secs(5);

/// `GET /api/v1/builds/:build_id/events`.
#[instrument(skip_all)]
pub async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let start = match headers.get("last-event-id") {
        None => 0,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let last: i64 = text
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid Last-Event-ID: {text:?}")))?;
            last.saturating_add(1).max(0)
        }
    };
    let (build, _) = readable_build(&state, &caller, path.build_id, true).await?;
    let store = state.store().clone();
    // Subscribe before the first read, so no event saved after that read goes unnoticed.
    let listener = store.listen(&[Topic::BuildEvents(build.id)]).await?;
    let cursor = Cursor {
        store,
        build: build.id,
        next: start,
        listener,
        frames: VecDeque::new(),
        ended: false,
    };
    let body = Body::from_stream(futures::stream::unfold(cursor, Cursor::next_frame));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache, no-store, must-revalidate")
        .header("X-Accel-Buffering", "no")
        .header("X-ATC-Stream-Version", EVENT_STREAM_VERSION)
        .body(body)
        .map_err(|err| ApiError::Internal(err.to_string()))
}

/// Where a stream is: the next event id to send and the frames ready to go.
struct Cursor {
    store: Store,
    build: BuildId,
    /// The next event id, which is also the next SSE id.
    next: i64,
    listener: Listener,
    frames: VecDeque<Bytes>,
    /// The `end` message was queued; after it the stream stays open and silent.
    ended: bool,
}

impl Cursor {
    async fn next_frame(mut self) -> Option<(Result<Bytes, Infallible>, Cursor)> {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return Some((Ok(frame), self));
            }
            if self.ended {
                // Concourse keeps the connection open after `end` until the client leaves.
                std::future::pending::<()>().await;
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    // A lost notification only delays us until the next poll.
                    let _woken = tokio::time::timeout(POLL, self.listener.recv()).await;
                }
                Err(err) => {
                    tracing::error!(build_id = %self.build, error = %err, "build event stream failed");
                    return None;
                }
            }
        }
    }

    /// Queues the next batch of events, or `end` when the build has finished and nothing is
    /// left. `Ok(false)` when there is nothing to send yet.
    async fn fill(&mut self) -> ApiResult<bool> {
        if self.queue_events().await? {
            return Ok(true);
        }
        if !self.store.build(self.build).await?.status.is_finished() {
            return Ok(false);
        }
        // Events saved between the read above and the build finishing come before `end`.
        if self.queue_events().await? {
            return Ok(true);
        }
        self.frames.push_back(Bytes::from(format!(
            "id: {}\nevent: {END_EVENT}\ndata\n\n",
            self.next
        )));
        self.ended = true;
        Ok(true)
    }

    async fn queue_events(&mut self) -> ApiResult<bool> {
        let events = self
            .store
            .build_events(self.build, self.next, BATCH)
            .await?;
        for event in &events {
            self.frames.push_back(Bytes::from(frame(event)?));
            self.next = event.event_id + 1;
        }
        Ok(!events.is_empty())
    }
}

/// One SSE message for a stored event.
fn frame(event: &BuildEvent) -> ApiResult<String> {
    let envelope = match &event.payload {
        EventPayload::Log {
            origin,
            time,
            output,
        } => {
            let data = LogOrigin::decode(origin).log_event_data(present::secs(*time), output);
            EventEnvelope::new(data, "log", "5.1", event.event_id)
        }
        EventPayload::Other {
            kind,
            version,
            data,
        } => EventEnvelope::new(data.clone(), kind, version, event.event_id),
    }
    .map_err(|err| ApiError::Internal(format!("stored event {}: {err}", event.event_id)))?;
    let data =
        serde_json::to_string(&envelope).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(format!(
        "id: {}\nevent: {SSE_EVENT}\ndata: {data}\n\n",
        event.event_id
    ))
}
