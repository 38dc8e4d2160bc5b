//! Choosing a backend at startup: runc where it can work, the host backend elsewhere.

use std::path::Path;
use std::sync::Arc;

use crate::{HostRuntime, RuncRuntime, Runtime, WorkerError};

/// Which backend a worker uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// runc when `runc` is on `PATH` and the worker runs as root, else the host backend.
    #[default]
    Auto,
    /// runc, or an error if it cannot work here.
    Runc,
    /// The host backend.
    Host,
}

impl std::str::FromStr for RuntimeChoice {
    type Err = WorkerError;

    /// Parses `auto`, `runc` or `host`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(RuntimeChoice::Auto),
            "runc" => Ok(RuntimeChoice::Runc),
            "host" => Ok(RuntimeChoice::Host),
            other => Err(WorkerError::UnknownBackend(other.to_owned())),
        }
    }
}

/// Opens the chosen backend on `work_dir`, with default options.
pub fn detect(work_dir: &Path, choice: RuntimeChoice) -> Result<Arc<dyn Runtime>, WorkerError> {
    let root = nix::unistd::geteuid().is_root();
    let runc = runc_on_path();
    match choice {
        RuntimeChoice::Host => Ok(Arc::new(HostRuntime::new(work_dir)?)),
        RuntimeChoice::Runc | RuntimeChoice::Auto if root && runc => {
            Ok(Arc::new(RuncRuntime::new(work_dir)?))
        }
        RuntimeChoice::Runc => Err(WorkerError::Runtime(format!(
            "the runc backend needs root (running as root: {root}) and runc on PATH (found: {runc})"
        ))),
        RuntimeChoice::Auto => {
            tracing::info!(root, runc, "runc unusable here; using the host backend");
            Ok(Arc::new(HostRuntime::new(work_dir)?))
        }
    }
}

/// Whether an executable `runc` is on `PATH`.
fn runc_on_path() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join("runc"))
            .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    })
}
