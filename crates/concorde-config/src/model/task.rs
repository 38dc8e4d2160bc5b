//! The task config schema: what a `task` step runs, inline or from a file.

use crate::model::{JsonMap, Location, VersionMap};

/// A task config (`config:` or the contents of `file:`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskConfig {
    /// `linux`, `windows` or `darwin`; required.
    pub platform: Option<String>,
    /// An image fetched like a resource.
    pub image_resource: Option<ImageResource>,
    /// A raw image URL.
    pub rootfs_uri: Option<String>,
    /// CPU and memory limits.
    pub container_limits: Option<ContainerLimits>,
    /// Env vars.
    pub params: Option<JsonMap>,
    /// The command.
    pub run: Option<TaskRunConfig>,
    /// Artifacts mounted in.
    pub inputs: Vec<TaskInput>,
    /// Artifacts produced.
    pub outputs: Vec<TaskOutput>,
    /// Directories kept between builds on a worker.
    pub caches: Vec<TaskCache>,
    /// Keys nobody consumed, sorted; reported by the validator for inline configs.
    pub unknown_fields: Vec<String>,
    /// Where the config starts.
    pub location: Location,
}

/// `image_resource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageResource {
    /// The resource type.
    pub kind: String,
    /// Its source.
    pub source: Option<JsonMap>,
    /// `get` params.
    pub params: Option<JsonMap>,
    /// A fixed version (skips the check).
    pub version: Option<VersionMap>,
    /// Worker tags.
    pub tags: Vec<String>,
}

/// `container_limits`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerLimits {
    /// CPU shares.
    pub cpu: Option<u64>,
    /// Memory in bytes.
    pub memory: Option<u64>,
}

/// `run`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRunConfig {
    /// The executable; may be empty when the image has an entrypoint.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory, relative to the task's work dir unless absolute.
    pub dir: Option<String>,
    /// The user to run as.
    pub user: Option<String>,
}

/// `inputs[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskInput {
    /// The artifact name; required.
    pub name: String,
    /// Mount path; defaults to the name.
    pub path: Option<String>,
    /// The task runs without it.
    pub optional: bool,
}

/// `outputs[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOutput {
    /// The artifact name; required.
    pub name: String,
    /// Mount path; defaults to the name.
    pub path: Option<String>,
}

/// `caches[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskCache {
    /// The cached directory.
    pub path: String,
    /// How long an unused cache is kept, as a duration.
    pub ttl: Option<String>,
}
