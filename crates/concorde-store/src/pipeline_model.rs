//! A stored pipeline config as the typed model, decoded once per config version: every
//! component tick and API request that reads a pipeline's config shares one decoded copy
//! until the pipeline is set again (which bumps `config_version`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_config::model::Pipeline as PipelineConfig;
use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline};

use crate::Store;
use crate::error::{StoreError, StoreResult};
use crate::ids::PipelineId;
use crate::pipelines::Pipeline;

/// Decoded configs by pipeline, each with the config version it was decoded from.
#[derive(Debug, Default)]
pub(crate) struct ModelCache {
    decoded: Mutex<HashMap<PipelineId, (i64, Arc<PipelineConfig>)>>,
}

impl Store {
    /// The typed model of `pipeline`'s config, decoded at most once per config version.
    /// `Corrupt` when the stored config no longer decodes.
    pub fn pipeline_model(&self, pipeline: &Pipeline) -> StoreResult<Arc<PipelineConfig>> {
        let cache = &self.models;
        if let Ok(decoded) = cache.decoded.lock()
            && let Some((version, model)) = decoded.get(&pipeline.id)
            && *version == pipeline.config_version
        {
            return Ok(model.clone());
        }
        let text = pipeline.config.to_string();
        let model = load_pipeline(text.as_bytes(), &StaticVars::default(), UnknownKeys::Ignore)
            .map(|loaded| Arc::new(loaded.pipeline))
            .map_err(|err| StoreError::Corrupt {
                what: "pipeline config",
                detail: format!("pipeline {} does not decode: {err}", pipeline.id),
            })?;
        if let Ok(mut decoded) = cache.decoded.lock() {
            let newer_cached = decoded
                .get(&pipeline.id)
                .is_some_and(|(version, _)| *version > pipeline.config_version);
            if !newer_cached {
                decoded.insert(pipeline.id, (pipeline.config_version, model.clone()));
            }
        }
        Ok(model)
    }
}
