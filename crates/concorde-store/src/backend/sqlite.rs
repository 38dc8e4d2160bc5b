//! The SQLite backend: one WAL-mode file in the data directory. Locks and notifications are
//! in-process, shared by every `Store` opened on the same file in this process (SQLite is the
//! single-node deployment, so there is no other process to coordinate with).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::backend::lock::LockKey;
use crate::backend::notify::{Bus, new_bus};
use crate::error::{StoreError, StoreResult};

/// File name of the database inside the data directory.
pub(crate) const DB_FILE: &str = "concorde.db";

/// An open SQLite database.
pub(crate) struct SqliteDb {
    pub(crate) pool: sqlx::SqlitePool,
    pub(crate) shared: Arc<Shared>,
}

/// Coordination state for one database file, shared by all stores on it in this process.
pub(crate) struct Shared {
    path: PathBuf,
    /// Keys currently held by any store on this file. Invariant: a key is present exactly while
    /// some `Lock` guard for it is alive and unreleased.
    pub(crate) held: Mutex<HashSet<LockKey>>,
    pub(crate) bus: Bus,
}

/// Registry of open files, so two stores on one file share locks and notifications.
static OPEN_FILES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

impl SqliteDb {
    pub(crate) async fn connect(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        owner_only(&path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let canonical = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(SqliteDb {
            pool,
            shared: shared_for(canonical),
        })
    }
}

/// Makes the database file readable and writable by its owner only (creating it empty, which
/// SQLite takes as a new database, when it is missing): it holds token digests, build logs and
/// configs. SQLite gives its `-wal` and `-shm` files the database file's mode.
fn owner_only(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io_error = |source| StoreError::DatabaseFile {
        path: path.to_path_buf(),
        source,
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_error)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(io_error)?;
        }
    }
    Ok(())
}

fn shared_for(path: PathBuf) -> Arc<Shared> {
    // A poisoned registry only means another thread panicked while holding it; the Vec is
    // still consistent, so keep using it.
    let mut open = OPEN_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    open.retain(|weak| weak.strong_count() > 0);
    if let Some(existing) = open
        .iter()
        .filter_map(Weak::upgrade)
        .find(|s| s.path == path)
    {
        return existing;
    }
    let bus = new_bus();
    let shared = Arc::new(Shared {
        path,
        held: Mutex::new(HashSet::new()),
        bus,
    });
    open.push(Arc::downgrade(&shared));
    shared
}

impl Shared {
    pub(crate) fn try_lock(&self, key: &LockKey) -> bool {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.insert(key.clone())
    }

    pub(crate) fn unlock(&self, key: &LockKey) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(key);
    }
}
