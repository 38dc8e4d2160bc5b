//! What a running build needs from the outside world: its identity, a worker client, the
//! base resource types, credentials, a way to set pipelines, and a place for events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use concorde_config::model::{JsonMap, Pipeline, VersionMap};
use concorde_config::vars::{VarError, VarRef, Variables};
use concorde_worker::{ContainerHandle, ImageSpec, VolumeHandle};
use tokio_util::sync::CancellationToken;

use crate::event::{EventSink, MetadataField};
use crate::plan::PlanId;
use crate::worker_client::WorkerClient;

/// Who a build is: the values behind the `BUILD_*` environment variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildContext {
    /// Numeric build id.
    pub build_id: i64,
    /// Build name (`42`, `42.1`).
    pub build_name: String,
    /// The job, for job builds.
    pub job_name: Option<String>,
    /// The pipeline, for pipeline builds.
    pub pipeline_name: Option<String>,
    /// The pipeline's instance vars.
    pub pipeline_instance_vars: Option<JsonMap>,
    /// The team.
    pub team_name: String,
    /// The web node's external URL.
    pub external_url: String,
    /// Who triggered the build, when known.
    pub created_by: Option<String>,
}

/// How the worker runs a base resource type's scripts.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptCommand {
    /// The image holds `/opt/resource/{check,in,out}` (Concourse's layout).
    ImageScripts,
    /// The scripts are `<dir>/{check,in,out}` on the worker itself (a type directory's
    /// `rootfs/opt/resource` on a runtime without images).
    Directory(PathBuf),
    /// A binary on the worker runs the scripts: `<path> <args_prefix...> <action> [dir]`
    /// (the built-in types: `concorde resource git check`, in the host root under runc).
    Binary {
        /// The executable.
        path: PathBuf,
        /// Arguments before the action.
        args_prefix: Vec<String>,
    },
}

/// A base resource type the worker provides.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseResourceType {
    /// The type's name (`git`, `time`, `registry-image`, ...).
    pub name: String,
    /// The image its containers use.
    pub image: ImageSpec,
    /// How its scripts are invoked.
    pub command: ScriptCommand,
    /// Its containers run privileged.
    pub privileged: bool,
}

impl BaseResourceType {
    /// How a worker advertises the type in its registration's `image` field: `builtin:host-root:`
    /// or `builtin:host:` then this binary's path (the built-in types), `raw://` then a rootfs
    /// holding `/opt/resource` (a type directory, with images), `dir://` then a directory of
    /// `check`/`in`/`out` scripts (a type directory on a worker without images).
    pub fn image_uri(&self) -> String {
        match (&self.image, &self.command) {
            (ImageSpec::HostRoot, ScriptCommand::Binary { path, .. }) => {
                format!("builtin:host-root:{}", path.display())
            }
            (_, ScriptCommand::Binary { path, .. }) => format!("builtin:host:{}", path.display()),
            (ImageSpec::RawPath(rootfs), _) => format!("raw://{}", rootfs.display()),
            (_, ScriptCommand::Directory(dir)) => format!("dir://{}", dir.display()),
            (_, ScriptCommand::ImageScripts) => String::new(),
        }
    }

    /// The type `name` as a worker advertised it (see [`BaseResourceType::image_uri`]); `None`
    /// for an image this version cannot run.
    pub fn from_image_uri(name: &str, uri: &str, privileged: bool) -> Option<BaseResourceType> {
        let builtin = |path: &str| ScriptCommand::Binary {
            path: PathBuf::from(path),
            args_prefix: vec!["resource".to_owned(), name.to_owned()],
        };
        let (image, command) = if let Some(path) = uri.strip_prefix("builtin:host-root:") {
            (ImageSpec::HostRoot, builtin(path))
        } else if let Some(path) = uri.strip_prefix("builtin:host:") {
            (ImageSpec::None, builtin(path))
        } else if let Some(rootfs) = uri.strip_prefix("raw://") {
            (
                ImageSpec::RawPath(rootfs.into()),
                ScriptCommand::ImageScripts,
            )
        } else if let Some(dir) = uri.strip_prefix("dir://") {
            (ImageSpec::None, ScriptCommand::Directory(dir.into()))
        } else {
            return None;
        };
        Some(BaseResourceType {
            name: name.to_owned(),
            image,
            command,
            privileged,
        })
    }
}

