//! What a build consumed and produced: its outputs, and reading its inputs, outputs and the
//! build pipes recording which upstream builds fed it (`start_build.rs` writes inputs and
//! pipes when it starts).

use crate::backend::WritePool;
use crate::builds::RecordedVersion;
use crate::error::{StoreResult, fk_to_not_found};
use crate::ids::BuildId;
use crate::{Store, with_db};

impl Store {
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
