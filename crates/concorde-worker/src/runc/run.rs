//! Running one process of a runc container: its bundle, `runc run`, stopping it, and telling a
//! process's own failure from runc's failure to start it.

use std::path::Path;
use std::sync::atomic::Ordering;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use super::spec::{self, ProcessConfig};
use super::{RuncContainer, RuncRuntime, user};
use crate::process::{Finished, Stopper, drive};
use crate::state::{self, DEFAULT_PATH};
use crate::{ContainerHandle, ExitStatus, ProcessIo, ProcessSpec, WorkerError};

impl RuncRuntime {
    pub(super) async fn run_process(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        let dir = self.layout.container_dir(&handle.0)?;
        let container: RuncContainer = state::load(&dir, handle).await?;
        let user_name = process.user.as_deref().or(container.image_user.as_deref());
        let user = user::resolve(&container.rootfs, user_name).map_err(|err| match err {
            WorkerError::ProcessStart { reason, .. } => WorkerError::ProcessStart {
                path: process.path.clone(),
                reason,
            },
            other => other,
        })?;
        let host_mounts = match &container.host_root {
            Some(host_root) => {
                host_root.executable_mounts(&container.rootfs, &container.mounts, &process.path)?
            }
            None => Default::default(),
        };
        let n = self.process_counter.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}.{n}", handle.0);
        let bundle = dir.join("procs").join(n.to_string());
        tokio::fs::create_dir_all(&bundle).await?;
        let config = ProcessConfig {
            args: std::iter::once(process.path.clone())
                .chain(process.args)
                .collect(),
            env: merge_env(container.env.iter().chain(&process.env)),
            // runc wants an absolute directory; a relative one means from the root.
            cwd: format!(
                "/{}",
                process
                    .dir
                    .as_deref()
                    .unwrap_or("/")
                    .trim_start_matches('/')
            ),
            user,
            host_mounts,
        };
        let json = spec::config(
            &container,
            &config,
            &format!("concorde/{id}"),
            self.bounding_set,
        );
        tokio::fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(&json).map_err(std::io::Error::other)?,
        )
        .await?;

        let log = bundle.join("runc.log");
        let child = self
            .runc()
            .arg("--log")
            .arg(&log)
            .args([
                "--log-format",
                "json",
                "run",
                "--no-new-keyring",
                "--bundle",
            ])
            .arg(&bundle)
            .arg(&id)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| {
                WorkerError::Runtime(format!(
                    "could not run {}: {err}",
                    self.options.runc.display()
                ))
            })?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0);
        let stopper = RuncStopper {
            runtime: self,
            id: &id,
            runc_pid: Pid::from_raw(pid),
        };
        let finished = drive(child, io, &cancel, self.options.kill_grace, &stopper).await;

        let failure = match &finished {
            Ok(Finished {
                code,
                cancelled: false,
            }) if *code != 0 => runc_error(&log).await,
            _ => None,
        };
        // A normal `runc run` deletes its container; after a kill or a crash it may not have.
        // The bundle stays (with runc's log) until the container is destroyed.
        if tokio::fs::symlink_metadata(self.state_root.join(&id))
            .await
            .is_ok()
        {
            self.delete_runc_container(&id).await;
        }
        match (finished?, failure) {
            (_, Some(message)) if message.contains("unable to start container process") => {
                Err(WorkerError::ProcessStart {
                    path: process.path,
                    reason: message,
                })
            }
            (_, Some(message)) => Err(WorkerError::Runtime(message)),
            (
                Finished {
                    cancelled: true, ..
                },
                None,
            ) => Ok(ExitStatus::Cancelled),
            (Finished { code, .. }, None) => Ok(ExitStatus::Exited(code)),
        }
    }
}

/// Stops a `runc run`: SIGTERM goes to runc, which forwards it to the process, unless the
/// process would ignore it; SIGKILL goes through `runc kill`, since a killed runc would leave
/// its process running.
struct RuncStopper<'a> {
    runtime: &'a RuncRuntime,
    id: &'a str,
    runc_pid: Pid,
}

impl RuncStopper<'_> {
    /// Whether the container's process has a SIGTERM handler. It is PID 1 of its namespace,
    /// where the kernel drops signals the process does not catch, so without one SIGTERM
    /// does nothing. Unknown counts as caught.
    fn catches_sigterm(&self) -> bool {
        let state = std::fs::read(self.runtime.state_root.join(self.id).join("state.json")).ok();
        let pid = state
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|state| state.get("init_process_pid")?.as_i64());
        let Some(status) =
            pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        else {
            return true;
        };
        status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_none_or(|mask| mask & (1 << (Signal::SIGTERM as u64 - 1)) != 0)
    }
}

impl Stopper for RuncStopper<'_> {
    fn terminate(&self) -> bool {
        if !self.catches_sigterm() {
            return false;
        }
        if self.runc_pid.as_raw() > 0 {
            let _ = kill(self.runc_pid, Signal::SIGTERM);
        }
        true
    }
    async fn kill(&self) {
        if let Err(err) = self.runtime.runc_quiet(&["kill", self.id, "KILL"]).await {
            tracing::warn!(id = self.id, error = %err, "runc kill failed");
        }
    }
}

/// The environment with later entries overriding earlier ones of the same name, in the order
/// names first appear, and a default `PATH` (runc looks the executable up on it).
fn merge_env<'a>(pairs: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut merged: Vec<(String, String)> = Vec::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match merged.iter_mut().find(|(existing, _)| existing == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => merged.push((name.to_owned(), value.to_owned())),
        }
    }
    if !merged.iter().any(|(name, _)| name == "PATH") {
        merged.push(("PATH".to_owned(), DEFAULT_PATH.to_owned()));
    }
    merged
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect()
}

/// The error runc logged, if it failed rather than the process.
async fn runc_error(log: &Path) -> Option<String> {
    let text = tokio::fs::read_to_string(log).await.ok()?;
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|entry| {
            let level = entry.get("level")?.as_str()?;
            if level != "error" && level != "fatal" {
                return None;
            }
            let message = entry.get("msg")?.as_str()?;
            Some(
                message
                    .strip_prefix("runc run failed: ")
                    .unwrap_or(message)
                    .to_owned(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_env_wins_and_path_defaults() {
        let env: Vec<String> = ["A=1", "B=2", "A=3=x", "EMPTY="]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            merge_env(env.iter()),
            vec!["A=3=x", "B=2", "EMPTY=", &format!("PATH={DEFAULT_PATH}")]
        );
        let with_path: Vec<String> = vec!["PATH=/bin".into()];
        assert_eq!(merge_env(with_path.iter()), vec!["PATH=/bin"]);
    }
}
