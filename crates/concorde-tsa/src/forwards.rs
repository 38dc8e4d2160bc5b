//! The ports one TSA connection forwards, so `forward-worker` can find the port bound for the
//! address the worker asked for (waiting a little: the two requests race).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// The ports one connection forwards: the address the worker asked for → the port bound here.
#[derive(Clone, Default)]
pub(crate) struct Forwards {
    bound: Arc<Mutex<HashMap<String, u16>>>,
    changed: Arc<Notify>,
}

impl Forwards {
    pub(crate) fn insert(&self, requested: String, port: u16) {
        if let Ok(mut bound) = self.bound.lock() {
            bound.insert(requested, port);
        }
        self.changed.notify_waiters();
    }

    pub(crate) fn len(&self) -> usize {
        self.bound.lock().map(|bound| bound.len()).unwrap_or(0)
    }

    /// The port bound for `requested`, waiting up to `limit` for the worker to forward it.
    pub(crate) async fn wait_for(&self, requested: &str, limit: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if let Some(port) = self
                .bound
                .lock()
                .ok()
                .and_then(|bound| bound.get(requested).copied())
            {
                return Some(port);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}
