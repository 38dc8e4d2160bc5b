//! What the worker client writes besides the state machines of `containers.rs` and
//! `volumes.rs`: forgetting a row once its worker confirmed the thing is gone, giving a kept
//! volume to an artifact, and starting a worker's records afresh when the worker itself
//! starts with nothing running (a web node's own local worker).

use crate::backend::{WritePool, in_list, text_list};
use crate::error::{StoreError, StoreResult};
use crate::ids::{ArtifactId, ContainerHandle, VolumeHandle, WorkerName};
use crate::{Store, with_db};

impl Store {
    /// Deletes a `destroying` container row: its worker has destroyed the container. Rows in
    /// any other state stay (nothing was asked to destroy them).
    pub async fn forget_container(&self, handle: &ContainerHandle) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            sqlx::query("DELETE FROM containers WHERE handle = $1 AND state = 'destroying'")
                .bind(handle)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Deletes a `destroying` volume row, and the artifact it held, if any: its worker has
    /// destroyed the volume.
    pub async fn forget_volume(&self, handle: &VolumeHandle) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let artifact: Option<Option<ArtifactId>> = sqlx::query_scalar(
                "DELETE FROM volumes WHERE handle = $1 AND state = 'destroying'
                 RETURNING artifact_id",
            )
            .bind(handle)
            .fetch_optional(&mut *tx)
            .await?;
            // An artifact is its volume: without it there is nothing to fetch or mount.
            if let Some(Some(artifact)) = artifact {
                sqlx::query("DELETE FROM artifacts WHERE id = $1")
                    .bind(artifact)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Makes a `created` volume hold `artifact` too, so it outlives the container that made it
    /// (a one-off build's output kept for download). `NotFound` if there is no such volume.
    pub async fn keep_volume_as_artifact(
        &self,
        handle: &VolumeHandle,
        artifact: ArtifactId,
    ) -> StoreResult<()> {
        let updated = with_db!(self, |pool, pg| {
            sqlx::query(
                "UPDATE volumes SET artifact_id = $2 WHERE handle = $1 AND state = 'created'",
            )
            .bind(handle)
            .bind(artifact)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            return Err(StoreError::not_found("created volume", handle));
        }
        Ok(())
    }

    /// Starts a worker's records afresh, in one transaction: every container row goes, and
    /// every volume row but `keep`. Only for a worker whose process has just destroyed every
    /// container and every other volume it had (a web node's local worker at start and at
    /// stop), so the rows it deletes describe nothing that exists. `keep` must not hold a
    /// copy-on-write child of a volume it leaves out.
    pub async fn reset_worker_records(
        &self,
        worker: &WorkerName,
        keep: &[VolumeHandle],
    ) -> StoreResult<()> {
        let keep: Vec<String> = keep.iter().map(|volume| volume.0.clone()).collect();
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM containers WHERE worker_name = $1")
                .bind(worker)
                .execute(&mut *tx)
                .await?;
            let sql = format!(
                "DELETE FROM volumes WHERE worker_name = $1 AND NOT {}",
                in_list(pg, "handle", 2)
            );
            sqlx::query(&sql)
                .bind(worker)
                .bind(text_list(pool, keep))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
