//! The versions view over SQL: `concorde_sched::VersionsView` answered by narrow indexed
//! queries, so a resolution reads only the versions and build pages it walks.
//!
//! The trait is synchronous and the driver is async. [`Store::resolve_inputs`] therefore
//! runs the whole resolution on a blocking thread (`spawn_blocking`) where each trait method
//! blocks on its query with the runtime handle; async tasks are never blocked.
//!
//! The resolver requires answers consistent for the whole resolution, so every query of one
//! resolution runs in one read transaction: `REPEATABLE READ, READ ONLY` on PostgreSQL (one
//! snapshot for all statements), a deferred transaction on SQLite (WAL readers see the
//! snapshot of their first read until they end). Concurrent writers are never blocked.

use std::sync::{Arc, Mutex};

use concorde_sched::{
    BuildId, BuildListing, BuildPosition, BuildRef, CheckOrder, ConsumedVersion, InputConfig,
    InputName, JobId, OutputEntry, PinnedVersion, Resolution, ResourceId, UpstreamBuild, Version,
    VersionDigest, VersionsView,
};
use tokio::runtime::Handle;

use crate::Store;
use crate::backend::Backend;
use crate::error::{StoreError, StoreResult};

/// How many builds one listing page holds.
pub const VIEW_PAGE_SIZE: usize = 100;

/// A [`VersionsView`] reading one snapshot of a store. Only usable on a blocking thread of a
/// tokio runtime.
pub struct SqlVersionsView {
    /// The read transaction. Only the resolution's one thread uses it; the mutex (held while
    /// a query blocks on the runtime, never inside an async task) gives the `&mut` a query
    /// needs from the trait's `&self`.
    snapshot: Mutex<Snapshot>,
    handle: Handle,
}

enum Snapshot {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl std::fmt::Debug for SqlVersionsView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlVersionsView").finish_non_exhaustive()
    }
}

impl Store {
    /// Resolves `inputs` for the next build of `job` through the SQL versions view, reading
    /// one consistent snapshot of the database.
    pub async fn resolve_inputs(
        &self,
        job: JobId,
        inputs: Vec<InputConfig>,
    ) -> StoreResult<Resolution> {
        let snapshot = match &self.backend {
            Backend::Sqlite(db) => Snapshot::Sqlite(db.pool.begin().await?),
            Backend::Postgres(db) => Snapshot::Postgres(
                db.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        };
        let view = SqlVersionsView {
            snapshot: Mutex::new(snapshot),
            handle: Handle::current(),
        };
        tokio::task::spawn_blocking(move || {
            let resolution = concorde_sched::resolve_inputs(&view, job, &inputs);
            // Ending a read-only transaction cannot lose anything; commit just ends it promptly.
            let ended = match view
                .snapshot
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
            {
                Snapshot::Sqlite(tx) => view.handle.block_on(tx.commit()),
                Snapshot::Postgres(tx) => view.handle.block_on(tx.commit()),
            };
            let resolution = resolution?;
            ended?;
            Ok(resolution)
        })
        .await
        .map_err(|err| StoreError::Corrupt {
            what: "resolution task",
            detail: err.to_string(),
        })?
    }
}

/// Runs `$body` (an async block body using `$conn`, the snapshot's connection, and `$pg`) to
/// completion on the runtime, with the snapshot locked.
macro_rules! on_snapshot {
    ($view:expr, |$conn:ident, $pg:ident| $body:block) => {{
        let view = $view;
        let mut guard = view.snapshot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &mut *guard {
            Snapshot::Sqlite(tx) => {
                #[allow(unused_variables)]
                let $pg = false;
                let $conn: &mut sqlx::SqliteConnection = &mut **tx;
                view.run(async move $body)
            }
            Snapshot::Postgres(tx) => {
                #[allow(unused_variables)]
                let $pg = true;
                let $conn: &mut sqlx::PgConnection = &mut **tx;
                view.run(async move $body)
            }
        }
    }};
}

fn i(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

const ENABLED: &str = "NOT EXISTS (SELECT 1 FROM disabled_versions d
    WHERE d.resource_id = r.id AND d.version_digest = v.version_digest)";

impl SqlVersionsView {
    fn run<T>(&self, future: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.handle.block_on(future)
    }

    fn versions(&self, rows: Vec<(String, i64)>) -> Vec<Version> {
        rows.into_iter()
            .map(|(digest, order)| Version {
                digest: VersionDigest::new(&digest),
                check_order: CheckOrder(order),
            })
            .collect()
    }
}

impl VersionsView for SqlVersionsView {
    type Error = StoreError;

    fn page_size(&self) -> usize {
        VIEW_PAGE_SIZE
    }

