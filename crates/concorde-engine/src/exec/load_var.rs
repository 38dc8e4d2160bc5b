//! `load_var`: a file from an artifact becomes a local var.

use concorde_config::{node_to_json, parse_yaml_bytes};

use concorde_core::EventKind;

use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::{Exec, StepError, StepResult, read_artifact_file};
use crate::plan::{LoadVarPlan, PlanId};

pub(crate) async fn run_load_var(exec: &Exec, id: &PlanId, load: &LoadVarPlan) -> StepResult {
    exec.emit_lifecycle(id, EventKind::Initialize).await;
    exec.emit_lifecycle(id, EventKind::Start).await;
    let bytes = read_artifact_file(exec, &load.file).await?;
    let format = load
        .format
        .clone()
        .unwrap_or_else(|| format_from_extension(&load.file).to_owned());
    let value = parse_value(&bytes, &format).map_err(|reason| {
        StepError::Errored(format!(
            "failed to parse {} in format {format}: {reason}",
            load.file
        ))
    })?;
    exec.scope.set(&load.name, value, load.reveal);
    exec.emit(BuildEvent::Finish {
        origin: Origin::step(id),
        succeeded: true,
        time: now_unix(),
    })
    .await;
    Ok(true)
}

fn format_from_extension(file: &str) -> &'static str {
    match std::path::Path::new(file)
        .extension()
        .and_then(|ext| ext.to_str())
    {
        Some("json") => "json",
        Some("yml" | "yaml") => "yaml",
        _ => "trim",
    }
}

fn parse_value(bytes: &[u8], format: &str) -> Result<serde_json::Value, String> {
    match format {
        "json" => serde_json::from_slice(bytes).map_err(|err| err.to_string()),
        "yaml" | "yml" => parse_yaml_bytes(bytes)
            .map(|node| node_to_json(&node))
            .map_err(|err| err.to_string()),
        "trim" => Ok(serde_json::Value::String(
            String::from_utf8_lossy(bytes).trim().to_owned(),
        )),
        "raw" => Ok(serde_json::Value::String(
            String::from_utf8_lossy(bytes).into_owned(),
        )),
        other => Err(format!(
            "unknown format '{other}' (expected json, yaml, yml, trim or raw)"
        )),
    }
}
