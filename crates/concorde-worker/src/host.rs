//! The `host` backend: processes run directly on the worker, each container being a directory.
//!
//! Like Concourse's workers on platforms without containers, there is no isolation: the image
//! is ignored (with a warning, unless it is `None` or `HostRoot`, which mean the host), limits and `privileged` have no effect, and read-only mounts are
//! writable. A container is `containers/<handle>/root/`, in which every mount path is a symlink
//! to its volume (`root/tmp/build/abcd/input -> volumes/<handle>`). A process runs with its
//! working directory, and its executable and arguments when they are absolute paths that
//! exist in that root, translated into the root, with `CONCORDE_ROOT` (and `HOME`) naming it.
//! **Limits:** any other absolute path (inside scripts, or not yet existing) resolves against
//! the real host root; a mount nested inside another mount's path
//! becomes a symlink inside the outer volume; the user is honoured only when the worker runs as
//! root and the user exists on the host, and then keeps root's supplementary groups.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::groups::{self, GroupStopper};
use crate::paths::{Layout, relative_path};
use crate::process::{Finished, Stopper, drive};
use crate::state::{self, HostContainer};
use crate::volumes::{VolumeStore, list_dirs, remove_tree};
use crate::{
    ContainerHandle, ContainerSpec, ExitStatus, ImageSpec, ProcessIo, ProcessSpec, WorkerError,
};

/// The environment variable naming a host container's root directory.
pub const ROOT_ENV: &str = "CONCORDE_ROOT";

/// The default wait between SIGTERM and SIGKILL when a run is cancelled.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);

/// Runs processes directly on the host; see the module docs for what that cannot isolate.
#[derive(Debug)]
pub struct HostRuntime {
    layout: Layout,
    volumes: VolumeStore,
    kill_grace: Duration,
}

impl HostRuntime {
    /// Opens (creating if needed) a host worker in `work_dir`.
    pub fn new(work_dir: &Path) -> Result<Self, WorkerError> {
        let layout = Layout::create(work_dir)?;
        let volumes = VolumeStore::open(layout.clone())?;
        Ok(HostRuntime {
            layout,
            volumes,
            kill_grace: DEFAULT_KILL_GRACE,
        })
    }

    /// Sets the wait between SIGTERM and SIGKILL when a run is cancelled.
    #[must_use]
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }
}

#[async_trait::async_trait]
impl Backend for HostRuntime {
    fn name(&self) -> &'static str {
        "host"
    }

    fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError> {
        let dir = state::claim_container_dir(&self.layout, &spec.handle).await?;
        if !matches!(spec.image, ImageSpec::None | ImageSpec::HostRoot) {
            tracing::warn!(container = %spec.handle.0, image = ?spec.image, "the host backend ignores images");
        }
        let created = link_mounts(&self.volumes, &dir.join("root"), &spec).await;
        let saved = match created {
            Ok(()) => state::save(&dir, &HostContainer { env: spec.env }).await,
            Err(err) => Err(err),
        };
        if let Err(err) = saved {
            remove_tree(dir).await;
            return Err(err);
        }
        Ok(())
    }

    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        let dir = self.layout.container_dir(&handle.0)?;
        let container: HostContainer = state::load(&dir, handle).await?;
        let root = dir.join("root");
        let cwd = root.join(relative_path(process.dir.as_deref().unwrap_or("/"))?);
        tokio::fs::create_dir_all(&cwd).await?;
        let mut command = tokio::process::Command::new(container_arg(&root, &process.path));
        command
            .args(process.args.iter().map(|arg| container_arg(&root, arg)))
            .current_dir(&cwd)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| state::DEFAULT_PATH.into()),
            )
            .env("HOME", &root)
            .envs(
                container
                    .env
                    .iter()
                    .chain(&process.env)
                    .filter_map(|pair| pair.split_once('=')),
            )
            .env(ROOT_ENV, &root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(user) = &process.user {
            set_user(&mut command, user);
        }
        let child = command.spawn().map_err(|err| WorkerError::ProcessStart {
            path: process.path.clone(),
            reason: match err.kind() {
                std::io::ErrorKind::NotFound => "executable file not found".to_owned(),
                _ => err.to_string(),
            },
        })?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0);
        let stopper = GroupStopper(Pid::from_raw(pgid));
        // Killed if this run is dropped midway (a timeout around it, a shutdown), when no
        // stop or reap of `drive` would run.
        let mut guard = KillOnDrop(Some(stopper));
        if let Err(err) = groups::record(&dir, pgid).await {
            // Unrecorded, the group could outlive a crash of the worker: refuse to run it.
            return Err(err.into());
        }
        let finished = drive(child, io, &cancel, self.kill_grace, &stopper).await;
        // The leader has been waited for: its number may be reused from now on.
        guard.0 = None;
        groups::forget(&dir, pgid).await;
        match finished? {
            Finished {
                cancelled: true, ..
            } => Ok(ExitStatus::Cancelled),
            Finished { code, .. } => Ok(ExitStatus::Exited(code)),
        }
    }

    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        let dir = self.layout.container_dir(&handle.0)?;
        // Recorded on disk, the groups of an earlier worker process are found too.
        groups::kill_recorded(&dir).await;
        // Deleting removes the mount symlinks themselves, never what they point to.
        self.volumes.trash().discard(&dir).await?;
        Ok(())
    }

    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError> {
        Ok(list_dirs(&self.layout.containers_dir())
            .await?
            .into_iter()
            .map(ContainerHandle)
            .collect())
    }
}

