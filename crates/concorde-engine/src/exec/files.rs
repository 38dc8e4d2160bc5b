//! Reading a file out of a build artifact (`<artifact>/<path>`), for task configs, var files,
//! pipeline configs and `load_var`.

use crate::exec::{Exec, StepError};

/// Largest file a step reads into memory.
const MAX_ARTIFACT_FILE: u64 = 16 * 1024 * 1024;

/// Reads `<artifact>/<path inside it>` from the build's artifacts.
pub(crate) async fn read_artifact_file(exec: &Exec, reference: &str) -> Result<Vec<u8>, StepError> {
    let (artifact, inner) = reference.split_once('/').ok_or_else(|| {
        StepError::Errored(format!(
            "invalid file path '{reference}': expected <artifact>/<path>"
        ))
    })?;
    let volume = exec.env.artifact(artifact).ok_or_else(|| {
        StepError::Errored(format!(
            "unknown artifact source: '{artifact}' in file path '{reference}'"
        ))
    })?;
    let info = exec
        .env
        .runtime
        .lookup_volume(&volume)
        .await
        .map_err(|err| StepError::Errored(err.to_string()))?
        .ok_or_else(|| StepError::Errored(format!("volume of artifact '{artifact}' is gone")))?;
    let relative = std::path::Path::new(inner);
    if relative
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(StepError::Errored(format!(
            "invalid file path '{reference}': '..' is not allowed"
        )));
    }
    let path = info.path.join(relative);
    let metadata = tokio::fs::metadata(&path).await.map_err(|_| {
        StepError::Errored(format!("file '{inner}' not found in artifact '{artifact}'"))
    })?;
    if metadata.len() > MAX_ARTIFACT_FILE {
        return Err(StepError::Errored(format!(
            "file '{reference}' is too large ({} bytes)",
            metadata.len()
        )));
    }
    tokio::fs::read(&path)
        .await
        .map_err(|err| StepError::Errored(format!("could not read '{reference}': {err}")))
}
