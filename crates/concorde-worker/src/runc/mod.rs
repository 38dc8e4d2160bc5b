//! The `runc` backend: every process is a `runc run` of an OCI bundle over the container's
//! overlay rootfs, inside the container's network namespace.
//!
//! A container is prepared once ([`Runtime::create_container`]): its overlay rootfs, its
//! network namespace, its `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`, and its saved
//! state. Each process then gets its own bundle and runc container (`<handle>.<n>`, with the
//! container's limits on its cgroup) whose init is the process itself: no init binary needs to
//! exist in the image, and one runc invocation per process is the cheapest start. The process
//! is PID 1 of its pid namespace, so SIGTERM reaches it only if it handles the signal: a
//! cancelled process that does not is killed at once, one that does gets the grace. Everything is kept on disk,
//! so a restarted worker can still run in and destroy the containers it had. A container of
//! [`ImageSpec::HostRoot`] has the host's root filesystem, read-only, instead of an overlay
//! (see `host_root.rs`).

mod host_root;
mod network;
mod rootfs;
mod run;
mod spec;
mod user;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use network::Ipv4Pool;

use self::host_root::HostRoot;
use self::network::{ContainerNetwork, Networks};
use crate::backend::Backend;
use crate::paths::Layout;
use crate::state;
use crate::volumes::{VolumeStore, list_dirs};
use crate::{
    ContainerHandle, ContainerSpec, DEFAULT_KILL_GRACE, ExitStatus, ImageSpec, ProcessIo,
    ProcessSpec, WorkerError,
};

/// How containers reach the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// Each container has its own namespace, a /30 from the pool, and NATed outbound access.
    Isolated(Ipv4Pool),
    /// Containers share the worker's network namespace.
    Host,
}

/// Settings of a [`RuncRuntime`].
#[derive(Clone, Debug)]
pub struct RuncOptions {
    /// The `runc` executable.
    pub runc: PathBuf,
    /// Wait between SIGTERM and SIGKILL when a run is cancelled.
    pub kill_grace: Duration,
    /// Container networking.
    pub network: NetworkMode,
}

impl Default for RuncOptions {
    fn default() -> Self {
        RuncOptions {
            runc: PathBuf::from("runc"),
            kill_grace: DEFAULT_KILL_GRACE,
            network: NetworkMode::Isolated(Ipv4Pool::default()),
        }
    }
}

/// Runs containers with runc; the worker must run as root.
#[derive(Debug)]
pub struct RuncRuntime {
    layout: Layout,
    volumes: VolumeStore,
    options: RuncOptions,
    networks: Option<Networks>,
    /// runc's state directory (`--root`), private to this worker.
    state_root: PathBuf,
    /// The capabilities the worker has, and so can give.
    bounding_set: u64,
    /// Numbers processes; seeded from the clock so ids stay unique across restarts.
    process_counter: AtomicU64,
}

/// A container's saved state: everything a `run` needs.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct RuncContainer {
    /// The merged rootfs runc uses (or the read-only bind of the host's `/`); user names
    /// resolve against its `/etc/passwd`.
    pub rootfs: PathBuf,
    /// Set for an [`ImageSpec::HostRoot`] container.
    #[serde(default)]
    pub host_root: Option<HostRoot>,
    /// The image's env, then the spec's.
    pub env: Vec<String>,
    /// The image's default user.
    pub image_user: Option<String>,
    pub hostname: String,
    pub privileged: bool,
    pub memory_bytes: Option<u64>,
    pub cpu_shares: Option<u64>,
    /// Volumes, outer paths first.
    pub mounts: Vec<BindMount>,
    /// `/etc/hosts` and friends.
    pub etc_files: Vec<BindMount>,
    /// `None` with [`NetworkMode::Host`].
    pub network: Option<ContainerNetwork>,
}

/// A bind mount of a host path.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

impl RuncRuntime {
    /// Opens (creating if needed) a runc worker in `work_dir` with default options.
    pub fn new(work_dir: &Path) -> Result<Self, WorkerError> {
        Self::with_options(work_dir, RuncOptions::default())
    }

