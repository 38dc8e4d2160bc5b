//! The worker side of garbage collection: a worker reports every container (or volume) handle
//! it has, and asks which ones to destroy.
//!
//! A report, in one transaction per worker:
//! 1. deletes this worker's `destroying` rows whose handle is not reported: the worker has
//!    destroyed them, so the row is the last trace and may go;
//! 2. clears `missing_since` of reported rows, and stamps it on this worker's rows that should
//!    be there but are not (`created` containers; `created` and `failed` volumes), which the
//!    collectors delete once missing for the grace period;
//! 3. inserts reported handles the database does not know as `destroying`, so the next sweep
//!    destroys them: nothing a worker holds leaks.
//!
//! Reports for one worker are serialized (on PostgreSQL by locking the worker's row; SQLite
//! has a single writer), so two nodes relaying reports at once cannot interleave.

use crate::backend::{WritePool, in_list, text_list};
use crate::error::{StoreError, StoreResult};
use crate::ids::{ContainerHandle, Timestamp, VolumeHandle, WorkerName};
use crate::{Store, with_db};

/// What a report changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportOutcome {
    /// `destroying` rows deleted because the worker no longer has them.
    pub deleted: u64,
    /// Rows newly marked missing.
    pub marked_missing: u64,
    /// Rows that were missing and are reported again.
    pub found_again: u64,
    /// Unknown handles inserted as `destroying`.
    pub unknown: u64,
}

#[derive(Clone, Copy)]
enum Table {
    Containers,
    Volumes,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Containers => "containers",
            Table::Volumes => "volumes",
        }
    }

    /// States a row must be in to count as missing when not reported.
    fn expected_states(self) -> &'static str {
        match self {
            Table::Containers => "'created'",
            Table::Volumes => "'created', 'failed'",
        }
    }
}

/// The reported list as a one-column table named `value`.
fn list_rows(pg: bool, param: u32) -> String {
    if pg {
        format!("unnest(${param}) AS reported(value)")
    } else {
        format!("json_each(${param})")
    }
}

impl Store {
    /// Applies a worker's report of every container handle it has (see the module docs).
    /// `NotFound` for an unknown worker.
    pub async fn report_containers(
        &self,
        worker: &WorkerName,
        handles: &[ContainerHandle],
        now: Timestamp,
    ) -> StoreResult<ReportOutcome> {
        let handles = handles.iter().map(|handle| handle.0.clone()).collect();
        self.apply_report(Table::Containers, worker, handles, now)
            .await
    }

    /// Applies a worker's report of every volume handle it has (see the module docs).
    /// `NotFound` for an unknown worker.
    pub async fn report_volumes(
        &self,
        worker: &WorkerName,
        handles: &[VolumeHandle],
        now: Timestamp,
    ) -> StoreResult<ReportOutcome> {
        let handles = handles.iter().map(|handle| handle.0.clone()).collect();
        self.apply_report(Table::Volumes, worker, handles, now)
            .await
    }

    /// Handles of this worker's `destroying` containers, sorted: what its sweeper destroys.
    pub async fn containers_to_destroy(
        &self,
        worker: &WorkerName,
    ) -> StoreResult<Vec<ContainerHandle>> {
        let handles = self.destroying(Table::Containers, worker).await?;
        Ok(handles.into_iter().map(ContainerHandle).collect())
    }

    /// Handles of this worker's `destroying` volumes, sorted: what its sweeper destroys.
    pub async fn volumes_to_destroy(&self, worker: &WorkerName) -> StoreResult<Vec<VolumeHandle>> {
        let handles = self.destroying(Table::Volumes, worker).await?;
        Ok(handles.into_iter().map(VolumeHandle).collect())
    }

    async fn destroying(&self, table: Table, worker: &WorkerName) -> StoreResult<Vec<String>> {
        let (exists, handles) = with_db!(self, |pool, pg| {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM workers WHERE name = $1")
                    .bind(worker)
                    .fetch_optional(pool)
                    .await?;
            let sql = format!(
                "SELECT handle FROM {} WHERE worker_name = $1 AND state = 'destroying' ORDER BY handle",
                table.name()
            );
            let handles: Vec<String> = sqlx::query_scalar(&sql)
                .bind(worker)
                .fetch_all(pool)
                .await?;
            (exists, handles)
        });
        exists.ok_or_else(|| StoreError::not_found("worker", worker))?;
        Ok(handles)
    }

    async fn apply_report(
        &self,
        table: Table,
        worker: &WorkerName,
        handles: Vec<String>,
        now: Timestamp,
    ) -> StoreResult<ReportOutcome> {
        let name = table.name();
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let lock = format!(
                "SELECT name FROM workers WHERE name = $1{}",
                if pg { " FOR UPDATE" } else { "" }
            );
            let found: Option<String> = sqlx::query_scalar(&lock)
                .bind(worker)
                .fetch_optional(&mut *tx)
                .await?;
            found.ok_or_else(|| StoreError::not_found("worker", worker))?;

            let reported = in_list(pg, "handle", 2);
            let sql = format!(
                "DELETE FROM {name} WHERE worker_name = $1 AND state = 'destroying' AND NOT ({reported})"
            );
            let deleted = sqlx::query(&sql)
                .bind(worker)
                .bind(text_list(pool, handles.clone()))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let sql = format!(
                "UPDATE {name} SET missing_since = NULL
                 WHERE worker_name = $1 AND missing_since IS NOT NULL AND {reported}"
            );
            let found_again = sqlx::query(&sql)
                .bind(worker)
                .bind(text_list(pool, handles.clone()))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let sql = format!(
                "UPDATE {name} SET missing_since = $3
                 WHERE worker_name = $1 AND missing_since IS NULL AND state IN ({})
                   AND NOT ({reported})",
                table.expected_states()
            );
            let marked_missing = sqlx::query(&sql)
                .bind(worker)
                .bind(text_list(pool, handles.clone()))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let sql = format!(
                "INSERT INTO {name} (handle, worker_name, state, created_at)
                 SELECT value, $1, 'destroying', $3 FROM {}
                 WHERE NOT EXISTS (SELECT 1 FROM {name} known WHERE known.handle = value)
                 ON CONFLICT (handle) DO NOTHING",
                list_rows(pg, 2)
            );
            let unknown = sqlx::query(&sql)
                .bind(worker)
                .bind(text_list(pool, handles))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(ReportOutcome {
                deleted,
                marked_missing,
                found_again,
                unknown,
            })
        })
    }
}
