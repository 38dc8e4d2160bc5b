//! `put`: mount the chosen artifacts, run the type's `out`, and remember the version it
//! produced for the implicit get that follows.

use concorde_config::vars::{Missing, interpolate_json};
use concorde_worker::Mount;

use concorde_core::EventKind;

use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::script::{ScriptRun, TypeScripts, parse_version_result, run_script};
use crate::exec::{Exec, StepError, StepResult, place_step, volume_on, with_step_timeout};
use crate::placer::StepNeeds;
use crate::plan::{PlanId, PutPlan};

pub(crate) async fn run_put(exec: &Exec, id: &PlanId, put: &PutPlan) -> StepResult {
    exec.emit_lifecycle(id, EventKind::InitializePut).await;
    with_step_timeout(exec, id, put.timeout.as_deref(), |sub| async move {
        put_once(&sub, id, put).await
    })
    .await
}

async fn put_once(exec: &Exec, id: &PlanId, put: &PutPlan) -> StepResult {
    let mut source = serde_json::Value::Object(put.source.clone());
    let mut params = serde_json::Value::Object(put.params.clone());
    interpolate_json(&mut source, &exec.vars(), Missing::Error)
        .map_err(|err| StepError::Errored(err.to_string()))?;
    interpolate_json(&mut params, &exec.vars(), Missing::Error)
        .map_err(|err| StepError::Errored(err.to_string()))?;
    let inputs: Vec<_> = input_names(exec, put, &params)?
        .into_iter()
        .filter_map(|name| exec.env.artifact(&name).map(|artifact| (name, artifact)))
        .collect();
    let scripts = TypeScripts::prepare(exec, &put.image, &put.tags).await?;
    let mut needs = StepNeeds {
        plan_id: id.clone(),
        step_type: "put",
        tags: put.tags.clone(),
        input_workers: inputs
            .iter()
            .map(|(_, artifact)| artifact.worker_name().to_owned())
            .collect(),
        ..StepNeeds::default()
    };
    scripts.add_needs(&mut needs);
    let worker = place_step(exec, &needs).await?;
    let resolved = scripts.on(exec, id, &worker).await?;
    let mut mounts = Vec::new();
    for (name, artifact) in &inputs {
        mounts.push(Mount {
            volume: volume_on(exec, id, artifact, &worker).await?,
            path: format!("/tmp/build/put/{name}"),
            read_only: false,
        });
    }
    exec.emit_lifecycle(id, EventKind::StartPut).await;
    let run = ScriptRun {
        id,
        image: &put.image,
        name: &put.name,
        role: crate::worker_client::ContainerRole::Step,
        worker: &worker,
        resolved,
        action: "out",
        dir: Some("/tmp/build/put"),
        stdin: serde_json::json!({"source": source, "params": params}),
        volumes: Vec::new(),
        mounts,
        expose_created_by: put.expose_build_created_by,
    };
    let output = run_script(exec, run).await?;
    if output.exit_status != 0 {
        exec.emit(BuildEvent::FinishResource {
            kind: EventKind::FinishPut,
            origin: Origin::step(id),
            exit_status: output.exit_status,
            version: None,
            metadata: Vec::new(),
            time: now_unix(),
        })
        .await;
        return Ok(false);
    }
    let (version, metadata) =
        parse_version_result(&output.stdout, "/opt/resource/out /tmp/build/put")?;
    if let Ok(mut versions) = exec.env.put_versions.lock() {
        versions.insert(id.clone(), version.clone());
    }
    if let Some(recorder) = &exec.env.recorder {
        recorder.output_produced(&put.resource, &version, &metadata);
    }
    exec.emit(BuildEvent::FinishResource {
        kind: EventKind::FinishPut,
        origin: Origin::step(id),
        exit_status: 0,
        version: Some(version),
        metadata,
        time: now_unix(),
    })
    .await;
    Ok(true)
}

/// The artifacts to mount: `all`, an explicit list (each must exist), or `detect` (the
/// default): the first path segment of every string in the params that names an artifact.
fn input_names(
    exec: &Exec,
    put: &PutPlan,
    params: &serde_json::Value,
) -> Result<Vec<String>, StepError> {
    match &put.inputs {
        Some(serde_json::Value::String(all)) if all == "all" => Ok(exec.env.artifact_names()),
        Some(serde_json::Value::Array(names)) => names
            .iter()
            .map(|name| {
                let name = name.as_str().unwrap_or_default();
                exec.env
                    .artifact(name)
                    .map(|_| name.to_owned())
                    .ok_or_else(|| StepError::Errored(format!("input not found: {name}")))
            })
            .collect(),
        _ => {
            let mut found = Vec::new();
            detect_inputs(params, &mut found);
            found.retain(|name| exec.env.artifact(name).is_some());
            found.sort();
            found.dedup();
            Ok(found)
        }
    }
}

fn detect_inputs(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(first) = text
                .split('/')
                .find(|segment| !segment.is_empty() && *segment != "." && *segment != "..")
            {
                found.push(first.to_owned());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| detect_inputs(item, found)),
        serde_json::Value::Object(map) => map.values().for_each(|item| detect_inputs(item, found)),
        _ => {}
    }
}
