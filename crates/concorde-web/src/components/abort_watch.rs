//! Watching a running build (a job's or a check) for an abort request and for the node's
//! shutdown: an abort cancels the run, a shutdown interrupts it with a reason; and the events
//! the web node itself records (a build's own error, the status of a build the engine never
//! ran).

use std::sync::Arc;

use concorde_engine::RunEnv;
use concorde_store::{BuildId, EventKind, NewBuildEvent, Store, StoreError, Topic};
use tokio_util::sync::CancellationToken;

/// Starts watching `build`; abort the returned task when the run ends. An abort requested
/// before the watch began is caught too.
pub async fn watch(
    store: &Store,
    build: BuildId,
    env: Arc<RunEnv>,
    stop: CancellationToken,
    stopped_reason: &'static str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut listener = store.listen(&[Topic::BuildAbort(build)]).await?;
    let watched = store.clone();
    let watched_env = env.clone();
    let watcher = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    watched_env.interrupt(stopped_reason);
                    break;
                }
                heard = listener.recv() => {
                    if heard.is_err() {
                        break;
                    }
                    // A notification is a hint: the build's row says whether abort was
                    // asked for, or that the build is gone with its pipeline.
                    let gone_or_aborted = match watched.build(build).await {
                        Ok(build) => build.aborted,
                        Err(StoreError::NotFound { .. }) => true,
                        Err(_) => false,
                    };
                    if gone_or_aborted {
                        watched_env.abort.cancel();
                        break;
                    }
                }
            }
        }
    });
    if store.build(build).await?.aborted {
        env.abort.cancel();
    }
    Ok(watcher)
}

/// Why a build whose node stopped while running it errored.
pub(crate) const NODE_STOPPED: &str =
    "the web node running this build stopped; the build cannot be resumed";

/// The error event of a build whose node went away while running it.
pub(crate) fn node_stopped_event() -> NewBuildEvent {
    build_error_event(NODE_STOPPED)
}

/// An error of the whole build (no step's), as the web node records it.
pub(crate) fn build_error_event(message: &str) -> NewBuildEvent {
    let data = serde_json::json!({"message": message, "origin": {"id": ""}, "time": crate::now().0 / 1000});
    NewBuildEvent::Other {
        kind: EventKind::Error,
        data,
    }
}

/// A `status` event, as the web node records it for a build the engine never ran.
pub(crate) fn status_event(status: concorde_store::BuildStatus) -> NewBuildEvent {
    let data = serde_json::json!({"status": status.as_str(), "time": crate::now().0 / 1000});
    NewBuildEvent::Other {
        kind: EventKind::Status,
        data,
    }
}
