//! What a running build needs from the outside world: its identity, a placer that finds each
//! step a worker, credentials, a way to set pipelines, and a place for events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_config::model::{JsonMap, Pipeline, VersionMap};
use concorde_config::vars::{VarError, VarRef, Variables};
use concorde_worker::{ContainerHandle, VolumeHandle};
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::event::{EventSink, MetadataField};
use crate::placer::Placer;
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
    /// The volume holding uploaded artifact `artifact_id` on its worker, or why there is none.
    async fn input(&self, artifact_id: i64) -> Result<Artifact, String>;
    /// Keeps `artifact`, the build's artifact `name`, past the build's end for download.
    async fn output(&self, name: &str, artifact: &Artifact) -> Result<(), String>;
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
    /// Finds each step a worker (reached through a client that records what it makes there).
    pub placer: Arc<dyn Placer>,
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
    pub artifacts: Mutex<HashMap<String, Artifact>>,
    /// Copies of volumes streamed to other workers, by source volume and destination worker:
    /// each is streamed once per build, and steps mount copy-on-write children of it.
    pub streamed: crate::streamed::StreamedCopies,
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

/// Things a build created on its workers, each with the client of the worker it is on.
#[derive(Debug, Default)]
pub struct Created {
    /// Containers.
    pub containers: Vec<(Arc<dyn WorkerClient>, ContainerHandle)>,
    /// Volumes (not caches).
    pub volumes: Vec<(Arc<dyn WorkerClient>, VolumeHandle)>,
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

    /// Remembers a container on `worker` for cleanup.
    pub fn track_container(&self, worker: &Arc<dyn WorkerClient>, handle: &ContainerHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.containers.push((worker.clone(), handle.clone()));
        }
    }

    /// Remembers a volume on `worker` for cleanup.
    pub fn track_volume(&self, worker: &Arc<dyn WorkerClient>, handle: &VolumeHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.volumes.push((worker.clone(), handle.clone()));
        }
    }

    /// Keeps a volume the build created past its end (no longer destroyed by its cleanup).
    pub fn keep_volume(&self, handle: &VolumeHandle) {
        if let Ok(mut created) = self.created.lock() {
            created.volumes.retain(|(_, volume)| volume != handle);
        }
    }

    /// Registers an artifact.
    pub fn set_artifact(&self, name: &str, artifact: Artifact) {
        if let Ok(mut artifacts) = self.artifacts.lock() {
            artifacts.insert(name.to_owned(), artifact);
        }
    }

    /// Looks an artifact up.
    pub fn artifact(&self, name: &str) -> Option<Artifact> {
        self.artifacts
            .lock()
            .ok()
            .and_then(|artifacts| artifacts.get(name).cloned())
    }

    /// The names of every artifact, sorted.
    pub fn artifact_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .artifacts
            .lock()
            .map(|artifacts| artifacts.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}
