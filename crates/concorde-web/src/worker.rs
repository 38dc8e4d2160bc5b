//! The local worker of a web node (quickstart) or of a standalone worker: a container runtime
//! and the base resource types it offers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use concorde_engine::{BaseResourceType, ScriptCommand};
use concorde_store::{Store, WorkerName};
use concorde_worker::{ImageSpec, Runtime};
pub use concorde_workers::Reclaimed;
use concorde_workers::RecordedWorker;

/// How long a stopped process of the local worker gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: std::time::Duration = concorde_worker::DEFAULT_KILL_GRACE;

/// Built-in resource types shipped inside the binary.
pub const BUILTIN_TYPES: [&str; 4] = ["git", "time", "mock", "registry-image"];

/// Which container runtime to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeChoice {
    /// runc when it is installed and we are root, else host.
    Auto,
    /// OCI containers with runc.
    Runc,
    /// Processes directly on the host.
    Host,
}

/// A worker this node runs builds on.
#[derive(Clone)]
pub struct LocalWorker {
    /// Its name.
    pub name: String,
    /// Its runtime.
    pub runtime: Arc<dyn Runtime>,
    /// The worker reached in-process, through the client that records every container and
    /// volume made on it: the only way builds, checks and the API make anything there.
    pub records: RecordedWorker,
    /// Base resource types by name.
    pub base_types: HashMap<String, BaseResourceType>,
}

impl std::fmt::Debug for LocalWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWorker")
            .field("name", &self.name)
            .field("runtime", &self.runtime.name())
            .finish()
    }
}

/// The version a worker of this binary registers with.
pub const WORKER_VERSION: &str = "2.5";

/// The base types a worker advertises when it registers, sorted by name.
pub fn advertised_types(
    base_types: &HashMap<String, BaseResourceType>,
) -> Vec<concorde_store::WorkerResourceType> {
    let mut types: Vec<concorde_store::WorkerResourceType> = base_types
        .values()
        .map(|base| concorde_store::WorkerResourceType {
            type_name: base.name.clone(),
            image: base.image_uri(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            privileged: base.privileged,
            unique_version_history: base.name == "time",
        })
        .collect();
    types.sort_by(|a, b| a.type_name.cmp(&b.type_name));
    types
}

/// A worker's runtime under `work_dir` and its base types: the built-ins (run by this binary),
/// overridden by any found in `resource_types_dir` (Concourse's layout). What a node's local
/// worker and `concorde worker` both start from.
pub fn prepare_runtime(
    work_dir: &Path,
    choice: RuntimeChoice,
    resource_types_dir: Option<&Path>,
) -> anyhow::Result<(Arc<dyn Runtime>, HashMap<String, BaseResourceType>)> {
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("could not create {}", work_dir.display()))?;
    let (runtime, image) = make_runtime(work_dir, choice)?;
    let binary = std::env::current_exe().context("could not find the concorde binary")?;
    let mut base_types = builtin_types(&binary, &image);
    if let Some(dir) = resource_types_dir {
        // The host runtime has no images: a type directory's scripts run in place there.
        let runtime_has_images = image != ImageSpec::None;
        for base in load_type_dir(dir, work_dir, runtime_has_images)? {
            base_types.insert(base.name.clone(), base);
        }
    }
    Ok((runtime, base_types))
}

impl LocalWorker {
    /// Sets up the node's own worker (see [`prepare_runtime`]), recorded in `store`.
    pub fn start(
        store: &Store,
        work_dir: &Path,
        choice: RuntimeChoice,
        resource_types_dir: Option<&Path>,
    ) -> anyhow::Result<LocalWorker> {
        let (runtime, base_types) = prepare_runtime(work_dir, choice, resource_types_dir)?;
        let name = hostname();
        let records = RecordedWorker::new(store.clone(), WorkerName::new(&name), runtime.clone());
        Ok(LocalWorker {
            name,
            records,
            runtime,
            base_types,
        })
    }
}

