//! Migrations: applied on open, idempotent, and a newer database is refused.

use concorde_store::testing::TestStore;
use concorde_store::{LATEST_SCHEMA_VERSION, MigrateTarget, StoreError, migrate_command};

store_test!(opening_applies_every_migration, reopening_is_a_no_op);

async fn opening_applies_every_migration(db: &TestStore) {
    assert_eq!(
        db.store.schema_version().await.unwrap(),
        LATEST_SCHEMA_VERSION
    );
}

async fn reopening_is_a_no_op(db: &TestStore) {
    let other = db.second_node().await;
    assert_eq!(other.schema_version().await.unwrap(), LATEST_SCHEMA_VERSION);
    other.close().await;
}

#[tokio::test]
async fn migrate_command_reports_versions_and_refuses_newer_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let target = MigrateTarget::DataDir(dir.path().to_path_buf());
    let report = migrate_command(target.clone()).await.unwrap();
    assert_eq!(
        (report.backend, report.from, report.to),
        ("sqlite", 0, LATEST_SCHEMA_VERSION)
    );
    let again = migrate_command(target.clone()).await.unwrap();
    assert_eq!(
        (again.from, again.to),
        (LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION)
    );
    assert_eq!(
        again.to_string(),
        format!("sqlite database already at schema version {LATEST_SCHEMA_VERSION}")
    );

    // Pretend a newer binary migrated the file.
    let url = format!("sqlite:{}", dir.path().join("concorde.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = migrate_command(target).await.unwrap_err();
    assert!(
        matches!(err, StoreError::DatabaseTooNew { database: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer than the version"), "{err}");
}

#[tokio::test]
async fn migrate_command_refuses_newer_postgres() {
    let db = concorde_store::testing::postgres_store(concorde_store::testing::Flavour::Fast).await;
    let pool = sqlx::PgPool::connect(&db.location).await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = migrate_command(MigrateTarget::PostgresUrl(db.location.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::DatabaseTooNew {
                database: 999,
                binary: LATEST_SCHEMA_VERSION
            }
        ),
        "{err}"
    );
    db.cleanup().await;
}