/// A pipeline a `set_pipeline` step wants saved.
#[derive(Clone, Debug)]
pub struct SetPipelineRequest {
    /// Target team (`None`: the build's own team).
    pub team: Option<String>,
    /// Pipeline name (`self` already resolved).
    pub name: String,
    /// Instance vars.
    pub instance_vars: JsonMap,
    /// The validated config.
    pub config: Pipeline,
    /// The build that sets it.
    pub build_id: i64,
}

/// What saving a pipeline did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetPipelineOutcome {
    /// Same config as before: nothing saved.
    Unchanged,
    /// Saved (created or updated).
    Saved,
}

/// Saves pipelines for `set_pipeline` steps (the store, in the web node).
#[async_trait::async_trait]
pub trait PipelineSetter: Send + Sync {
    /// Saves the pipeline; the error text is shown in the build log.
    async fn set_pipeline(&self, request: SetPipelineRequest)
    -> Result<SetPipelineOutcome, String>;
}

/// Records what a build fetched and produced, for the scheduler's history.
pub trait BuildRecorder: Send + Sync {
    /// A `get` fetched `version` of `resource`.
    fn input_fetched(&self, resource: &str, version: &VersionMap, metadata: &[MetadataField]);
    /// A `put` produced `version` of `resource`.
    fn output_produced(&self, resource: &str, version: &VersionMap, metadata: &[MetadataField]);
}

/// Where a one-off build's uploaded inputs come from and its requested outputs go
/// (`fly execute -i` / `-o`).
#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The volume holding uploaded artifact `artifact_id`, or why there is none.
    async fn input(&self, artifact_id: i64) -> Result<VolumeHandle, String>;
    /// Keeps `volume`, the build's artifact `name`, past the build's end for download.
    async fn output(&self, name: &str, volume: &VolumeHandle) -> Result<(), String>;
}

/// No credential manager: every non-local var is unknown.
#[derive(Debug, Default)]
pub struct NoCredentials;

impl Variables for NoCredentials {
    fn lookup(&self, _var: &VarRef) -> Result<Option<serde_json::Value>, VarError> {
        Ok(None)
    }
}

/// Everything a build run shares across its steps.
pub struct RunEnv {
    /// The build.
    pub context: BuildContext,
    /// The worker the build runs on, through the client that records what it makes there.
    pub worker: Arc<dyn WorkerClient>,
    /// Base resource types by name.
    pub base_types: HashMap<String, BaseResourceType>,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// Credentials for `((vars))` that are not local.
    pub credentials: Arc<dyn Variables + Send + Sync>,
    /// Saves pipelines for `set_pipeline`.
    pub pipeline_setter: Option<Arc<dyn PipelineSetter>>,
    /// Records inputs and outputs.
    pub recorder: Option<Arc<dyn BuildRecorder>>,
    /// Uploaded inputs and kept outputs of one-off builds.
    pub artifact_store: Option<Arc<dyn ArtifactStore>>,
    /// Cancelled when the build is aborted (or interrupted: see [`RunEnv::interrupt`]).
    pub abort: CancellationToken,
    /// Why the build was interrupted, if it was.
    pub interrupted: Mutex<Option<String>>,
    /// Artifacts of the build by name.
    pub artifacts: Mutex<HashMap<String, VolumeHandle>>,
    /// Versions produced by put steps, by plan id, for their implicit gets.
    pub put_versions: Mutex<HashMap<PlanId, VersionMap>>,
    /// Containers and volumes this build created (destroyed when it ends; caches excepted).
    pub created: Mutex<Created>,
    /// Serialises fetches of one resource cache across concurrent steps.
    pub cache_locks: Arc<crate::resource_cache::CacheLocks>,
    /// Grace period before a forced stop after cancellation (the runtime's concern) and the
    /// cap on a resource script's stdout.
    pub limits: EngineLimits,
}

/// Things a build created on the worker.
#[derive(Debug, Default)]
pub struct Created {
    /// Containers.
    pub containers: Vec<ContainerHandle>,
    /// Volumes (not caches).
    pub volumes: Vec<VolumeHandle>,
}

/// Tunables with safe defaults.
#[derive(Clone, Copy, Debug)]
pub struct EngineLimits {
    /// Largest stdout a resource script may print.
    pub max_script_stdout: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            max_script_stdout: 16 * 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("context", &self.context)
            .field("worker", &self.worker.name())
            .finish_non_exhaustive()
    }
}

