//! Worker lifecycle collectors: lapsed heartbeats stall running workers (or delete ephemeral
//! ones), long-stalled workers are deleted, and draining workers finish landing or retiring
//! once no build that must not be interrupted runs on them.

use crate::backend::WritePool;
use crate::error::StoreResult;
use crate::ids::{Timestamp, WorkerName};
use crate::{Store, with_db};

/// What [`Store::stall_expired_workers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiredWorkers {
    /// Ephemeral workers whose heartbeat lapsed, deleted.
    pub deleted_ephemeral: Vec<WorkerName>,
    /// Running workers whose heartbeat lapsed, now stalled.
    pub stalled: Vec<WorkerName>,
}

/// What [`Store::finish_draining_workers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainedWorkers {
    /// Landing workers that are now landed.
    pub landed: Vec<WorkerName>,
    /// Retiring workers that were deleted.
    pub retired: Vec<WorkerName>,
}

/// SQL true when a job's config says `interruptible: true` (`j` is the job, maybe NULL).
fn interruptible(pg: bool) -> &'static str {
    if pg {
        "COALESCE((CAST(j.config AS jsonb) ->> 'interruptible') = 'true', FALSE)"
    } else {
        "COALESCE(json_extract(j.config, '$.interruptible') = 1, 0)"
    }
}

/// SQL true when worker `w` runs no container of an unfinished build that may not be
/// interrupted (one-off builds and jobs without `interruptible: true`).
fn drained(pg: bool) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM containers c JOIN builds b ON b.id = c.build_id
           LEFT JOIN jobs j ON j.id = b.job_id
           WHERE c.worker_name = w.name AND NOT b.completed
             AND (b.job_id IS NULL OR NOT {}))",
        interruptible(pg)
    )
}

impl Store {
    /// Applies lapsed heartbeats: ephemeral workers whose deadline passed are deleted (in any
    /// state); running workers whose deadline passed become `stalled`. Draining workers keep
    /// their state.
    pub async fn stall_expired_workers(&self, now: Timestamp) -> StoreResult<ExpiredWorkers> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let mut deleted_ephemeral: Vec<WorkerName> = sqlx::query_scalar(
                "DELETE FROM workers WHERE ephemeral AND expires < $1 RETURNING name",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let mut stalled: Vec<WorkerName> = sqlx::query_scalar(
                "UPDATE workers SET state = 'stalled', expires = NULL, stalled_since = $1
                 WHERE state = 'running' AND expires < $1 RETURNING name",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            deleted_ephemeral.sort();
            stalled.sort();
            Ok(ExpiredWorkers {
                deleted_ephemeral,
                stalled,
            })
        })
    }

    /// Deletes workers stalled since before `stalled_before` (the stalled-worker timeout).
    pub async fn delete_stalled_workers(
        &self,
        stalled_before: Timestamp,
    ) -> StoreResult<Vec<WorkerName>> {
        let mut names: Vec<WorkerName> = with_db!(self, |pool, pg| {
            sqlx::query_scalar(
                "DELETE FROM workers WHERE state = 'stalled' AND stalled_since < $1 RETURNING name",
            )
            .bind(stalled_before)
            .fetch_all(pool)
            .await?
        });
        names.sort();
        Ok(names)
    }

    /// Finishes draining: landing workers with no running non-interruptible build become
    /// `landed` (address cleared); retiring ones in the same condition are deleted.
    pub async fn finish_draining_workers(&self) -> StoreResult<DrainedWorkers> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "DELETE FROM workers AS w WHERE state = 'retiring' AND {} RETURNING name",
                drained(pg)
            );
            let mut retired: Vec<WorkerName> = sqlx::query_scalar(&sql).fetch_all(&mut *tx).await?;
            let sql = format!(
                "UPDATE workers AS w SET state = 'landed', addr = NULL, baggageclaim_url = NULL
                 WHERE state = 'landing' AND {} RETURNING name",
                drained(pg)
            );
            let mut landed: Vec<WorkerName> = sqlx::query_scalar(&sql).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            retired.sort();
            landed.sort();
            Ok(DrainedWorkers { landed, retired })
        })
    }
}
