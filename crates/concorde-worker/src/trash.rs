//! Deleting directories without making the caller wait: a destroyed volume or container is
//! renamed into `<work_dir>/.trash/` at once (so it is gone for every lookup) and deleted by a
//! blocking task in the background. On this kind of disk deleting even a small tree costs tens
//! of milliseconds, which would otherwise dominate a container's destroy.
//!
//! The tasks live in a `TaskTracker`. Whatever a previous process left in the trash (it
//! stopped mid-delete) is deleted when the next one opens the worker directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::task::TaskTracker;

use crate::WorkerError;

/// The trash directory of one worker.
#[derive(Debug)]
pub(crate) struct Trash {
    dir: PathBuf,
    tasks: TaskTracker,
    /// Makes names in the trash unique within this process (the trash starts empty).
    counter: AtomicU64,
}

impl Trash {
    /// Empties (synchronously) and opens the trash in `dir`.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, WorkerError> {
        match std::fs::remove_dir_all(&dir) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Trash {
            dir,
            tasks: TaskTracker::new(),
            counter: AtomicU64::new(0),
        })
    }

    /// Moves `path` into the trash and deletes it in the background. A missing path is fine;
    /// returns whether there was one.
    pub(crate) async fn discard(&self, path: &Path) -> Result<bool, WorkerError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let trashed = self.dir.join(n.to_string());
        match tokio::fs::rename(path, &trashed).await {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(err.into()),
        }
        self.tasks.spawn_blocking(move || {
            if let Err(err) = std::fs::remove_dir_all(&trashed) {
                tracing::warn!(dir = %trashed.display(), error = %err, "could not empty the trash");
            }
        });
        Ok(true)
    }
}
