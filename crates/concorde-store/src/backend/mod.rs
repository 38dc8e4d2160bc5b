//! The two backends behind [`crate::Store`]: connection set-up, write transactions, and the
//! per-backend halves of locking and notifications. Domain SQL lives elsewhere and is shared.

pub(crate) mod lock;
pub(crate) mod notify;
pub(crate) mod pg_hub;
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
            StoreConfig::Sqlite { data_dir } => Ok(Backend::Sqlite(Arc::new(
                sqlite::SqliteDb::connect(data_dir).await?,
            ))),
            StoreConfig::Postgres { url } => Ok(Backend::Postgres(Arc::new(
                postgres::PgDb::connect(url).await?,
            ))),
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
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// How a list parameter is bound. PostgreSQL takes an array (`= ANY($n)`, as the style guide
/// asks); SQLite has no arrays, so the list travels as one JSON array read by `json_each`.
/// Either way the list is one bound value, never spliced into the SQL text.
pub(crate) trait ListParam: sqlx::Database {
    type TextList: for<'q> sqlx::Encode<'q, Self> + sqlx::Type<Self> + Send;
    type IntList: for<'q> sqlx::Encode<'q, Self> + sqlx::Type<Self> + Send;
    fn text_list(items: Vec<String>) -> Self::TextList;
    fn int_list(items: Vec<i64>) -> Self::IntList;
}

impl ListParam for sqlx::Sqlite {
    type TextList = String;
    type IntList = String;
    fn text_list(items: Vec<String>) -> String {
        // Invariant: a list of strings always serializes; the fallback is never taken.
        serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned())
    }
    fn int_list(items: Vec<i64>) -> String {
        // Invariant: a list of integers always serializes; the fallback is never taken.
        serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned())
    }
}

impl ListParam for sqlx::Postgres {
    type TextList = Vec<String>;
    type IntList = Vec<i64>;
    fn text_list(items: Vec<String>) -> Vec<String> {
        items
    }
    fn int_list(items: Vec<i64>) -> Vec<i64> {
        items
    }
}

/// The list of strings `items`, ready to bind on the backend of `_pool`.
pub(crate) fn text_list<DB: ListParam>(_pool: &sqlx::Pool<DB>, items: Vec<String>) -> DB::TextList {
    DB::text_list(items)
}

/// The list of integers `items`, ready to bind on the backend of `_pool`.
pub(crate) fn int_list<DB: ListParam>(_pool: &sqlx::Pool<DB>, items: Vec<i64>) -> DB::IntList {
    DB::int_list(items)
}

/// SQL testing whether `column` is in the list bound as parameter `$param`.
pub(crate) fn in_list(pg: bool, column: &str, param: u32) -> String {
    if pg {
        format!("{column} = ANY(${param})")
    } else {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }
}