    fn latest_enabled_version(
        &self,
        resource: ResourceId,
        at_most: Option<CheckOrder>,
    ) -> StoreResult<Option<Version>> {
        let rows: Vec<(String, i64)> = on_snapshot!(self, |conn, pg| {
            let sql = format!(
                "SELECT v.version_digest, v.check_order FROM resources r
                 JOIN resource_config_versions v ON v.scope_id = r.scope_id
                 WHERE r.id = $1 AND v.check_order > 0 AND v.check_order <= $2 AND {ENABLED}
                 ORDER BY v.check_order DESC LIMIT 1"
            );
            Ok(sqlx::query_as(&sql)
                .bind(resource.0)
                .bind(at_most.map_or(i64::MAX, |o| o.0))
                .fetch_all(&mut *conn)
                .await?)
        })?;
        Ok(self.versions(rows).pop())
    }

    fn enabled_versions_after(
        &self,
        resource: ResourceId,
        after: CheckOrder,
        limit: usize,
    ) -> StoreResult<Vec<Version>> {
        let rows = on_snapshot!(self, |conn, pg| {
            let sql = format!(
                "SELECT v.version_digest, v.check_order FROM resources r
                 JOIN resource_config_versions v ON v.scope_id = r.scope_id
                 WHERE r.id = $1 AND v.check_order > $2 AND {ENABLED}
                 ORDER BY v.check_order LIMIT $3"
            );
            Ok(sqlx::query_as(&sql)
                .bind(resource.0)
                .bind(after.0)
                .bind(i(limit))
                .fetch_all(&mut *conn)
                .await?)
        })?;
        Ok(self.versions(rows))
    }

    fn version_containing(
        &self,
        resource: ResourceId,
        pin: &PinnedVersion,
    ) -> StoreResult<Option<Version>> {
        let rows = on_snapshot!(self, |conn, pg| {
            let mut sql = String::from(
                "SELECT v.version_digest, v.check_order FROM resources r
                 JOIN resource_config_versions v ON v.scope_id = r.scope_id
                 WHERE r.id = $1 AND v.check_order > 0",
            );
            for n in 0..pin.0.len() {
                let (key, value) = (2 * n + 2, 2 * n + 3);
                if pg {
                    sql.push_str(&format!(" AND (v.version::jsonb ->> ${key}) = ${value}"));
                } else {
                    sql.push_str(&format!(" AND json_extract(v.version, ${key}) = ${value}"));
                }
            }
            sql.push_str(" ORDER BY v.check_order DESC LIMIT 1");
            let mut query = sqlx::query_as(&sql).bind(resource.0);
            for (key, value) in &pin.0 {
                let key = if pg {
                    key.clone()
                } else {
                    format!("$.\"{}\"", key.replace('"', "\\\""))
                };
                query = query.bind(key).bind(value.clone());
            }
            Ok(query.fetch_all(&mut *conn).await?)
        })?;
        Ok(self.versions(rows).pop())
    }

    fn version_exists(&self, resource: ResourceId, digest: &VersionDigest) -> StoreResult<bool> {
        on_snapshot!(self, |conn, pg| {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM resources r JOIN resource_config_versions v
                   ON v.scope_id = r.scope_id AND v.version_digest = $2
                 WHERE r.id = $1",
            )
            .bind(resource.0)
            .bind(digest.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        })
    }

    fn is_disabled(&self, resource: ResourceId, digest: &VersionDigest) -> StoreResult<bool> {
        on_snapshot!(self, |conn, pg| {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM disabled_versions WHERE resource_id = $1 AND version_digest = $2",
            )
            .bind(resource.0)
            .bind(digest.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        })
    }

    fn newest_consumed_version(
        &self,
        job: JobId,
        resource: ResourceId,
    ) -> StoreResult<Option<ConsumedVersion>> {
        let row: Option<(i64, i64)> = on_snapshot!(self, |conn, pg| {
            Ok(sqlx::query_as(
                "SELECT v.check_order, bi.build_id FROM build_inputs bi
                 JOIN resources r ON r.id = bi.resource_id
                 JOIN resource_config_versions v
                   ON v.scope_id = r.scope_id AND v.version_digest = bi.version_digest
                 WHERE bi.job_id = $1 AND bi.resource_id = $2
                 ORDER BY v.check_order DESC, bi.build_id DESC LIMIT 1",
            )
            .bind(job.0)
            .bind(resource.0)
            .fetch_optional(&mut *conn)
            .await?)
        })?;
        Ok(row.map(|(order, build)| ConsumedVersion {
            check_order: CheckOrder(order),
            build: BuildId(build),
        }))
    }

    fn upstream_builds(&self, build: BuildId) -> StoreResult<Vec<UpstreamBuild>> {
        let rows: Vec<(i64, i64, Option<i64>)> = on_snapshot!(self, |conn, pg| {
            Ok(sqlx::query_as(
                "SELECT b.job_id, b.id, b.rerun_of FROM build_pipes p
                 JOIN builds b ON b.id = p.from_build_id
                 WHERE p.to_build_id = $1 AND b.job_id IS NOT NULL ORDER BY b.id",
            )
            .bind(build.0)
            .fetch_all(&mut *conn)
            .await?)
        })?;
        Ok(rows
            .into_iter()
            .map(|(job, id, rerun_of)| UpstreamBuild {
                job: JobId(job),
                build: BuildRef {
                    id: BuildId(id),
                    rerun_of: rerun_of.map(BuildId),
                },
            })
            .collect())
    }

