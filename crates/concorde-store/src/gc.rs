//! Garbage collection in the database: which rows are collectable and what happens to them.
//! Each collector is independent (Concourse runs each as its own component under its own
//! lock) and only decides; workers destroy the real containers and volumes when they sweep
//! (see `reports.rs`). Collectors break references: a deleted cache or build release the
//! containers and volumes that pointed at them, which later collectors take.
//!
//! A collector never takes a row something still needs: running builds keep their
//! containers, the latest failed build of a job keeps its containers for the failed-build
//! grace period (for `fly intercept`), hijacked containers survive the hijack grace period,
//! and volume parents outlive their copy-on-write children.

use std::time::Duration;

use crate::backend::{WritePool, in_list, int_list};
use crate::error::StoreResult;
use crate::ids::{ContainerHandle, Timestamp, VolumeHandle};
use crate::{Store, with_db};

/// The grace periods garbage collection honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPolicy {
    /// How long a finished one-off build keeps its containers.
    pub one_off_grace: Duration,
    /// How long the latest build of a job keeps its containers when it did not succeed.
    pub failed_grace: Duration,
    /// How long after the last hijack an orphaned container is kept.
    pub hijack_grace: Duration,
    /// How long a container or volume may be missing from its worker's reports before its
    /// row is deleted.
    pub missing_grace: Duration,
    /// How long an unreferenced resource config is kept after its last use (longer than a
    /// check may run, so a running check's config is never taken).
    pub resource_config_grace: Duration,
    /// How long an artifact is kept.
    pub artifact_max_age: Duration,
}

impl Default for GcPolicy {
    /// Concourse's defaults: 5 minutes, 120 hours, 5 minutes, 5 minutes, 65 minutes, 12 hours.
    fn default() -> Self {
        const MINUTE: u64 = 60;
        GcPolicy {
            one_off_grace: Duration::from_secs(5 * MINUTE),
            failed_grace: Duration::from_secs(120 * 60 * MINUTE),
            hijack_grace: Duration::from_secs(5 * MINUTE),
            missing_grace: Duration::from_secs(5 * MINUTE),
            resource_config_grace: Duration::from_secs(65 * MINUTE),
            artifact_max_age: Duration::from_secs(12 * 60 * MINUTE),
        }
    }
}

/// What [`Store::collect_orphaned_containers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanedContainers {
    /// Moved to `destroying`.
    pub destroying: Vec<ContainerHandle>,
    /// Orphaned but hijacked within the grace period: newly marked discontinued, kept.
    pub discontinued: Vec<ContainerHandle>,
}

/// SQL true when build `b` no longer needs its containers and resource cache uses; binds
/// `$1` = one-off cutoff, `$2` = failed-build cutoff.
const BUILD_RELEASED: &str = "b.completed AND (
    (b.job_id IS NULL AND b.end_time < $1)
    OR (b.job_id IS NOT NULL AND (b.status = 'succeeded' OR b.end_time < $2
        OR NOT EXISTS (SELECT 1 FROM jobs lj WHERE lj.latest_completed_build_id = b.id))))";

/// SQL true when container `c` has no owner needing it; binds `$1`, `$2` as
/// [`BUILD_RELEASED`] and `$3` = now.
fn container_orphaned() -> String {
    format!(
        "((c.build_id IS NULL AND c.check_scope_id IS NULL)
          OR (c.check_scope_id IS NOT NULL AND c.check_expires < $3)
          OR EXISTS (SELECT 1 FROM builds b WHERE b.id = c.build_id AND {BUILD_RELEASED}))"
    )
}

/// SQL true when volume `v` has no owner left.
const VOLUME_UNOWNED: &str = "v.container_id IS NULL AND v.resource_cache_id IS NULL \
    AND v.task_cache_id IS NULL AND v.worker_base_resource_type_id IS NULL AND v.artifact_id IS NULL";

/// SQL true when resource cache `rc` is not needed: no build or container uses it, no custom
/// type is built from it, and no job of an unpaused pipeline is about to fetch it.
const CACHE_UNUSED: &str = "NOT EXISTS (SELECT 1 FROM resource_cache_uses u WHERE u.resource_cache_id = rc.id)
    AND NOT EXISTS (SELECT 1 FROM resource_cache_container_uses cu WHERE cu.resource_cache_id = rc.id)
    AND NOT EXISTS (SELECT 1 FROM resource_configs custom WHERE custom.resource_cache_id = rc.id)
    AND NOT EXISTS (SELECT 1 FROM next_build_inputs n
        JOIN resources r ON r.id = n.resource_id
        JOIN jobs j ON j.id = n.job_id
        JOIN pipelines p ON p.id = j.pipeline_id
        WHERE NOT p.paused AND r.resource_config_id = rc.resource_config_id
          AND n.version_digest = rc.version_digest)";

