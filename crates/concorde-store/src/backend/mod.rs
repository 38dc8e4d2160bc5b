//! The two backends behind [`crate::Store`]: connection set-up, write transactions, and the
//! per-backend halves of locking and notifications. Domain SQL lives elsewhere and is shared.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::sync::Arc;

use crate::StoreConfig;
use crate::error::StoreResult;

/// One open database: which backend, and its per-backend state.
#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(Arc<sqlite::SqliteDb>),
    Postgres(Arc<postgres::PgDb>),
}

impl Backend {
    pub(crate) async fn connect(config: &StoreConfig) -> StoreResult<Self> {
        match config {
            StoreConfig::Sqlite { data_dir } => {
                Ok(Backend::Sqlite(Arc::new(sqlite::SqliteDb::connect(data_dir).await?)))
            }
            StoreConfig::Postgres { url } => {
                Ok(Backend::Postgres(Arc::new(postgres::PgDb::connect(url).await?)))
            }
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Backend::Sqlite(db) => db.pool.close().await,
            Backend::Postgres(db) => db.close().await,
        }
    }
}

/// Starts a transaction that will write. SQLite needs `BEGIN IMMEDIATE` so that two writers
/// queue on the busy timeout instead of failing when a reader upgrades to a writer.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for sqlx::PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}
