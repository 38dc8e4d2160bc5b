//! The PostgreSQL backend: a pool for domain queries, one dedicated session that holds this
//! node's advisory locks, and one LISTEN session ([`super::pg_hub`]) for notifications.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::backend::lock::LockKey;
use crate::backend::pg_hub::PgHub;
use crate::error::StoreResult;

/// An open PostgreSQL database.
pub(crate) struct PgDb {
    pub(crate) pool: sqlx::PgPool,
    pub(crate) options: PgConnectOptions,
    /// Relays NOTIFY messages to this node's listeners.
    pub(crate) hub: PgHub,
    /// The session holding every advisory lock this store took. Held across `.await` while a
    /// lock query runs, hence the tokio mutex.
    lock_session: tokio::sync::Mutex<Option<PgConnection>>,
    /// Keys this store holds. Advisory locks are re-entrant within a session, so without this
    /// registry two tasks of one node could both "acquire" the same key.
    held: Mutex<HashSet<LockKey>>,
}

impl PgDb {
    pub(crate) async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let hub = PgHub::start(&options).await?;
        Ok(PgDb {
            pool,
            hub,
            options,
            lock_session: tokio::sync::Mutex::new(None),
            held: Mutex::new(HashSet::new()),
        })
    }

    pub(crate) async fn close(&self) {
        if let Some(conn) = self.lock_session.lock().await.take() {
            let _closed = conn.close().await;
        }
        self.hub.close().await;
        self.pool.close().await;
    }

    pub(crate) async fn try_lock(&self, key: &LockKey) -> StoreResult<bool> {
        {
            let mut held = self
                .held
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !held.insert(key.clone()) {
                return Ok(false);
            }
        }
        let (class, id) = key.pg_key();
        let res = self
            .on_lock_session("SELECT pg_try_advisory_lock($1, $2)", class, id)
            .await;
        match res {
            Ok(true) => Ok(true),
            Ok(false) | Err(_) => {
                let mut held = self
                    .held
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                held.remove(key);
                res.map(|_| false)
            }
        }
    }

    pub(crate) async fn unlock(&self, key: &LockKey) -> StoreResult<()> {
        let (class, id) = key.pg_key();
        let res = self
            .on_lock_session("SELECT pg_advisory_unlock($1, $2)", class, id)
            .await;
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(key);
        res.map(|_| ())
    }

    /// Runs a lock query on the lock session, reconnecting if there is none. A broken session
    /// is dropped: PostgreSQL released its locks when it went away.
    async fn on_lock_session(&self, sql: &str, class: i32, id: i32) -> StoreResult<bool> {
        let mut session = self.lock_session.lock().await;
        let conn = match &mut *session {
            Some(conn) => conn,
            slot @ None => slot.insert(PgConnection::connect_with(&self.options).await?),
        };
        let res = sqlx::query_scalar::<_, bool>(sql)
            .bind(class)
            .bind(id)
            .fetch_one(conn)
            .await;
        match res {
            Ok(value) => Ok(value),
            Err(err) => {
                tracing::warn!(error = %err, "lock session failed; its locks are lost");
                *session = None;
                Err(err.into())
            }
        }
    }
}
