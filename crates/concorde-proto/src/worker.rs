//! Workers, containers and volumes, as the workers/containers/volumes lists return them.

use serde::{Deserialize, Serialize};

use crate::ids::{BuildId, JobId, PipelineId, ResourceId, ResourceTypeId};
use crate::pipeline::InstanceVars;
use crate::version::Version;

/// A worker: the registration body, the heartbeat response and an element of `GET /api/v1/workers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// The container runtime's address, `host:port`.
    pub addr: String,
    /// The volume server's URL.
    pub baggageclaim_url: String,
    /// Where the worker keeps CA certificates for containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certs_path: Option<String>,
    /// Proxy for HTTP inside containers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http_proxy_url: String,
    /// Proxy for HTTPS inside containers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub https_proxy_url: String,
    /// Hosts that bypass the proxies.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// How many containers it runs.
    #[serde(default)]
    pub active_containers: i64,
    /// How many volumes it holds.
    #[serde(default)]
    pub active_volumes: i64,
    /// How many task steps it runs.
    #[serde(default)]
    pub active_tasks: i64,
    /// The most task steps it accepts at once (0 = no limit).
    #[serde(default)]
    pub max_active_tasks: i64,
    /// The base resource types it provides.
    #[serde(default)]
    pub resource_types: Vec<WorkerResourceType>,
    /// `linux`, `darwin`, `windows`.
    #[serde(default)]
    pub platform: String,
    /// Tags that steps must ask for to run on it.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The owning team's name; empty for a global worker.
    #[serde(default)]
    pub team: String,
    /// Its unique name.
    pub name: String,
    /// The worker protocol version it speaks.
    #[serde(default)]
    pub version: String,
    /// When it registered, unix seconds.
    #[serde(default)]
    pub start_time: i64,
    /// Ephemeral workers are deleted rather than stalled when they stop heartbeating.
    #[serde(default)]
    pub ephemeral: bool,
    /// `running`, `stalled`, `landing`, `landed` or `retiring`.
    #[serde(default)]
    pub state: String,
}

pub use concorde_core::WorkerResourceType;

/// A container, as `GET /api/v1/teams/:team/containers[/:id]` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Its handle.
    pub id: String,
    /// The worker it lives on.
    pub worker_name: String,
    /// `creating`, `created`, `destroying` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `check`, `get`, `put`, `task` or `run`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The step it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_name: Option<String>,
    /// The attempt path, e.g. `1.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<String>,
    /// The pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    /// The job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// The build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<BuildId>,
    /// The resource, for check containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<ResourceId>,
    /// The resource type, for its check containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_id: Option<ResourceTypeId>,
    /// The pipeline's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_name: Option<String>,
    /// The pipeline's instance vars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// The job's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The build's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_name: Option<String>,
    /// The resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The resource type's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type_name: Option<String>,
    /// The user its processes run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Its processes' working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// How long until it may be collected, as a Go duration, e.g. `4m30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
}

/// A volume, as `GET /api/v1/teams/:team/volumes` returns it. Every key is always present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Its handle.
    pub id: String,
    /// The worker it lives on.
    pub worker_name: String,
    /// `container`, `resource`, `resource-type`, `resource-certs`, `task-cache` or `artifact`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The container it is mounted in, for container volumes.
    #[serde(default)]
    pub container_handle: String,
    /// Its mount path.
    #[serde(default)]
    pub path: String,
    /// The volume it is a copy-on-write child of.
    #[serde(default)]
    pub parent_handle: String,
    /// For resource caches: the type chain and version.
    #[serde(default)]
    pub resource_type: Option<VolumeResourceType>,
    /// For base resource type images.
    #[serde(default)]
    pub base_resource_type: Option<BaseResourceType>,
    /// For task caches: the pipeline.
    #[serde(default)]
    pub pipeline_id: i64,
    /// For task caches: the pipeline's name.
    #[serde(default)]
    pub pipeline_name: String,
    /// For task caches: the pipeline's instance vars.
    #[serde(default)]
    pub pipeline_instance_vars: Option<InstanceVars>,
    /// For task caches: the job's name.
    #[serde(default)]
    pub job_name: String,
    /// For task caches: the step's name.
    #[serde(default)]
    pub step_name: String,
}

/// The resource type chain of a resource cache volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeResourceType {
    /// The custom type this one is built on, if any.
    #[serde(default)]
    pub resource_type: Option<Box<VolumeResourceType>>,
    /// The base type at the bottom of the chain.
    #[serde(default)]
    pub base_resource_type: Option<BaseResourceType>,
    /// The cached version.
    #[serde(default)]
    pub version: Version,
}

/// A base resource type name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseResourceType {
    /// e.g. `git`.
    pub name: String,
    /// The type's version.
    pub version: String,
}
