//! Reading a file out of a build artifact (`<artifact>/<path>`), for task configs, var files,
//! pipeline configs and `load_var`: streamed out of the artifact's volume on its worker as a
//! tar, whichever worker that is.

use std::io::Read;

use concorde_worker::WorkerError;
use tokio::io::AsyncReadExt;

use crate::exec::{Exec, StepError};

/// Largest file a step reads into memory.
const MAX_ARTIFACT_FILE: u64 = 16 * 1024 * 1024;

/// Room for the tar headers around the one file.
const TAR_OVERHEAD: u64 = 64 * 1024;

/// Reads `<artifact>/<path inside it>` from the build's artifacts.
pub(crate) async fn read_artifact_file(exec: &Exec, reference: &str) -> Result<Vec<u8>, StepError> {
    let (artifact, inner) = reference.split_once('/').ok_or_else(|| {
        StepError::Errored(format!(
            "invalid file path '{reference}': expected <artifact>/<path>"
        ))
    })?;
    let found = exec.env.artifact(artifact).ok_or_else(|| {
        StepError::Errored(format!(
            "unknown artifact source: '{artifact}' in file path '{reference}'"
        ))
    })?;
    if std::path::Path::new(inner)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(StepError::Errored(format!(
            "invalid file path '{reference}': '..' is not allowed"
        )));
    }
    let not_found =
        || StepError::Errored(format!("file '{inner}' not found in artifact '{artifact}'"));
    let (reader, writer) = tokio::io::duplex(64 * 1024);
    let path = inner.to_owned();
    let streaming = tokio::spawn(async move {
        found
            .worker
            .stream_out(&found.volume, &path, Box::new(writer))
            .await
    });
    let mut tar = Vec::new();
    let limit = MAX_ARTIFACT_FILE + TAR_OVERHEAD;
    let read = reader.take(limit + 1).read_to_end(&mut tar).await;
    let too_large = || StepError::Errored(format!("file '{reference}' is too large"));
    if tar.len() as u64 > limit {
        streaming.abort();
        return Err(too_large());
    }
    match streaming.await {
        Ok(Ok(())) => {}
        Ok(Err(WorkerError::PathNotFound { .. })) => return Err(not_found()),
        Ok(Err(err)) => {
            return Err(StepError::Errored(format!(
                "could not read '{reference}': {err}"
            )));
        }
        Err(err) => return Err(StepError::Errored(err.to_string())),
    }
    read.map_err(|err| StepError::Errored(format!("could not read '{reference}': {err}")))?;
    let mut archive = tar::Archive::new(tar.as_slice());
    let entries = archive
        .entries()
        .map_err(|err| StepError::Errored(format!("could not read '{reference}': {err}")))?;
    for entry in entries {
        let mut entry = entry
            .map_err(|err| StepError::Errored(format!("could not read '{reference}': {err}")))?;
        if entry.header().entry_type().is_dir() {
            return Err(StepError::Errored(format!(
                "'{reference}' is a directory, not a file"
            )));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if entry.size() > MAX_ARTIFACT_FILE {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|err| StepError::Errored(format!("could not read '{reference}': {err}")))?;
        return Ok(bytes);
    }
    Err(not_found())
}
