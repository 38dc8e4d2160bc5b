//! Numbered, forward-only schema migrations, one list per backend, applied at start-up and by
//! `concorde migrate`. A database that has a migration this binary does not know is refused.

use std::path::PathBuf;

use crate::backend::{Backend, WritePool};
use crate::error::{StoreError, StoreResult};
use crate::ids::Timestamp;
use crate::{Store, StoreConfig, with_db};

/// One migration: its number, name and SQL text.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Invariant: versions are 1, 2, 3, ... without gaps, and a merged
/// entry is never edited: changes go in a new file.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "versions_view",
        sqlite: include_str!("../migrations/sqlite/0002_versions_view.sql"),
        postgres: include_str!("../migrations/postgres/0002_versions_view.sql"),
    },
    Migration {
        version: 3,
        name: "runtime_objects",
        sqlite: include_str!("../migrations/sqlite/0003_runtime_objects.sql"),
        postgres: include_str!("../migrations/postgres/0003_runtime_objects.sql"),
    },
    Migration {
        version: 4,
        name: "check_and_one_off_builds",
        sqlite: include_str!("../migrations/sqlite/0004_check_and_one_off_builds.sql"),
        postgres: include_str!("../migrations/postgres/0004_check_and_one_off_builds.sql"),
    },
];

/// The schema version this binary brings the database to.
pub const LATEST_SCHEMA_VERSION: i64 = 4;

const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// Which database `concorde migrate` works on.
#[derive(Debug, Clone)]
pub enum MigrateTarget {
    /// The SQLite file in this data directory.
    DataDir(PathBuf),
    /// This PostgreSQL URL.
    PostgresUrl(String),
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// Schema version before the run (0 for an empty database).
    pub from: i64,
    /// Schema version after the run.
    pub to: i64,
}

impl std::fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(
                f,
                "{} database already at schema version {}",
                self.backend, self.to
            )
        } else {
            write!(
                f,
                "migrated {} database from schema version {} to {}",
                self.backend, self.from, self.to
            )
        }
    }
}

/// The implementation of `concorde migrate [--data-dir DIR | --postgres-url URL]`: brings the
/// database up to [`LATEST_SCHEMA_VERSION`] and says what it did.
pub async fn migrate_command(target: MigrateTarget) -> StoreResult<MigrateReport> {
    let config = match target {
        MigrateTarget::DataDir(data_dir) => StoreConfig::Sqlite { data_dir },
        MigrateTarget::PostgresUrl(url) => StoreConfig::Postgres { url },
    };
    let store = Store {
        backend: Backend::connect(&config).await?,
        models: std::sync::Arc::default(),
    };
    let (from, to) = apply_pending(&store).await?;
    store.close().await;
    Ok(MigrateReport {
        backend: store.backend_kind(),
        from,
        to,
    })
}

/// Applies every pending migration in one transaction; returns (version before, after).
pub(crate) async fn apply_pending(store: &Store) -> StoreResult<(i64, i64)> {
    with_db!(store, |pool, pg| {
        let mut tx = pool.begin_write().await?;
        if pg {
            // Two nodes starting together must not both migrate; the lock ends with the tx.
            sqlx::query("SELECT pg_advisory_xact_lock(5)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(CREATE_HISTORY).execute(&mut *tx).await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?;
        if current > LATEST_SCHEMA_VERSION {
            return Err(StoreError::DatabaseTooNew {
                database: current,
                binary: LATEST_SCHEMA_VERSION,
            });
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            let sql = if pg {
                migration.postgres
            } else {
                migration.sqlite
            };
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(Timestamp::now())
            .execute(&mut *tx)
            .await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applied migration"
            );
        }
        tx.commit().await?;
        Ok((current, LATEST_SCHEMA_VERSION.max(current)))
    })
}

impl Store {
    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        with_db!(self, |pool, pg| {
            let version: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                    .fetch_one(pool)
                    .await?;
            Ok(version)
        })
    }
}
