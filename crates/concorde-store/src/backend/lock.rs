//! Cluster-wide mutual exclusion: PostgreSQL advisory locks on one dedicated session per node,
//! or an in-process table on SQLite. Locks are "try" locks: a caller that does not get one
//! skips its work and retries on its next tick, like Concourse's component coordinator.

use crate::Store;
use crate::backend::Backend;
use crate::error::StoreResult;
use crate::ids::{BuildId, JobId, ScopeId};

/// What a lock protects. Each kind maps to its own PostgreSQL advisory-lock class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// One node runs a given component's tick at a time.
    ComponentTick(String),
    /// One node schedules a given job at a time.
    JobScheduling(JobId),
    /// One node tracks (runs) a given build at a time.
    BuildTracking(BuildId),
    /// One node checks a given resource config scope at a time.
    ResourceChecking(ScopeId),
}

impl LockKey {
    /// The `(class, id)` pair passed to `pg_try_advisory_lock(int4, int4)`. Ids wider than 31
    /// bits and names are folded, so two keys may rarely share a lock; that costs a skipped
    /// tick, never a double run.
    pub(crate) fn pg_key(&self) -> (i32, i32) {
        match self {
            LockKey::ComponentTick(name) => (2, fnv1a(name.as_bytes())),
            LockKey::BuildTracking(id) => (1, fold(id.0)),
            LockKey::ResourceChecking(id) => (0, fold(id.0)),
            LockKey::JobScheduling(id) => (7, fold(id.0)),
        }
    }
}

fn fold(id: i64) -> i32 {
    // Invariant: the modulus keeps the value within i32, so the conversion cannot fail.
    i32::try_from(id.rem_euclid(i64::from(i32::MAX))).unwrap_or(0)
}

fn fnv1a(bytes: &[u8]) -> i32 {
    let hash = bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    });
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// A held lock. Release it with [`Lock::release`]; dropping it releases it in the background.
pub struct Lock {
    backend: Backend,
    key: LockKey,
    released: bool,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").field("key", &self.key).finish()
    }
}

impl Store {
    /// Takes `key` if no node (this one included) holds it; `None` means someone else has it.
    pub async fn try_lock(&self, key: LockKey) -> StoreResult<Option<Lock>> {
        let acquired = match &self.backend {
            Backend::Sqlite(db) => db.shared.try_lock(&key),
            Backend::Postgres(db) => db.try_lock(&key).await?,
        };
        Ok(acquired.then(|| Lock {
            backend: self.backend.clone(),
            key,
            released: false,
        }))
    }
}

impl Lock {
    /// What this lock protects.
    pub fn key(&self) -> &LockKey {
        &self.key
    }

    /// Releases the lock now, reporting failures (on PostgreSQL a failure means the lock
    /// session broke, which already released the lock server-side).
    pub async fn release(mut self) -> StoreResult<()> {
        self.released = true;
        unlock(&self.backend, &self.key).await
    }
}

async fn unlock(backend: &Backend, key: &LockKey) -> StoreResult<()> {
    match backend {
        Backend::Sqlite(db) => {
            db.shared.unlock(key);
            Ok(())
        }
        Backend::Postgres(db) => db.unlock(key).await,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        match &self.backend {
            Backend::Sqlite(db) => db.shared.unlock(&self.key),
            Backend::Postgres(_) => {
                let backend = self.backend.clone();
                let key = self.key.clone();
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    // The task owns clones of what it needs, so it may outlive this guard.
                    drop(handle.spawn(async move {
                        if let Err(err) = unlock(&backend, &key).await {
                            tracing::warn!(error = %err, ?key, "releasing a dropped lock failed");
                        }
                    }));
                }
            }
        }
    }
}
