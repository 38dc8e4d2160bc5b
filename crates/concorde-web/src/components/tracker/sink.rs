//! Where a running build's events and outputs go: batched into the store, off the engine's
//! hot path, so a chatty task never waits for the database per line. The queue is bounded:
//! when the database falls behind (or is briefly unreachable, in which case each batch is
//! retried until it is stored) the engine's `emit` waits, which stops reading the step's
//! output. No event is dropped. It is bounded twice, by events and by log bytes, so neither
//! many small lines nor a few large reads can pile up memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use concorde_config::model::VersionMap;
use concorde_engine::{BuildEvent, BuildRecorder, EventSink, MetadataField};
use concorde_store::{BuildId, NewBuildEvent, Store, StoreError, Timestamp};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{error, warn};

/// Most events written in one batch.
const BATCH: usize = 1000;
/// Most log output in one batch (plus one event): a batch is one stored row, decoded whole by
/// every reader of the log.
const BATCH_BYTES: usize = 1024 * 1024;
/// Events queued for the writer before `emit` waits.
const QUEUE: usize = 4 * BATCH;
/// Log bytes queued or being written before `emit` waits (a permit per byte, held until the
/// batch carrying them is stored).
const QUEUE_BYTES: usize = 4 * BATCH_BYTES;
/// The longest wait between retries of a batch the store refused for a transient reason.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);
/// How long a partial batch may wait.
const LINGER: Duration = Duration::from_millis(50);

/// An [`EventSink`] that appends to the store in batches from a background task.
pub struct StoreEventSink {
    sender: Mutex<Option<mpsc::Sender<Queued>>>,
    /// Room for log bytes in the queue.
    room: Arc<Semaphore>,
}

/// An event on its way to the store, with the room its log bytes take in the queue.
struct Queued {
    event: NewBuildEvent,
    room: Option<OwnedSemaphorePermit>,
}

impl StoreEventSink {
    /// A sink for `build` and the task writing its batches; await the task after
    /// [`StoreEventSink::close`] to be sure every event is stored.
    pub fn start(store: Store, build: BuildId) -> (StoreEventSink, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_batches(store, build, receiver));
        (
            StoreEventSink {
                sender: Mutex::new(Some(sender)),
                room: Arc::new(Semaphore::new(QUEUE_BYTES)),
            },
            writer,
        )
    }

    /// Stops accepting events; the writer flushes what it has and ends.
    pub fn close(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
    }
}

#[async_trait::async_trait]
impl EventSink for StoreEventSink {
    async fn emit(&self, event: BuildEvent) {
        let kind = event.kind();
        let stored = match event {
            BuildEvent::Log {
                origin,
                payload,
                time,
            } => {
                let origin = concorde_proto::LogOrigin {
                    id: origin.id.0,
                    source: origin.source.map(str::to_owned),
                };
                NewBuildEvent::Log {
                    origin: origin.encode(),
                    time: Timestamp(time * 1000),
                    output: payload.into_bytes(),
                }
            }
            other => NewBuildEvent::Other {
                kind: other.kind(),
                data: other.data(),
            },
        };
        let sender = self
            .sender
            .lock()
            .ok()
            .and_then(|sender| sender.as_ref().cloned());
        match sender {
            Some(sender) => {
                let room = match output_len(&stored) {
                    0 => None,
                    // A single event larger than the whole queue takes all of it.
                    bytes => {
                        let permits = u32::try_from(bytes.min(QUEUE_BYTES)).unwrap_or(u32::MAX);
                        self.room.clone().acquire_many_owned(permits).await.ok()
                    }
                };
                let queued = Queued {
                    event: stored,
                    room,
                };
                if sender.send(queued).await.is_err() {
                    error!(event = %kind, "build event writer stopped; event not stored");
                }
            }
            // Only the engine emits, and the tracker closes the sink after the engine ends.
            None => error!(event = %kind, "build event after the sink closed; event not stored"),
        }
    }
}

async fn write_batches(store: Store, build: BuildId, mut receiver: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(BATCH);
    // The queue room of the events in `batch`, given back once they are stored.
    let mut rooms = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = receiver.recv().await else {
            break;
        };
        let mut bytes = output_len(&first.event);
        batch.push(first.event);
        rooms.push(first.room);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && bytes < BATCH_BYTES {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(queued)) => {
                    bytes += output_len(&queued.event);
                    batch.push(queued.event);
                    rooms.push(queued.room);
                }
                Ok(None) | Err(_) => break,
            }
        }
        flush(&store, build, &mut batch).await;
        rooms.clear();
    }
    flush(&store, build, &mut batch).await;
}

/// The log output an event carries.
fn output_len(event: &NewBuildEvent) -> usize {
    match event {
        NewBuildEvent::Log { output, .. } => output.len(),
        NewBuildEvent::Other { .. } => 0,
    }
}

/// Stores a batch, retrying with backoff while the store fails for a reason that can pass (a
/// lost connection, a restarting database). A refusal that retrying cannot fix (the build is
/// gone) is logged with the build and the count, and the batch is given up.
async fn flush(store: &Store, build: BuildId, batch: &mut Vec<NewBuildEvent>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    loop {
        match store.append_build_events(build, batch).await {
            Ok(_) => break,
            Err(StoreError::Database(err)) => {
                warn!(build = %build, error = %err, events = batch.len(), retry_in = ?delay, "could not store build events; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(err) => {
                error!(build = %build, error = %err, events = batch.len(), "build events refused by the store; not stored");
                break;
            }
        }
    }
    batch.clear();
}

/// Collects what a build's puts produced, saved when the build ends.
#[derive(Debug, Default)]
pub struct OutputCollector {
    outputs: Mutex<Vec<(String, VersionMap, Vec<MetadataField>)>>,
}

impl OutputCollector {
    /// Every output so far.
    pub fn take(&self) -> Vec<(String, VersionMap, Vec<MetadataField>)> {
        self.outputs
            .lock()
            .map(|mut outputs| std::mem::take(&mut *outputs))
            .unwrap_or_default()
    }
}

impl BuildRecorder for OutputCollector {
    fn input_fetched(&self, _resource: &str, _version: &VersionMap, _metadata: &[MetadataField]) {}

    fn output_produced(&self, resource: &str, version: &VersionMap, metadata: &[MetadataField]) {
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.push((resource.to_owned(), version.clone(), metadata.to_vec()));
        }
    }
}
