//! The typed pipeline and task configuration: what a pipeline means once its YAML is decoded.
//!
//! Types mirror Concourse's schema one to one; free-form parts (`source`, `params`, `vars`) stay
//! JSON because only resource types and tasks give them meaning. Items that a validation message
//! can point at carry the [`Location`] of their YAML node.

mod pipeline;
mod step;
mod task;

pub use pipeline::{
    BuildLogRetention, CheckEvery, Display, Group, Job, Pipeline, Resource, ResourceType, VarSource,
};
pub use step::{
    AcrossStep, AcrossValues, AcrossVar, DoStep, GetStep, GetVersion, HookKind, HookStep,
    InParallelStep, LoadVarStep, MaxInFlight, PutInputs, PutStep, RetryStep, RunStep,
    SetPipelineStep, Step, StepBody, TaskStep, TimeoutStep, TryStep,
};
pub use task::{
    ContainerLimits, ImageResource, TaskCache, TaskConfig, TaskInput, TaskOutput, TaskRunConfig,
};

pub use crate::node::Location;

/// A free-form JSON object such as a resource's `source` or a step's `params`.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// A resource version: a flat map of strings, as resource types print them.
pub type VersionMap = std::collections::BTreeMap<String, String>;
