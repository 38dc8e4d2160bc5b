//! Ids as they appear on the wire: plain JSON integers. They are the domain's own id types
//! (defined once, in `concorde-core`), so nothing maps them on the way out.

pub use concorde_core::{
    BuildId, JobId, PipelineId, ResourceId, ResourceTypeId, TeamId, VersionId,
};
