//! A check build's event sink: every event goes to the store (through the tracker's batching
//! sink), and the end of the script's log is kept, so a failed check's error on its resource
//! says what the script printed.

use std::sync::Mutex;

use concorde_engine::{BuildEvent, EventSink};
use concorde_store::{BuildId, Store};

use crate::components::tracker::sink::StoreEventSink;

/// How much of the end of the log a failed check keeps for its error.
const TAIL_BYTES: usize = 4096;

/// Stores a check build's events and keeps the end of its log.
pub struct TailingSink {
    stored: StoreEventSink,
    tail: Mutex<String>,
}

impl TailingSink {
    /// A sink for `build` and the task writing its events; await the task after
    /// [`TailingSink::close`] to be sure every event is stored.
    pub fn start(store: Store, build: BuildId) -> (TailingSink, tokio::task::JoinHandle<()>) {
        let (stored, writer) = StoreEventSink::start(store, build);
        let sink = TailingSink {
            stored,
            tail: Mutex::default(),
        };
        (sink, writer)
    }

    /// Emits one event (a shorthand that needs no trait in scope).
    pub async fn emit_now(&self, event: BuildEvent) {
        self.emit(event).await;
    }

    /// The last [`TAIL_BYTES`] of log output (whole characters).
    pub fn tail(&self) -> String {
        self.tail
            .lock()
            .map(|tail| tail.clone())
            .unwrap_or_default()
    }

    /// Stops accepting events; the writer flushes and ends.
    pub fn close(&self) {
        self.stored.close();
    }
}

#[async_trait::async_trait]
impl EventSink for TailingSink {
    async fn emit(&self, event: BuildEvent) {
        if let BuildEvent::Log { payload, .. } = &event
            && let Ok(mut tail) = self.tail.lock()
        {
            tail.push_str(payload);
            if tail.len() > TAIL_BYTES {
                let mut cut = tail.len() - TAIL_BYTES;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
        }
        self.stored.emit(event).await;
    }
}
