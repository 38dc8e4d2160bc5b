//! `set_pipeline`: validates a config from an artifact and saves it through the web node.

use concorde_config::vars::StaticVars;
use concorde_config::{Severity, UnknownKeys, load_pipeline, validate_pipeline};

use crate::env::{SetPipelineOutcome, SetPipelineRequest};
use concorde_core::EventKind;

use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::{Exec, StepError, StepResult, read_artifact_file};
use crate::plan::{PlanId, SetPipelinePlan};

pub(crate) async fn run_set_pipeline(
    exec: &Exec,
    id: &PlanId,
    set: &SetPipelinePlan,
) -> StepResult {
    exec.emit_lifecycle(id, EventKind::Initialize).await;
    exec.emit_lifecycle(id, EventKind::Start).await;
    let log = |text: String| {
        exec.emit(BuildEvent::Log {
            origin: Origin {
                id: id.clone(),
                source: Some("stdout"),
            },
            payload: text,
            time: now_unix(),
        })
    };
    let (name, team, instance_vars) = if set.name == "self" {
        let context = &exec.env.context;
        let name = context.pipeline_name.clone().ok_or_else(|| {
            StepError::Errored("set_pipeline: self can only be used in a pipeline build".to_owned())
        })?;
        (
            name,
            None,
            context.pipeline_instance_vars.clone().unwrap_or_default(),
        )
    } else {
        (
            set.name.clone(),
            set.team.clone(),
            set.instance_vars.clone(),
        )
    };
    if name.contains('/') || team.as_deref().is_some_and(|team| team.contains('/')) {
        return Err(StepError::Errored(
            "pipeline and team names cannot contain '/'".to_owned(),
        ));
    }
    let mut vars = StaticVars::default();
    for file in &set.var_files {
        let bytes = read_artifact_file(exec, file).await?;
        vars.add_file(file, &bytes)
            .map_err(|err| StepError::Errored(err.to_string()))?;
    }
    for (key, value) in &set.vars {
        vars.add_yaml(&format!("{key}={value}"))
            .map_err(|err| StepError::Errored(err.to_string()))?;
    }
    for (key, value) in &instance_vars {
        vars.add_yaml(&format!("{key}={value}"))
            .map_err(|err| StepError::Errored(err.to_string()))?;
    }
    let bytes = read_artifact_file(exec, &set.file).await?;
    let loaded = load_pipeline(&bytes, &vars, UnknownKeys::Reject).map_err(|err| {
        StepError::Errored(format!("invalid pipeline:\n{}", err.lines().join("\n")))
    })?;
    let diagnostics = validate_pipeline(&loaded.pipeline);
    for warning in diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
    {
        log(format!("WARNING: {}\n", warning.message)).await;
    }
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("- {}", d.message))
        .collect();
    if !errors.is_empty() {
        return Err(StepError::Errored(format!(
            "invalid pipeline:\n{}",
            errors.join("\n")
        )));
    }
    let setter = exec.env.pipeline_setter.clone().ok_or_else(|| {
        StepError::Errored("set_pipeline is not available in this build".to_owned())
    })?;
    let request = SetPipelineRequest {
        team,
        name: name.clone(),
        instance_vars,
        config: loaded.pipeline,
        build_id: exec.env.context.build_id,
    };
    let outcome = setter
        .set_pipeline(request)
        .await
        .map_err(StepError::Errored)?;
    let changed = outcome == SetPipelineOutcome::Saved;
    if changed {
        log(format!("setting pipeline: {name}\n")).await;
        log("done\n".to_owned()).await;
    } else {
        log("no changes to apply.\n".to_owned()).await;
    }
    exec.emit(BuildEvent::SetPipelineChanged {
        origin: Origin::step(id),
        changed,
    })
    .await;
    exec.emit(BuildEvent::Finish {
        origin: Origin::step(id),
        succeeded: true,
        time: now_unix(),
    })
    .await;
    Ok(true)
}