/// Creates `root/<mount path>` symlinks to the volumes, outer paths first.
async fn link_mounts(
    volumes: &VolumeStore,
    root: &Path,
    spec: &ContainerSpec,
) -> Result<(), WorkerError> {
    tokio::fs::create_dir(root).await?;
    let mut mounts: Vec<_> = spec.mounts.iter().collect();
    mounts.sort_by_key(|mount| mount.path.matches('/').count());
    for mount in mounts {
        let target = volumes.path(&mount.volume)?;
        let link = root.join(relative_path(&mount.path)?);
        if link == root {
            return Err(WorkerError::InvalidPath(format!(
                "cannot mount a volume at {}",
                mount.path
            )));
        }
        if let Some(parent) = link.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::symlink(&target, &link)
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    WorkerError::InvalidPath(format!("two mounts at {}", mount.path))
                }
                _ => err.into(),
            })?;
    }
    Ok(())
}

/// An absolute path naming something that exists in the container's root (a mount, or a
/// directory above mounts such as `/tmp/build/put`) is translated into the root, so a script
/// at `/tmp/build/x/input/run.sh` runs and resource scripts given `/tmp/build/get` write into
/// their volume, not the host's `/tmp`. Anything else (`sh`, `/bin/sh`, `input/run.sh`,
/// `--flag`) passes through unchanged. Used for the executable and every argument.
fn container_arg(root: &Path, arg: &str) -> std::ffi::OsString {
    if let Some(relative) = arg.strip_prefix('/')
        && !relative.is_empty()
        && !relative.split('/').any(|segment| segment == "..")
    {
        let inside = root.join(relative);
        if std::fs::symlink_metadata(&inside).is_ok() {
            return inside.into_os_string();
        }
    }
    arg.into()
}

/// Runs as `user` (a name or a numeric uid) when the worker is root and the user exists.
fn set_user(command: &mut tokio::process::Command, user: &str) {
    if !nix::unistd::geteuid().is_root() {
        tracing::warn!(
            user,
            "the host backend runs processes as the worker's user when it is not root"
        );
        return;
    }
    let found = match user.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(uid.into()),
        Err(_) => nix::unistd::User::from_name(user),
    };
    match found {
        Ok(Some(found)) => {
            command.uid(found.uid.as_raw()).gid(found.gid.as_raw());
        }
        _ => tracing::warn!(user, "user not found on the host; running as root"),
    }
}

/// Stops a host process and everything it started: they share its process group.
impl Stopper for GroupStopper {
    fn terminate(&self) -> bool {
        self.signal(Signal::SIGTERM);
        true
    }
    async fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }
    fn reap(&self) {
        // Like a container's pid namespace, the group does not outlive its first process:
        // leftovers would hold the output pipes open.
        self.signal(Signal::SIGKILL);
    }
}

/// Kills a process group when dropped, unless emptied first.
struct KillOnDrop(Option<GroupStopper>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            group.signal(Signal::SIGKILL);
        }
    }
}
