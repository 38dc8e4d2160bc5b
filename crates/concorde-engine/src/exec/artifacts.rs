//! `artifact_input` and `artifact_output`: a one-off build's uploaded files become an
//! artifact, and an artifact it made is kept past its end for download (`fly execute`).

use crate::exec::{Exec, StepError, StepResult};
use crate::plan::{ArtifactInputPlan, ArtifactOutputPlan};

/// Names the uploaded artifact's volume as the build's artifact `input.name`.
pub(crate) async fn run_artifact_input(exec: &Exec, input: &ArtifactInputPlan) -> StepResult {
    let store = artifact_store(exec)?;
    let artifact = store
        .input(input.artifact_id)
        .await
        .map_err(StepError::Errored)?;
    exec.env.set_artifact(&input.name, artifact);
    Ok(true)
}

/// Keeps the build's artifact `output.name` for download; errors when no step made it.
pub(crate) async fn run_artifact_output(exec: &Exec, output: &ArtifactOutputPlan) -> StepResult {
    let store = artifact_store(exec)?;
    let artifact = exec.env.artifact(&output.name).ok_or_else(|| {
        StepError::Errored(format!("no artifact named '{}' to keep", output.name))
    })?;
    store
        .output(&output.name, &artifact)
        .await
        .map_err(StepError::Errored)?;
    exec.env.keep_volume(&artifact.volume);
    Ok(true)
}

fn artifact_store(exec: &Exec) -> Result<&std::sync::Arc<dyn crate::ArtifactStore>, StepError> {
    exec.env
        .artifact_store
        .as_ref()
        .ok_or_else(|| StepError::Errored("artifacts are only for one-off builds".to_owned()))
}