impl RunEnv {
    /// The `BUILD_*` variables for resource scripts, only those that are set.
    pub fn build_env(&self, expose_created_by: bool) -> Vec<String> {
        let context = &self.context;
        let mut env = Vec::new();
        let mut push = |name: &str, value: &str| {
            if !value.is_empty() {
                env.push(format!("{name}={value}"));
            }
        };
        if context.build_id != 0 {
            push("BUILD_ID", &context.build_id.to_string());
        }
        push("BUILD_NAME", &context.build_name);
        push("BUILD_JOB_NAME", context.job_name.as_deref().unwrap_or(""));
        push(
            "BUILD_PIPELINE_NAME",
            context.pipeline_name.as_deref().unwrap_or(""),
        );
        if let Some(vars) = &context.pipeline_instance_vars
            && !vars.is_empty()
        {
            push(
                "BUILD_PIPELINE_INSTANCE_VARS",
                &serde_json::Value::Object(vars.clone()).to_string(),
            );
        }
        push("BUILD_TEAM_NAME", &context.team_name);
        push("ATC_EXTERNAL_URL", &context.external_url);
        if expose_created_by {
            push(
                "BUILD_CREATED_BY",
                context.created_by.as_deref().unwrap_or(""),
            );
        }
        env
    }

    /// Stops the build as an abort does, except that it ends `errored` with `reason` as its
    /// error: for builds stopped by the system (the node shutting down), not by a user.
    pub fn interrupt(&self, reason: &str) {
        if let Ok(mut interrupted) = self.interrupted.lock() {
            interrupted.get_or_insert_with(|| reason.to_owned());
        }
        self.abort.cancel();
    }

    /// Remembers a container for cleanup.
    pub fn track_container(&self, handle: &ContainerHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.containers.push(handle.clone());
        }
    }

    /// Remembers a volume for cleanup.
    pub fn track_volume(&self, handle: &VolumeHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.volumes.push(handle.clone());
        }
    }

    /// Keeps a volume the build created past its end (no longer destroyed by its cleanup).
    pub fn keep_volume(&self, handle: &VolumeHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.volumes.retain(|volume| volume != handle);
        }
    }

    /// Registers an artifact.
    pub fn set_artifact(&self, name: &str, volume: VolumeHandle) {
        if let Ok(mut artifacts) = self.artifacts.lock() {
            artifacts.insert(name.to_owned(), volume);
        }
    }

    /// Looks an artifact up.
    pub fn artifact(&self, name: &str) -> Option<VolumeHandle> {
        self.artifacts
            .lock()
            .ok()
            .and_then(|artifacts| artifacts.get(name).cloned())
    }

    /// Every artifact, sorted by name.
    pub fn all_artifacts(&self) -> Vec<(String, VolumeHandle)> {
        let mut all: Vec<(String, VolumeHandle)> = self
            .artifacts
            .lock()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        all.sort();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_images_read_back_as_the_same_type() {
        let types = [
            BaseResourceType {
                name: "git".to_owned(),
                image: ImageSpec::HostRoot,
                command: ScriptCommand::Binary {
                    path: "/usr/local/bin/concorde".into(),
                    args_prefix: vec!["resource".to_owned(), "git".to_owned()],
                },
                privileged: false,
            },
            BaseResourceType {
                name: "time".to_owned(),
                image: ImageSpec::None,
                command: ScriptCommand::Binary {
                    path: "/opt/concorde".into(),
                    args_prefix: vec!["resource".to_owned(), "time".to_owned()],
                },
                privileged: false,
            },
            BaseResourceType {
                name: "s3".to_owned(),
                image: ImageSpec::RawPath("/types/s3/rootfs".into()),
                command: ScriptCommand::ImageScripts,
                privileged: true,
            },
            BaseResourceType {
                name: "pool".to_owned(),
                image: ImageSpec::None,
                command: ScriptCommand::Directory("/types/pool/rootfs/opt/resource".into()),
                privileged: false,
            },
        ];
        for base in types {
            let uri = base.image_uri();
            assert_eq!(
                BaseResourceType::from_image_uri(&base.name, &uri, base.privileged),
                Some(base)
            );
        }
        assert_eq!(
            BaseResourceType::from_image_uri("git", "/usr/local/concourse/rootfs.tgz", false),
            None
        );
    }
}
