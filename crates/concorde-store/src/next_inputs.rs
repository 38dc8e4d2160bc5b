//! Next build inputs: what the scheduler last resolved for each input of a job, including why
//! an input could not be resolved (the "why not" view). Rewritten whole on every resolution.

use crate::backend::WritePool;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BuildId, JobId, ResourceId};
use crate::{Store, with_db};

/// One input of a job's next build, resolved or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBuildInput {
    /// The input name.
    pub input_name: String,
    /// The resource, when resolved.
    pub resource_id: Option<ResourceId>,
    /// The chosen version's digest, when resolved.
    pub version_digest: Option<String>,
    /// The job never used this version under this input name before.
    pub first_occurrence: bool,
    /// Upstream builds that vouched for the version (for `passed:` inputs).
    pub passed_build_ids: Vec<BuildId>,
    /// Why it could not be resolved, if it could not.
    pub resolve_error: Option<String>,
}

type Row = (
    String,
    Option<ResourceId>,
    Option<String>,
    bool,
    String,
    Option<String>,
);

impl Store {
    /// Replaces a job's next build inputs.
    pub async fn save_next_build_inputs(
        &self,
        job: JobId,
        inputs: &[NextBuildInput],
    ) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM jobs WHERE id = $1")
                    .bind(job)
                    .fetch_optional(&mut *tx)
                    .await?;
            exists.ok_or_else(|| StoreError::not_found("job", job))?;
            sqlx::query("DELETE FROM next_build_inputs WHERE job_id = $1")
                .bind(job)
                .execute(&mut *tx)
                .await?;
            for input in inputs {
                let passed = serde_json::to_string(&input.passed_build_ids).map_err(|source| {
                    StoreError::InvalidJson {
                        what: "passed build ids",
                        source,
                    }
                })?;
                sqlx::query(
                    "INSERT INTO next_build_inputs (job_id, input_name, resource_id, version_digest,
                       first_occurrence, passed_build_ids, resolve_error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(job)
                .bind(&input.input_name)
                .bind(input.resource_id)
                .bind(&input.version_digest)
                .bind(input.first_occurrence)
                .bind(passed)
                .bind(&input.resolve_error)
                .execute(&mut *tx)
                .await
                .map_err(crate::error::fk_to_not_found("resource", format!("{:?}", input.resource_id)))?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A job's next build inputs, by input name.
    pub async fn next_build_inputs(&self, job: JobId) -> StoreResult<Vec<NextBuildInput>> {
        let rows: Vec<Row> = with_db!(self, |pool, pg| {
            sqlx::query_as(
                "SELECT input_name, resource_id, version_digest, first_occurrence, passed_build_ids,
                   resolve_error FROM next_build_inputs WHERE job_id = $1 ORDER BY input_name",
            )
            .bind(job)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    input_name,
                    resource_id,
                    version_digest,
                    first_occurrence,
                    passed,
                    resolve_error,
                )| {
                    let passed_build_ids =
                        serde_json::from_str(&passed).map_err(|err| StoreError::Corrupt {
                            what: "passed build ids",
                            detail: err.to_string(),
                        })?;
                    Ok(NextBuildInput {
                        input_name,
                        resource_id,
                        version_digest,
                        first_occurrence,
                        passed_build_ids,
                        resolve_error,
                    })
                },
            )
            .collect()
    }
}
