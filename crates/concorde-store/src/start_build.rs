//! Starting a build: the one domain operation that records the versions a build consumes (each
//! with its first-occurrence flag), the build pipes from the upstream builds that vouched for
//! them, and its plan, and moves it from pending to started, in one transaction. A build is
//! either started with all of that or still pending with none of it.

use crate::backend::WritePool;
use crate::builds::{BuildStatus, RecordedVersion};
use crate::error::{StoreResult, fk_to_not_found};
use crate::ids::{BuildId, JobId, Timestamp};
use crate::{Store, with_db};

/// Everything a build starts with.
#[derive(Debug, Clone)]
pub struct StartBuild<'a> {
    /// The pending build.
    pub id: BuildId,
    /// The versions it consumes, by input name.
    pub inputs: &'a [RecordedVersion],
    /// Upstream builds whose outputs reached it through `passed:` inputs.
    pub pipes: &'a [BuildId],
    /// Its public plan (no sources, params or vars: `GET /builds/:id/plan` serves it).
    pub plan: &'a serde_json::Value,
    /// The start time.
    pub now: Timestamp,
}

impl Store {
    /// Starts a pending, not aborted build; see the module documentation.
    ///
    /// `InvalidTransition` when the build is not pending (or was aborted), `NotFound` for an
    /// unknown build, input resource or upstream build; nothing is written on any error.
    pub async fn start_build(&self, start: &StartBuild<'_>) -> StoreResult<()> {
        let plan = start.plan.to_string();
        let refused = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let job: Option<Option<JobId>> = sqlx::query_scalar(
                "UPDATE builds SET status = 'started', plan = $1, start_time = $2
                 WHERE id = $3 AND status = 'pending' AND NOT aborted RETURNING job_id",
            )
            .bind(&plan)
            .bind(start.now)
            .bind(start.id)
            .fetch_optional(&mut *tx)
            .await?;
            match job {
                None => true,
                Some(job) => {
                    for input in start.inputs {
                        sqlx::query(
                            "INSERT INTO build_inputs (build_id, job_id, resource_id, version_digest, name, first_occurrence)
                             SELECT $1, $2, $3, $4, $5, NOT EXISTS (SELECT 1 FROM build_inputs
                               WHERE job_id = $2 AND name = $5 AND resource_id = $3 AND version_digest = $4)
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(start.id)
                        .bind(job)
                        .bind(input.resource_id)
                        .bind(&input.version_digest)
                        .bind(&input.name)
                        .execute(&mut *tx)
                        .await
                        .map_err(fk_to_not_found("resource", input.resource_id))?;
                    }
                    for upstream in start.pipes {
                        sqlx::query(
                            "INSERT INTO build_pipes (from_build_id, to_build_id) VALUES ($1, $2)
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(*upstream)
                        .bind(start.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(fk_to_not_found("build", upstream))?;
                    }
                    tx.commit().await?;
                    false
                }
            }
        });
        if refused {
            return Err(self
                .refused_transition(start.id, BuildStatus::Started)
                .await);
        }
        Ok(())
    }
}
