//! Running a resource's `check` outside a build plan: the checker's unit of work.

use std::sync::Arc;

use concorde_config::model::{JsonMap, VersionMap};
use concorde_config::vars::{Missing, interpolate_json};

use crate::env::RunEnv;
use crate::exec::script::{ScriptRun, first_json_value, place_scripts, run_script};
use crate::exec::{Exec, StepError};
use crate::placer::StepNeeds;
use crate::plan::{PlanId, TypeImage};
use crate::scope::VarScope;

/// Why a check produced no versions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The script exited non-zero.
    #[error("check failed with exit status {0}")]
    Failed(i32),
    /// The script could not run or printed something unusable.
    #[error("{0}")]
    Errored(String),
    /// The check was cancelled (timeout or shutdown).
    #[error("check interrupted")]
    Interrupted,
}

/// What to check: a resource's (or resource type's) name, type, source and worker tags.
#[derive(Clone, Copy, Debug)]
pub struct CheckSubject<'a> {
    /// The resource's (or type's) name.
    pub name: &'a str,
    /// Its type's image.
    pub image: &'a TypeImage,
    /// Its source, vars not yet resolved.
    pub source: &'a JsonMap,
    /// The worker tags it asks for.
    pub tags: &'a [String],
}

/// Runs `check` for `subject` (its source's vars resolved here), starting from `from` (absent
/// on the first check). Returns the versions oldest first, as printed. The script's stderr
/// becomes `log` events on `env.events` under `id`. The containers and volumes it made are
/// destroyed before it returns.
pub async fn run_check(
    env: Arc<RunEnv>,
    id: &PlanId,
    subject: CheckSubject<'_>,
    from: Option<&VersionMap>,
) -> Result<Vec<VersionMap>, CheckError> {
    let result = check_once(&env, id, subject, from).await;
    crate::build::cleanup(&env).await;
    result
}

fn check_error(err: StepError) -> CheckError {
    match err {
        StepError::Errored(message) => CheckError::Errored(message),
        StepError::Interrupted => CheckError::Interrupted,
    }
}

async fn check_once(
    env: &Arc<RunEnv>,
    id: &PlanId,
    subject: CheckSubject<'_>,
    from: Option<&VersionMap>,
) -> Result<Vec<VersionMap>, CheckError> {
    let CheckSubject {
        name,
        image,
        source,
        tags,
    } = subject;
    let exec = Exec {
        env: env.clone(),
        cancel: env.abort.clone(),
        scope: Arc::new(VarScope::default()),
    };
    let mut source = serde_json::Value::Object(source.clone());
    interpolate_json(&mut source, &exec.vars(), Missing::Error)
        .map_err(|err| CheckError::Errored(err.to_string()))?;
    let mut stdin = serde_json::json!({"source": source});
    if let (Some(version), Some(map)) = (from, stdin.as_object_mut()) {
        map.insert("version".to_owned(), serde_json::json!(version));
    }
    let needs = StepNeeds {
        plan_id: id.clone(),
        step_type: "check",
        tags: tags.to_vec(),
        ..StepNeeds::default()
    };
    let (worker, resolved) = place_scripts(&exec, image, needs)
        .await
        .map_err(check_error)?;
    let run = ScriptRun {
        id,
        image,
        name,
        role: crate::worker_client::ContainerRole::Step,
        worker: &worker,
        resolved,
        action: "check",
        dir: None,
        stdin,
        volumes: Vec::new(),
        mounts: Vec::new(),
        expose_created_by: false,
    };
    let output = run_script(&exec, run).await.map_err(check_error)?;
    if output.exit_status != 0 {
        return Err(CheckError::Failed(output.exit_status));
    }
    parse_check_output(&output.stdout)
}

/// What a `check` script printed on stdout, as versions oldest first; Concourse's errors for
/// output that is not a list of non-empty versions. Never panics, whatever the bytes.
pub fn parse_check_output(stdout: &[u8]) -> Result<Vec<VersionMap>, CheckError> {
    let versions: Option<Vec<VersionMap>> = first_json_value(stdout, "/opt/resource/check")
        .map_err(|err| CheckError::Errored(err.to_string()))?;
    let versions = versions.unwrap_or_default();
    if versions.iter().any(VersionMap::is_empty) {
        return Err(CheckError::Errored(
            "resource output version is empty. Version must contain at least one key-value pair"
                .to_owned(),
        ));
    }
    Ok(versions)
}
