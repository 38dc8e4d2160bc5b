//! The local worker of a web node (quickstart) or of a standalone worker: a container runtime
//! and the base resource types it offers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use concorde_engine::{BaseResourceType, CacheLocks, ScriptCommand};
use concorde_worker::{ImageSpec, Runtime};

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
    /// Base resource types by name.
    pub base_types: HashMap<String, BaseResourceType>,
    /// Resource cache locks shared by all builds and checks.
    pub cache_locks: Arc<CacheLocks>,
}

impl std::fmt::Debug for LocalWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWorker").field("name", &self.name).field("runtime", &self.runtime.name()).finish()
    }
}

impl LocalWorker {
    /// Sets up the worker's runtime under `work_dir` and its base types: the built-ins (run by
    /// this binary), overridden by any found in `resource_types_dir` (Concourse's layout).
    pub fn start(work_dir: &Path, choice: RuntimeChoice, resource_types_dir: Option<&Path>) -> anyhow::Result<LocalWorker> {
        std::fs::create_dir_all(work_dir).with_context(|| format!("could not create {}", work_dir.display()))?;
        let (runtime, image) = make_runtime(work_dir, choice)?;
        let binary = std::env::current_exe().context("could not find the concorde binary")?;
        let mut base_types = builtin_types(&binary, &image);
        if let Some(dir) = resource_types_dir {
            for base in load_type_dir(dir)? {
                base_types.insert(base.name.clone(), base);
            }
        }
        let name = hostname();
        Ok(LocalWorker { name, runtime, base_types, cache_locks: Arc::default() })
    }
}

/// The runtime, and the image the built-in types run in on it. runc needs a rootfs: the
/// built-ins are trusted code shipped with the worker, so they get the worker's own root
/// filesystem, read-only, where this binary and git are.
fn make_runtime(work_dir: &Path, choice: RuntimeChoice) -> anyhow::Result<(Arc<dyn Runtime>, ImageSpec)> {
    let runc_usable = || nix::unistd::geteuid().is_root() && which("runc").is_some();
    let use_runc = match choice {
        RuntimeChoice::Runc => true,
        RuntimeChoice::Host => false,
        RuntimeChoice::Auto => runc_usable(),
    };
    if use_runc {
        let runtime = concorde_worker::RuncRuntime::new(&work_dir.join("runc")).context("could not start the runc runtime")?;
        Ok((Arc::new(runtime), ImageSpec::HostRoot))
    } else {
        let runtime = concorde_worker::HostRuntime::new(&work_dir.join("host")).context("could not start the host runtime")?;
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
                command: ScriptCommand::Binary { path: binary.to_owned(), args_prefix: vec!["resource".to_owned(), (*name).to_owned()] },
                privileged: false,
            };
            ((*name).to_owned(), base)
        })
        .collect()
}

/// Base types in Concourse's layout: `<dir>/<type>/resource_metadata.json` beside `rootfs/`.
fn load_type_dir(dir: &Path) -> anyhow::Result<Vec<BaseResourceType>> {
    let mut types = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("could not read resource types dir {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let metadata_path = path.join("resource_metadata.json");
        if !metadata_path.is_file() {
            continue;
        }
        let metadata: serde_json::Value = serde_json::from_slice(&std::fs::read(&metadata_path)?)
            .with_context(|| format!("invalid {}", metadata_path.display()))?;
        let name = metadata["type"].as_str().map(str::to_owned).unwrap_or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let rootfs = path.join("rootfs");
        if !rootfs.is_dir() {
            anyhow::bail!("resource type {name} in {} has no rootfs/ directory", path.display());
        }
        types.push(BaseResourceType {
            name,
            image: ImageSpec::RawPath(rootfs),
            command: ScriptCommand::ImageScripts,
            privileged: metadata["privileged"].as_bool().unwrap_or(false),
        });
    }
    Ok(types)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|path| path.is_file())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|name| name.trim().to_owned()).ok().filter(|name| !name.is_empty()).unwrap_or_else(|| "local".to_owned())
}