impl LocalWorker {
    /// Destroys what no build can use any more: every container and every volume but the
    /// caches on record (see [`RecordedWorker::reclaim_leftovers`]). The local worker runs
    /// only this node's builds and checks, and none outlives the node's process, so this is
    /// safe when the node starts (after a crash, whatever the last process left) and once its
    /// builds have stopped at shutdown.
    pub async fn reclaim_leftovers(&self) -> anyhow::Result<Reclaimed> {
        Ok(self.records.reclaim_leftovers().await?)
    }
}

/// The runtime, and the image the built-in types run in on it. runc needs a rootfs: the
/// built-ins are trusted code shipped with the worker, so they get the worker's own root
/// filesystem, read-only, where this binary and git are.
fn make_runtime(
    work_dir: &Path,
    choice: RuntimeChoice,
) -> anyhow::Result<(Arc<dyn Runtime>, ImageSpec)> {
    let runc_usable = || nix::unistd::geteuid().is_root() && which("runc").is_some();
    let use_runc = match choice {
        RuntimeChoice::Runc => true,
        RuntimeChoice::Host => false,
        RuntimeChoice::Auto => runc_usable(),
    };
    if use_runc {
        let runtime = concorde_worker::RuncRuntime::new(&work_dir.join("runc"))
            .context("could not start the runc runtime")?;
        Ok((Arc::new(runtime), ImageSpec::HostRoot))
    } else {
        let runtime = concorde_worker::HostRuntime::new(&work_dir.join("host"))
            .context("could not start the host runtime")?;
        Ok((Arc::new(runtime), ImageSpec::None))
    }
}

/// The built-in types: this binary runs them as `concorde resource <type> <action>`, in
/// containers of `image`.
fn builtin_types(binary: &Path, image: &ImageSpec) -> HashMap<String, BaseResourceType> {
    BUILTIN_TYPES
        .iter()
        .map(|name| {
            let base = BaseResourceType {
                name: (*name).to_owned(),
                image: image.clone(),
                command: ScriptCommand::Binary {
                    path: binary.to_owned(),
                    args_prefix: vec!["resource".to_owned(), (*name).to_owned()],
                },
                privileged: false,
            };
            ((*name).to_owned(), base)
        })
        .collect()
}

/// Base types in Concourse's layout (`<dir>/<type>/resource_metadata.json` beside `rootfs/` or
/// `rootfs.tgz`, unpacked once under `work_dir`). A runtime with images runs their
/// `/opt/resource` scripts in their rootfs; the host runtime runs the scripts in place.
fn load_type_dir(
    dir: &Path,
    work_dir: &Path,
    has_images: bool,
) -> anyhow::Result<Vec<BaseResourceType>> {
    let found = concorde_resource::type_dir::ResourceTypeDir::new(dir)
        .load()
        .with_context(|| format!("could not load resource types from {}", dir.display()))?;
    let mut types = Vec::with_capacity(found.len());
    for base in found {
        let name = base.metadata.type_name.clone();
        let rootfs = match base.rootfs {
            concorde_resource::type_dir::TypeRootfs::Dir(rootfs) => rootfs,
            concorde_resource::type_dir::TypeRootfs::Tarball(tgz) => {
                let unpacked = work_dir.join("resource-types").join(&name).join("rootfs");
                if !unpacked.is_dir() {
                    concorde_resource::type_dir::unpack_rootfs_tgz(&tgz, &unpacked)
                        .with_context(|| format!("could not unpack {}", tgz.display()))?;
                }
                unpacked
            }
        };
        let (image, command) = if has_images {
            (ImageSpec::RawPath(rootfs), ScriptCommand::ImageScripts)
        } else {
            (
                ImageSpec::None,
                ScriptCommand::Directory(rootfs.join("opt/resource")),
            )
        };
        types.push(BaseResourceType {
            name,
            image,
            command,
            privileged: base.metadata.privileged,
        });
    }
    Ok(types)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

/// This machine's host name, the default name of its worker.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "local".to_owned())
}
