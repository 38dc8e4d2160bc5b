//! The `set_pipeline` step's way into the store: the store's one `set_pipeline` operation with
//! the step's rules (a new pipeline runs at once, an unchanged config is not saved again, only
//! the main team sets other teams' pipelines).

use concorde_engine::{PipelineSetter, SetPipelineOutcome, SetPipelineRequest};
use concorde_store::{BuildId, SetBy, SetOutcome, SetPipeline, Store, StoreError};

/// Saves pipelines for `set_pipeline` steps.
pub struct StorePipelineSetter {
    /// The store.
    pub store: Store,
}

#[async_trait::async_trait]
impl PipelineSetter for StorePipelineSetter {
    async fn set_pipeline(
        &self,
        request: SetPipelineRequest,
    ) -> Result<SetPipelineOutcome, String> {
        let store = &self.store;
        let build = store
            .build(BuildId(request.build_id))
            .await
            .map_err(|err| err.to_string())?;
        let team = match &request.team {
            None => build.team_id,
            Some(name) => match store.team_by_name(name).await {
                Ok(team) => team.id,
                Err(StoreError::NotFound { .. }) => return Err(format!("team {name} not found")),
                Err(err) => return Err(err.to_string()),
            },
        };
        let set = store
            .set_pipeline(&SetPipeline {
                team,
                name: &request.name,
                instance_vars: (!request.instance_vars.is_empty())
                    .then_some(&request.instance_vars),
                config: &request.config,
                set_by: SetBy::Step {
                    team: build.team_id,
                    parent: build.job_id.map(|job| (job, build.id)),
                },
                now: crate::now(),
            })
            .await
            .map_err(|err| err.to_string())?;
        Ok(match set.outcome {
            SetOutcome::Unchanged => SetPipelineOutcome::Unchanged,
            SetOutcome::Created | SetOutcome::Updated => SetPipelineOutcome::Saved,
        })
    }
}
