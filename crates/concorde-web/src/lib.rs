//! The web node's components (Concourse's ATC, minus the HTTP API which lives in
//! `concorde-api`; the binary starts both): the background components that check resources,
//! schedule jobs, run builds and reap logs, all coordinating through the store, plus the local
//! worker a quickstart node runs builds on.

pub mod components;
pub mod pipeline_model;
pub mod placement;
mod setter;
pub mod worker;

use std::sync::Arc;

/// The `set_pipeline` step's way into `store`, for the tracker's builds.
pub fn pipeline_setter(store: concorde_store::Store) -> Arc<dyn concorde_engine::PipelineSetter> {
    Arc::new(setter::StorePipelineSetter { store })
}

/// Now, as the store counts time: milliseconds since the Unix epoch.
pub fn now() -> concorde_store::Timestamp {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    concorde_store::Timestamp(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
