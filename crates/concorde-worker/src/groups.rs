//! The process groups a host container runs, recorded on disk so that whoever destroys the
//! container (this process, or the next one after a crash) can kill them all.
//!
//! Each process a host container runs leads its own process group; everything it starts stays
//! in that group unless it deliberately leaves. The group is recorded as
//! `containers/<handle>/groups/<pgid>` holding the boot id and the leader's start time, which
//! tell a recorded group from an unrelated one that reused the number: while any member of
//! group P lives, the kernel hands out P to no new process, so when no process P exists every
//! member of group P is ours, and when one does exist it is ours only if it started when the
//! record says (on this boot).

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

const GROUPS_DIR: &str = "groups";

/// Records that `pgid`, whose leader is the process of the same id, runs in the container
/// whose directory is `container_dir`.
pub(crate) async fn record(container_dir: &Path, pgid: i32) -> std::io::Result<()> {
    let dir = container_dir.join(GROUPS_DIR);
    tokio::fs::create_dir_all(&dir).await?;
    let identity = identity(pgid).unwrap_or_default();
    tokio::fs::write(dir.join(pgid.to_string()), identity).await
}

/// Forgets a group whose leader has been waited for (its number may be reused from now on).
pub(crate) async fn forget(container_dir: &Path, pgid: i32) {
    let _ = tokio::fs::remove_file(container_dir.join(GROUPS_DIR).join(pgid.to_string())).await;
}

/// Kills (SIGKILL) every recorded group of the container that still exists; returns how many
/// were signalled.
pub(crate) async fn kill_recorded(container_dir: &Path) -> usize {
    let dir: PathBuf = container_dir.join(GROUPS_DIR);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return 0;
    };
    let mut killed = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Some(pgid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            .filter(|pgid| *pgid > 1)
        else {
            continue;
        };
        let recorded = tokio::fs::read_to_string(entry.path())
            .await
            .unwrap_or_default();
        let ours = match identity(pgid) {
            // The leader is gone: any member left is ours (see the module docs) if the record
            // is from this boot.
            None => recorded.split(' ').next() == boot_id().as_deref(),
            Some(current) => current == recorded,
        };
        if ours && GroupStopper(Pid::from_raw(pgid)).signal(Signal::SIGKILL) {
            killed += 1;
        }
    }
    killed
}

/// `"<boot id> <start time>"` of a live process, `None` when there is no such process.
fn identity(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 22 (start time) is the 20th after the name (state is field 3).
    let start_time = after_name.split_whitespace().nth(19)?;
    Some(format!("{} {start_time}", boot_id()?))
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
}

/// Signals a host process group: a process and everything it started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupStopper(pub Pid);

impl GroupStopper {
    /// Sends `signal` to the group; whether it reached any process.
    pub(crate) fn signal(self, signal: Signal) -> bool {
        // Group 0 would be the worker's own group, 1 init's: a spawned child is neither.
        self.0.as_raw() > 1 && killpg(self.0, signal).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn a_process_identity_is_stable_and_ours_differs_from_init() {
        let me = i32::try_from(std::process::id()).unwrap();
        let first = identity(me).unwrap();
        assert_eq!(identity(me).unwrap(), first);
        assert_ne!(identity(1), Some(first));
        assert_eq!(identity(i32::MAX), None);
    }

    #[tokio::test]
    async fn a_reused_number_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let groups = dir.path().join(GROUPS_DIR);
        std::fs::create_dir(&groups).unwrap();
        // Our own process group, recorded with a start time it does not have.
        let own = nix::unistd::getpgrp().as_raw();
        std::fs::write(groups.join(own.to_string()), "another-boot 1").unwrap();
        assert_eq!(kill_recorded(dir.path()).await, 0);
    }
}
