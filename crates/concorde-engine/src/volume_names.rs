//! How the engine names the volumes that outlive one build, and which volumes a node keeps
//! when it starts again.
//!
//! A build's own volumes (artifacts, input copies, outputs) are named after the build and are
//! destroyed when it ends. Two kinds are shared across builds: resource caches, whose results
//! the engine remembers in memory only (so a new process cannot trust them), and task caches,
//! which are meant to persist.

use concorde_worker::VolumeHandle;

/// Prefix of a resource cache volume (a fetched version, reused by later gets).
pub(crate) const RESOURCE_CACHE_PREFIX: &str = "cache-";

/// Prefix of a job step's task cache volume.
pub(crate) const TASK_CACHE_PREFIX: &str = "taskcache-";

/// Whether a volume found by a newly started node is still of use: task caches are; build
/// volumes belong to builds that can no longer finish, and resource caches cannot be trusted
/// without the results an earlier process held.
pub fn kept_across_restarts(volume: &VolumeHandle) -> bool {
    volume.0.starts_with(TASK_CACHE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_task_caches_are_kept() {
        let kept = |name: &str| kept_across_restarts(&VolumeHandle(name.to_owned()));
        assert!(kept("taskcache-0123abcd"));
        assert!(!kept("cache-0123abcd"));
        assert!(!kept("12-task_1-output-out"));
        assert!(!kept("0-cache-abcd"));
    }
}