    /// Opens a runc worker with `options`.
    pub fn with_options(work_dir: &Path, options: RuncOptions) -> Result<Self, WorkerError> {
        let layout = Layout::create(work_dir)?;
        let volumes = VolumeStore::open(layout.clone())?;
        let state_root = layout.root.join("runc");
        std::fs::create_dir_all(&state_root)?;
        let networks = match options.network {
            NetworkMode::Isolated(pool) => Some(Networks::new(pool)),
            NetworkMode::Host => None,
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Ok(RuncRuntime {
            layout,
            volumes,
            options,
            networks,
            state_root,
            bounding_set: spec::worker_bounding_set(),
            process_counter: AtomicU64::new(u64::try_from(seed % 1_000_000_000_000).unwrap_or(0)),
        })
    }

    fn runc(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.options.runc);
        command.arg("--root").arg(&self.state_root);
        command
    }

    /// Runs a runc subcommand to completion; failures become [`WorkerError::Runtime`].
    async fn runc_quiet(&self, args: &[&str]) -> Result<(), WorkerError> {
        let output = self
            .runc()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|err| {
                WorkerError::Runtime(format!(
                    "could not run {}: {err}",
                    self.options.runc.display()
                ))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(WorkerError::Runtime(format!(
                "runc {}: {}",
                args.join(" "),
                stderr.trim()
            )));
        }
        Ok(())
    }

    /// Force-deletes one runc container (a process), killing it if it still runs.
    async fn delete_runc_container(&self, id: &str) {
        if let Err(err) = self.runc_quiet(&["delete", "--force", id]).await {
            tracing::warn!(id, error = %err, "could not delete a runc container");
        }
    }

    async fn prepare(&self, dir: &Path, spec: ContainerSpec) -> Result<RuncContainer, WorkerError> {
        let image = match spec.image {
            ImageSpec::HostRoot => None,
            _ => Some(rootfs::locate(&self.volumes, &spec.image).await?),
        };
        let mut mounts = Vec::with_capacity(spec.mounts.len());
        for mount in &spec.mounts {
            if !mount.path.starts_with('/') {
                return Err(WorkerError::InvalidPath(format!(
                    "mount path {} is not absolute",
                    mount.path
                )));
            }
            let source = self.volumes.path(&mount.volume)?;
            mounts.push(BindMount {
                source,
                destination: mount.path.clone(),
                read_only: mount.read_only,
            });
        }
        // runc mounts in order: an outer path must come before the paths inside it.
        mounts.sort_by_key(|mount| mount.destination.matches('/').count());
        let hostname: String = spec.handle.0.chars().take(63).collect();
        let rootfs = dir.join("rootfs");
        let (metadata, host_root) = match image {
            Some(image) => {
                rootfs::build(dir, &image.rootfs).await?;
                (image.metadata, None)
            }
            None => {
                host_root::mount(&rootfs)?;
                let host_root = HostRoot::new(&rootfs, &self.layout.root);
                host_root.check_mounts(&rootfs, &mounts)?;
                let metadata = rootfs::ImageMetadata {
                    env: host_root::env(),
                    user: None,
                };
                (metadata, Some(host_root))
            }
        };
        let network = match &self.networks {
            Some(networks) => Some(
                networks
                    .create(self.process_counter.fetch_add(1, Ordering::Relaxed))
                    .await?,
            ),
            None => None,
        };
        let mut container = RuncContainer {
            rootfs,
            host_root,
            env: metadata.env.into_iter().chain(spec.env).collect(),
            image_user: metadata.user,
            hostname,
            privileged: spec.privileged,
            memory_bytes: spec.limits.memory_bytes,
            cpu_shares: spec.limits.cpu_shares,
            mounts,
            etc_files: Vec::new(),
            network,
        };
        match write_etc_files(dir, &container).await {
            Ok(files) => container.etc_files = files,
            Err(err) => {
                // The network is not in any saved state yet, so teardown would miss it.
                if let Some(network) = &container.network {
                    network::destroy(network).await;
                }
                return Err(err);
            }
        }
        Ok(container)
    }

