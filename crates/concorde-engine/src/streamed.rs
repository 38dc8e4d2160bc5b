//! The copies of volumes a build streamed to other workers: one per source volume and
//! destination worker, made by the first step that needs it there and shared by the rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_worker::VolumeHandle;
use tokio::sync::OnceCell;

/// A copy of a volume on one worker, once it is made.
type SharedCopy = Arc<OnceCell<VolumeHandle>>;

/// The copies a build streamed, by source volume and destination worker.
#[derive(Debug, Default)]
pub struct StreamedCopies {
    copies: Mutex<HashMap<(VolumeHandle, String), SharedCopy>>,
}

impl StreamedCopies {
    /// The copy of `volume` on `worker`, made by whoever initialises it first.
    pub(crate) fn copy(&self, volume: &VolumeHandle, worker: &str) -> SharedCopy {
        let mut copies = match self.copies.lock() {
            Ok(copies) => copies,
            Err(poisoned) => poisoned.into_inner(),
        };
        copies
            .entry((volume.clone(), worker.to_owned()))
            .or_default()
            .clone()
    }
}
