//! `GET /api/v1/builds/:build_id/preparation`: why a pending build has not started. Each
//! condition is `blocking` or `not_blocking`: a paused pipeline or job, the job's running
//! builds at its limit (`serial`, `serial_groups`, `max_in_flight`), inputs not yet resolved
//! (with the reason). A build that is no longer pending blocks on nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use concorde_store::{Build, BuildStatus, Store};
use serde_json::{Value, json};
use tracing::instrument;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiPath, BuildPath};
use crate::routes::builds::readable_build;
use crate::state::ApiState;

const BLOCKING: &str = "blocking";
const NOT_BLOCKING: &str = "not_blocking";

fn word(blocking: bool) -> &'static str {
    if blocking { BLOCKING } else { NOT_BLOCKING }
}

/// `GET /api/v1/builds/:build_id/preparation`.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<BuildPath>,
) -> ApiResult<Json<Value>> {
    let (build, _) = readable_build(&state, &caller, path.build_id, true).await?;
    let store = state.store();
    let (Some(job_id), BuildStatus::Pending) = (build.job_id, build.status) else {
        return Ok(Json(preparation(
            &build,
            false,
            false,
            false,
            BTreeMap::new(),
        )));
    };
    let job = store.job(job_id).await?;
    let pipeline = store.pipeline(job.pipeline_id).await?;
    let model = store.pipeline_model(&pipeline)?;
    let config = model.jobs.iter().find(|config| config.name == job.name);
    let at_limit = match config {
        Some(config) => at_limit(store, &model, config, &job).await?,
        None => false,
    };
    let mut inputs = BTreeMap::new();
    if build.rerun_of.is_none() {
        let next = store.next_build_inputs(job.id).await?;
        for get in config.map(|c| c.get_steps()).unwrap_or_default() {
            let resolved = next.iter().find(|input| input.input_name == get.name);
            let reason = match resolved {
                None => Some("the job's inputs have not been determined yet".to_owned()),
                Some(input) => match (&input.resolve_error, &input.version_digest) {
                    (Some(error), _) => Some(error.clone()),
                    (None, None) => Some("no version satisfies the input".to_owned()),
                    (None, Some(_)) => None,
                },
            };
            inputs.insert(get.name.clone(), reason);
        }
    }
    Ok(Json(preparation(
        &build,
        pipeline.paused,
        job.paused,
        at_limit,
        inputs,
    )))
}

/// Whether the job already runs as many builds as `serial`, `serial_groups` or
/// `max_in_flight` allow (the rule is the config's, as the tracker applies it).
async fn at_limit(
    store: &Store,
    model: &concorde_config::model::Pipeline,
    config: &concorde_config::model::Job,
    job: &concorde_store::Job,
) -> ApiResult<bool> {
    let Some(limit) = config.max_running_builds() else {
        return Ok(false);
    };
    let sharing = model.jobs_sharing_serial_groups(config);
    let mut counted = vec![job.id];
    for other in store.list_jobs(job.pipeline_id).await? {
        if sharing.iter().any(|shared| shared.name == other.name) {
            counted.push(other.id);
        }
    }
    let mut running = 0_i64;
    for id in counted {
        let builds = store.list_job_builds(id, None, 100).await?;
        let started = builds
            .iter()
            .filter(|build| build.status == BuildStatus::Started)
            .count();
        running += i64::try_from(started).unwrap_or(i64::MAX);
    }
    Ok(running >= limit)
}

fn preparation(
    build: &Build,
    paused_pipeline: bool,
    paused_job: bool,
    at_limit: bool,
    inputs: BTreeMap<String, Option<String>>,
) -> Value {
    let satisfied = inputs.values().all(Option::is_none);
    let states: BTreeMap<&String, &str> = inputs
        .iter()
        .map(|(name, reason)| (name, word(reason.is_some())))
        .collect();
    let reasons: BTreeMap<&String, &String> = inputs
        .iter()
        .filter_map(|(name, reason)| reason.as_ref().map(|reason| (name, reason)))
        .collect();
    json!({
        "build_id": build.id,
        "paused_pipeline": word(paused_pipeline),
        "paused_job": word(paused_job),
        "max_running_builds": word(at_limit),
        "inputs": states,
        "inputs_satisfied": word(!satisfied),
        "missing_input_reasons": reasons,
    })
}