impl Store {
    /// Moves `created` containers nobody needs to `destroying`: no owner left, an expired
    /// check, or a build that finished and is released (a succeeded or superseded job build,
    /// the latest failed one after `failed_grace`, a one-off after `one_off_grace`). Orphans
    /// hijacked within `hijack_grace` are kept and flagged discontinued instead. `creating`
    /// containers are never taken: a node may still be creating them.
    pub async fn collect_orphaned_containers(
        &self,
        now: Timestamp,
        policy: &GcPolicy,
    ) -> StoreResult<OrphanedContainers> {
        let cutoffs = [
            now.minus(policy.one_off_grace),
            now.minus(policy.failed_grace),
            now,
            now.minus(policy.hijack_grace),
        ];
        let destroy = format!(
            "UPDATE containers AS c SET state = 'destroying'
             WHERE c.state = 'created' AND {} AND (c.last_hijack IS NULL OR c.last_hijack < $4)
             RETURNING handle",
            container_orphaned()
        );
        let discontinue = format!(
            "UPDATE containers AS c SET discontinued = TRUE
             WHERE c.state = 'created' AND NOT c.discontinued AND {} AND c.last_hijack >= $4
             RETURNING handle",
            container_orphaned()
        );
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let mut changed: Vec<Vec<ContainerHandle>> = Vec::with_capacity(2);
            for sql in [&destroy, &discontinue] {
                let mut query = sqlx::query_scalar(sql);
                for cutoff in cutoffs {
                    query = query.bind(cutoff);
                }
                let mut handles: Vec<ContainerHandle> = query.fetch_all(&mut *tx).await?;
                handles.sort();
                changed.push(handles);
            }
            tx.commit().await?;
            let discontinued = changed.pop().unwrap_or_default();
            let destroying = changed.pop().unwrap_or_default();
            Ok(OrphanedContainers {
                destroying,
                discontinued,
            })
        })
    }

    /// Moves `failed` containers to `destroying`; returns how many.
    pub async fn collect_failed_containers(&self) -> StoreResult<u64> {
        self.execute_counted(
            "UPDATE containers SET state = 'destroying' WHERE state = 'failed'",
            &[],
        )
        .await
    }

    /// Forgets `created` containers missing from their worker's reports for longer than
    /// `missing_grace`, unless the worker is stalled (its reports stopped, not its containers).
    pub async fn collect_missing_containers(
        &self,
        now: Timestamp,
        policy: &GcPolicy,
    ) -> StoreResult<u64> {
        let sql = "DELETE FROM containers AS c WHERE c.state = 'created' AND c.missing_since < $1
            AND EXISTS (SELECT 1 FROM workers w WHERE w.name = c.worker_name AND w.state <> 'stalled')";
        self.execute_counted(sql, &[now.minus(policy.missing_grace)])
            .await
    }

    /// Deletes `failed` volume rows (a worker still holding one reports it back as unknown,
    /// and it is then destroyed); returns how many.
    pub async fn collect_failed_volumes(&self) -> StoreResult<u64> {
        self.execute_counted("DELETE FROM volumes WHERE state = 'failed'", &[])
            .await
    }

    /// Moves `created` volumes with no owner and no copy-on-write child, on workers that are
    /// running, landing or retiring, to `destroying`. A volume that gains a child meanwhile is
    /// skipped (the database refuses it), so parents go one level per run, after children.
    pub async fn collect_orphaned_volumes(&self) -> StoreResult<Vec<VolumeHandle>> {
        with_db!(self, |pool, pg| {
            let sql = format!(
                "SELECT v.id, v.handle FROM volumes v JOIN workers w ON w.name = v.worker_name
                 WHERE v.state = 'created' AND w.state IN ('running', 'landing', 'retiring') AND {VOLUME_UNOWNED}
                   AND NOT EXISTS (SELECT 1 FROM volumes child WHERE child.parent_id = v.id)
                 ORDER BY v.handle"
            );
            let candidates: Vec<(i64, VolumeHandle)> = sqlx::query_as(&sql).fetch_all(pool).await?;
            let mut destroying = Vec::new();
            for (id, handle) in candidates {
                // One statement per volume: a child created since the query makes only this
                // update fail, on the parent foreign key.
                let sql = format!(
                    "UPDATE volumes AS v SET state = 'destroying' WHERE v.id = $1 AND v.state = 'created' AND {VOLUME_UNOWNED}"
                );
                match sqlx::query(&sql).bind(id).execute(pool).await {
                    Ok(res) if res.rows_affected() > 0 => destroying.push(handle),
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        tracing::debug!(volume = %handle, "volume cannot be destroyed as children are present");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            Ok(destroying)
        })
    }

    /// Deletes `created` and `failed` volumes missing from their worker's reports for longer
    /// than `missing_grace`, together with all their copy-on-write descendants.
    pub async fn collect_missing_volumes(
        &self,
        now: Timestamp,
        policy: &GcPolicy,
    ) -> StoreResult<u64> {
        let sql = "WITH RECURSIVE doomed (id) AS (
              SELECT id FROM volumes WHERE state IN ('created', 'failed') AND missing_since < $1
              UNION SELECT child.id FROM volumes child JOIN doomed ON child.parent_id = doomed.id)
            DELETE FROM volumes WHERE id IN (SELECT id FROM doomed)";
        self.execute_counted(sql, &[now.minus(policy.missing_grace)])
            .await
    }

    /// Deletes the resource cache uses of released builds (see
    /// [`Store::collect_orphaned_containers`]); returns how many.
    pub async fn collect_resource_cache_uses(
        &self,
        now: Timestamp,
        policy: &GcPolicy,
    ) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM resource_cache_uses WHERE build_id IN (SELECT b.id FROM builds b WHERE {BUILD_RELEASED})"
        );
        self.execute_counted(
            &sql,
            &[
                now.minus(policy.one_off_grace),
                now.minus(policy.failed_grace),
            ],
        )
        .await
    }

    /// Deletes resource caches nothing needs (no build or container use, no custom type
    /// built from it, not the next input of a job in an unpaused pipeline); their volumes lose
    /// that owner. A cache a build starts using concurrently survives: on PostgreSQL the
    /// candidates are locked first and re-checked by a later statement, which sees any use
    /// committed while we waited for the lock.
    pub async fn collect_resource_caches(&self) -> StoreResult<u64> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let sql = format!(
                "SELECT rc.id FROM resource_caches rc WHERE {CACHE_UNUSED} ORDER BY rc.id{}",
                if pg { " FOR UPDATE" } else { "" }
            );
            let candidates: Vec<i64> = sqlx::query_scalar(&sql).fetch_all(&mut *tx).await?;
            let sql = format!(
                "DELETE FROM resource_caches AS rc WHERE {} AND {CACHE_UNUSED}",
                in_list(pg, "rc.id", 1)
            );
            let res = sqlx::query(&sql)
                .bind(int_list(pool, candidates))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(res.rows_affected())
        })
    }

    /// Deletes resource configs no cache, resource or resource type refers to and that were
    /// not referenced within `resource_config_grace`, with their scopes and versions.
    pub async fn collect_resource_configs(
        &self,
        now: Timestamp,
        policy: &GcPolicy,
    ) -> StoreResult<u64> {
        let sql = "DELETE FROM resource_configs AS rc WHERE rc.last_referenced < $1
            AND NOT EXISTS (SELECT 1 FROM resource_caches c WHERE c.resource_config_id = rc.id)
            AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.resource_config_id = rc.id)
            AND NOT EXISTS (SELECT 1 FROM resource_types t WHERE t.resource_config_id = rc.id)";
        self.execute_counted(sql, &[now.minus(policy.resource_config_grace)])
            .await
    }

    /// Deletes task caches of jobs that will not run them again soon: the pipeline is
    /// archived, the job was removed, or the job or pipeline is paused with no build pending.
    pub async fn collect_task_caches(&self) -> StoreResult<u64> {
        let sql = "DELETE FROM task_caches WHERE job_id IN (
              SELECT j.id FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id
              WHERE p.archived OR NOT j.active OR ((p.paused OR j.paused) AND j.next_build_id IS NULL))";
        self.execute_counted(sql, &[]).await
    }

    /// Deletes artifacts older than `artifact_max_age`; their volumes lose that owner.
    pub async fn collect_artifacts(&self, now: Timestamp, policy: &GcPolicy) -> StoreResult<u64> {
        self.execute_counted(
            "DELETE FROM artifacts WHERE created_at < $1",
            &[now.minus(policy.artifact_max_age)],
        )
        .await
    }

    /// Runs one collecting statement with `times` bound as `$1, $2, ...`; returns how many
    /// rows it changed.
    async fn execute_counted(&self, sql: &str, times: &[Timestamp]) -> StoreResult<u64> {
        with_db!(self, |pool, pg| {
            let mut query = sqlx::query(sql);
            for time in times {
                query = query.bind(*time);
            }
            Ok(query.execute(pool).await?.rows_affected())
        })
    }
}