    fn has_consumed_as(
        &self,
        job: JobId,
        name: &InputName,
        resource: ResourceId,
        digest: &VersionDigest,
    ) -> StoreResult<bool> {
        on_snapshot!(self, |conn, pg| {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(1 AS BIGINT) FROM build_inputs WHERE job_id = $1 AND name = $2 AND resource_id = $3
                   AND version_digest = $4 LIMIT 1",
            )
            .bind(job.0)
            .bind(&name.0)
            .bind(resource.0)
            .bind(digest.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        })
    }

    fn successful_build_outputs(&self, build: BuildId) -> StoreResult<Arc<[OutputEntry]>> {
        let rows: Vec<(i64, String)> = on_snapshot!(self, |conn, pg| {
            Ok(sqlx::query_as(
                "SELECT resource_id, version_digest FROM successful_build_output_entries
                 WHERE build_id = $1 ORDER BY resource_id, idx",
            )
            .bind(build.0)
            .fetch_all(&mut *conn)
            .await?)
        })?;
        Ok(rows
            .into_iter()
            .map(|(resource, digest)| OutputEntry {
                resource: ResourceId(resource),
                digest: VersionDigest::new(&digest),
            })
            .collect())
    }

    fn list_builds(
        &self,
        job: JobId,
        listing: &BuildListing,
        after: Option<BuildPosition>,
    ) -> StoreResult<Vec<BuildRef>> {
        let pos = |p: Option<BuildPosition>, default: i64| {
            p.map_or((default, default), |p| (p.rank.0, p.id.0))
        };
        let rows: Vec<(i64, Option<i64>)> = on_snapshot!(self, |conn, pg| {
            let page = i(VIEW_PAGE_SIZE);
            match listing {
                BuildListing::SucceededNewestFirst { at_or_below } => {
                    let (top_rank, top_id) = pos(*at_or_below, i64::MAX);
                    let (after_rank, after_id) = pos(after, i64::MAX);
                    Ok(sqlx::query_as(
                        "SELECT id, rerun_of FROM builds WHERE job_id = $1 AND status = 'succeeded'
                           AND (COALESCE(rerun_of, id), id) <= ($2, $3)
                           AND (COALESCE(rerun_of, id), id) < ($4, $5)
                         ORDER BY COALESCE(rerun_of, id) DESC, id DESC LIMIT $6",
                    )
                    .bind(job.0)
                    .bind(top_rank)
                    .bind(top_id)
                    .bind(after_rank)
                    .bind(after_id)
                    .bind(page)
                    .fetch_all(&mut *conn)
                    .await?)
                }
                BuildListing::SucceededOldestFirst { above } => {
                    let (above_rank, above_id) = pos(Some(*above).max(after), i64::MIN);
                    Ok(sqlx::query_as(
                        "SELECT id, rerun_of FROM builds WHERE job_id = $1 AND status = 'succeeded'
                           AND (COALESCE(rerun_of, id), id) > ($2, $3)
                         ORDER BY COALESCE(rerun_of, id), id LIMIT $4",
                    )
                    .bind(job.0)
                    .bind(above_rank)
                    .bind(above_id)
                    .bind(page)
                    .fetch_all(&mut *conn)
                    .await?)
                }
                BuildListing::OutputsContainingNewestFirst {
                    constraints,
                    at_or_below,
                } => {
                    let (top_rank, top_id) = pos(*at_or_below, i64::MAX);
                    let (after_rank, after_id) = pos(after, i64::MAX);
                    let mut sql = String::from(
                        "SELECT s.build_id, s.rerun_of FROM successful_build_outputs s
                         WHERE s.job_id = $1 AND (s.rank, s.build_id) <= ($2, $3)
                           AND (s.rank, s.build_id) < ($4, $5)",
                    );
                    let mut n = 6;
                    let mut binds = Vec::new();
                    for (resource, digests) in &constraints.0 {
                        for digest in digests {
                            sql.push_str(&format!(
                                " AND EXISTS (SELECT 1 FROM successful_build_output_entries e
                                   WHERE e.build_id = s.build_id AND e.resource_id = ${n} AND e.version_digest = ${})",
                                n + 1
                            ));
                            n += 2;
                            binds.push((resource.0, digest.as_str().to_owned()));
                        }
                    }
                    sql.push_str(&format!(
                        " ORDER BY s.rank DESC, s.build_id DESC LIMIT ${n}"
                    ));
                    let mut query = sqlx::query_as(&sql)
                        .bind(job.0)
                        .bind(top_rank)
                        .bind(top_id)
                        .bind(after_rank)
                        .bind(after_id);
                    for (resource, digest) in binds {
                        query = query.bind(resource).bind(digest);
                    }
                    Ok(query.bind(page).fetch_all(&mut *conn).await?)
                }
            }
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, rerun_of)| BuildRef {
                id: BuildId(id),
                rerun_of: rerun_of.map(BuildId),
            })
            .collect())
    }
}
