//! What a build consumed and produced: its inputs (with first-occurrence flags), its outputs,
//! and the build pipes recording which upstream builds fed it through `passed:` inputs.

use crate::backend::WritePool;
use crate::builds::RecordedVersion;
use crate::error::{StoreError, StoreResult, fk_to_not_found};
use crate::ids::{BuildId, JobId};
use crate::{Store, with_db};

impl Store {
    /// Records the versions a build consumed; each row notes whether this job never used the
    /// version under this input name before (first occurrence).
    pub async fn save_build_inputs(
        &self,
        build: BuildId,
        inputs: &[RecordedVersion],
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let job: Option<Option<JobId>> =
                sqlx::query_scalar("SELECT job_id FROM builds WHERE id = $1")
                    .bind(build)
                    .fetch_optional(&mut *tx)
                    .await?;
            let job = job.ok_or_else(|| StoreError::not_found("build", build))?;
            for input in inputs {
                sqlx::query(
                    "INSERT INTO build_inputs (build_id, job_id, resource_id, version_digest, name, first_occurrence)
                     SELECT $1, $2, $3, $4, $5, NOT EXISTS (SELECT 1 FROM build_inputs
                       WHERE job_id = $2 AND name = $5 AND resource_id = $3 AND version_digest = $4)
                     ON CONFLICT DO NOTHING",
                )
                .bind(build)
                .bind(job)
                .bind(input.resource_id)
                .bind(&input.version_digest)
                .bind(&input.name)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found("resource", input.resource_id))?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records versions a build produced (its `put`s and implicit gets).
    pub async fn save_build_outputs(
        &self,
        build: BuildId,
        outputs: &[RecordedVersion],
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            for output in outputs {
                sqlx::query(
                    "INSERT INTO build_outputs (build_id, job_id, resource_id, version_digest, name)
                     SELECT id, job_id, $2, $3, $4 FROM builds WHERE id = $1 ON CONFLICT DO NOTHING",
                )
                .bind(build)
                .bind(output.resource_id)
                .bind(&output.version_digest)
                .bind(&output.name)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found("resource", output.resource_id))?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A build's recorded inputs (`outputs = false`) or outputs, by name.
    pub async fn build_versions(
        &self,
        build: BuildId,
        outputs: bool,
    ) -> StoreResult<Vec<RecordedVersion>> {
        with_db!(self, |pool, pg| {
            let table = if outputs {
                "build_outputs"
            } else {
                "build_inputs"
            };
            let sql = format!(
                "SELECT name, resource_id, version_digest FROM {table} WHERE build_id = $1
                 ORDER BY name, resource_id, version_digest"
            );
            Ok(sqlx::query_as::<_, RecordedVersion>(&sql)
                .bind(build)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Records which upstream builds fed `to` through `passed:` inputs.
    pub async fn save_build_pipes(&self, to: BuildId, from: &[BuildId]) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            for upstream in from {
                sqlx::query(
                    "INSERT INTO build_pipes (from_build_id, to_build_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(*upstream)
                .bind(to)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found("build", upstream))?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The builds that fed `to`, ascending.
    pub async fn build_pipes(&self, to: BuildId) -> StoreResult<Vec<BuildId>> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_scalar(
                "SELECT from_build_id FROM build_pipes WHERE to_build_id = $1 ORDER BY from_build_id",
            )
            .bind(to)
            .fetch_all(pool)
            .await?)
        })
    }
}
