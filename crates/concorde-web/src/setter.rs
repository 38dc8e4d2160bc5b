//! The `set_pipeline` step's way into the store: the same save the API performs, with the
//! step's rules (created pipelines are not paused; only the main team sets other teams').

use concorde_api::{MAIN_TEAM, PipelineSave, save_pipeline_config};
use concorde_engine::{PipelineSetter, SetPipelineOutcome, SetPipelineRequest};
use concorde_store::{BuildId, PipelineRef, Store, StoreError};

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
        let build_team = store
            .list_teams()
            .await
            .map_err(|err| err.to_string())?
            .into_iter()
            .find(|team| team.id == build.team_id);
        let build_team = build_team.ok_or_else(|| "the build's team is gone".to_owned())?;
        let team = match &request.team {
            None => build_team.clone(),
            Some(name) if *name == build_team.name => build_team.clone(),
            Some(name) => {
                if build_team.name != MAIN_TEAM && !build_team.admin {
                    return Err("only main team can set another team's pipeline".to_owned());
                }
                match store.team_by_name(name).await {
                    Ok(team) => team,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(format!("team {name} not found"));
                    }
                    Err(err) => return Err(err.to_string()),
                }
            }
        };
        let instance_vars = (!request.instance_vars.is_empty()).then_some(&request.instance_vars);
        let reference = PipelineRef {
            team: team.id,
            name: request.name.clone(),
            instance_vars: instance_vars
                .map(|vars| serde_json::Value::Object(vars.clone()).to_string()),
        };
        let new_config = concorde_config::pipeline_to_json(&request.config);
        if let Ok(existing) = store.pipeline_by_ref(&reference).await
            && !existing.archived
            && serde_json::from_str::<serde_json::Value>(&existing.config)
                .ok()
                .as_ref()
                == Some(&new_config)
        {
            return Ok(SetPipelineOutcome::Unchanged);
        }
        let save = PipelineSave {
            team: team.id,
            name: &request.name,
            instance_vars,
            config: &request.config,
            expected_version: None,
            initially_paused: false,
            now: crate::now(),
        };
        save_pipeline_config(store, save)
            .await
            .map_err(|err| err.to_string())?;
        Ok(SetPipelineOutcome::Saved)
    }
}
