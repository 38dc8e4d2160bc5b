//! Input resolution: which versions a job's next build gets, exactly as Concourse decides.
//!
//! The crate is pure: it reads a pipeline's history only through the `VersionsView` trait,
//! one narrow indexed query at a time, so one resolution never loads the whole history. The
//! store crate implements the trait over SQL; `MemoryView` implements it in memory for tests,
//! benchmarks and `concorde debug resolve-inputs`.
//!
//! Start at `resolve_inputs`. The algorithm is specified by the shared conformance material
//! (`conformance/algorithm/SEMANTICS.md`); section numbers in comments refer to it.

mod explain;
pub mod fixture;
mod group;
mod ids;
mod input;
mod listing;
mod memory;
mod resolve;
mod view;

pub use explain::{ExplainEvent, Explainer, NoExplainer, RecordingExplainer};
pub use ids::{
    BuildId, BuildPosition, BuildRef, CheckOrder, InputName, JobId, OutputEntry, PinnedVersion,
    ResourceId, ScopeId, Version, VersionDigest, VersionFields,
};
pub use input::{InputConfig, InputError, Resolution, ResolvedInput};
pub use memory::{MemoryView, MemoryViewBuilder, MemoryViewError};
pub use resolve::{resolve_inputs, resolve_inputs_explained};
pub use view::{BuildListing, ConsumedVersion, OutputConstraints, UpstreamBuild, VersionsView};
