//! Build execution: a job's config compiled into a [`Plan`], and the plan run on workers
//! (each step placed by a [`Placer`], reached through a [`WorkerClient`]) with Concourse's
//! step semantics.
//!
//! [`compile_job_plan`] bakes the scheduler's versions into a plan; [`run_build`] runs it,
//! emitting [`BuildEvent`]s to an [`EventSink`] and returning the build's status. The engine
//! reaches the rest of the system only through traits: the placer and worker client, credentials,
//! the pipeline setter, the input/output recorder.

mod artifact;
mod base_type;
mod build;
mod check;
mod compile;
pub mod env;
pub mod event;
mod exec;
mod handles;
mod io;
pub mod placer;
pub mod plan;
mod public_plan;
mod resource_cache;
mod scope;
mod streamed;
mod worker_client;

pub use artifact::Artifact;
pub use base_type::{BaseResourceType, ScriptCommand};
pub use build::{BuildStatus, run_build};
pub use check::{CheckError, CheckSubject, parse_check_output, run_check};
pub use compile::{
    CompileError, compile_job_plan, effective_source, image_get_plan, resource_type_plans,
    type_image,
};
pub use env::{
    ArtifactStore, BuildContext, BuildRecorder, PipelineSetter, RunEnv, SetPipelineOutcome,
    SetPipelineRequest,
};
pub use event::{BuildEvent, CollectingSink, EventSink, MetadataField, Origin};
pub use exec::StepError;
pub use exec::script::parse_version_result;
pub use placer::{Placement, Placer, StepNeeds, StepWorker};
pub use plan::{Plan, PlanId, PlanStep};
pub use resource_cache::{CacheLocks, cache_key};
pub use worker_client::{
    CacheIdentity, CachedFetch, ContainerPurpose, ContainerRole, ContainerVolume, WorkerClient,
};