    /// Removes whatever part of a container exists; used by destroy and by failed creates.
    async fn teardown(&self, handle: &str, dir: &Path) -> Result<(), WorkerError> {
        let prefix = format!("{handle}.");
        for id in list_dirs(&self.state_root).await? {
            if id.starts_with(&prefix) {
                self.delete_runc_container(&id).await;
            }
        }
        rootfs::unmount(dir)?;
        if let Ok(container) =
            state::load::<RuncContainer>(dir, &ContainerHandle(handle.to_owned())).await
            && let Some(network) = &container.network
        {
            network::destroy(network).await;
        }
        self.volumes.trash().discard(dir).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Backend for RuncRuntime {
    fn name(&self) -> &'static str {
        "runc"
    }

    fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    async fn create_container(&self, spec: ContainerSpec) -> Result<(), WorkerError> {
        let dir = state::claim_container_dir(&self.layout, &spec.handle).await?;
        let handle = spec.handle.0.clone();
        let created = match self.prepare(&dir, spec).await {
            Ok(container) => state::save(&dir, &container).await,
            Err(err) => Err(err),
        };
        if let Err(err) = created {
            if let Err(cleanup) = self.teardown(&handle, &dir).await {
                tracing::warn!(container = handle, error = %cleanup, "could not clean up a failed container");
            }
            return Err(err);
        }
        tracing::debug!(container = handle, "container created");
        Ok(())
    }

    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        self.run_process(handle, process, io, cancel).await
    }

    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        let dir = self.layout.container_dir(&handle.0)?;
        if tokio::fs::symlink_metadata(&dir).await.is_err() {
            return Ok(());
        }
        self.teardown(&handle.0, &dir).await
    }

    async fn list_containers(&self) -> Result<Vec<ContainerHandle>, WorkerError> {
        Ok(list_dirs(&self.layout.containers_dir())
            .await?
            .into_iter()
            .map(ContainerHandle)
            .collect())
    }
}

/// Writes `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` for the container.
async fn write_etc_files(
    dir: &Path,
    container: &RuncContainer,
) -> Result<Vec<BindMount>, WorkerError> {
    let etc = dir.join("etc");
    tokio::fs::create_dir(&etc).await?;
    let address = container
        .network
        .as_ref()
        .map_or_else(|| "127.0.1.1".to_owned(), |net| net.address.to_string());
    let files = [
        (
            "hosts",
            format!(
                "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n{address} {}\n",
                container.hostname
            ),
        ),
        ("hostname", format!("{}\n", container.hostname)),
        (
            "resolv.conf",
            resolv_conf(
                &tokio::fs::read_to_string("/etc/resolv.conf")
                    .await
                    .unwrap_or_default(),
                container.network.is_some(),
            ),
        ),
    ];
    let mut mounts = Vec::new();
    for (name, contents) in files {
        let destination = format!("/etc/{name}");
        // A read-only host root can only have files mounted over it that it has.
        if container.host_root.is_some() && !HostRoot::can_cover(&container.rootfs, &destination) {
            continue;
        }
        let source = etc.join(name);
        tokio::fs::write(&source, contents).await?;
        mounts.push(BindMount {
            source,
            destination,
            read_only: true,
        });
    }
    Ok(mounts)
}

/// The host's resolver config, minus loopback name servers when the container has its own
/// network namespace (its loopback has no resolver on it).
fn resolv_conf(host: &str, isolated: bool) -> String {
    let loopback = |line: &str| {
        let mut words = line.split_whitespace();
        words.next() == Some("nameserver")
            && words
                .next()
                .is_some_and(|addr| addr.starts_with("127.") || addr == "::1")
    };
    let kept: Vec<&str> = host
        .lines()
        .filter(|line| !(isolated && loopback(line)))
        .collect();
    if isolated
        && !kept
            .iter()
            .any(|line| line.trim_start().starts_with("nameserver"))
    {
        tracing::warn!(
            "the host has no name server reachable from a container network; DNS will not work"
        );
    }
    kept.iter().map(|line| format!("{line}\n")).collect()
}
