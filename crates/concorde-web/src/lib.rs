//! The web node (Concourse's ATC, minus the HTTP API which lives in `concorde-api`): the
//! background components that check resources, schedule jobs, run builds and reap logs, all
//! coordinating through the store, plus the local worker a quickstart node runs builds on.

pub mod components;
pub mod node;
pub mod pipeline_model;
mod setter;
pub mod worker;

/// Now, as the store counts time: milliseconds since the Unix epoch.
pub fn now() -> concorde_store::Timestamp {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    concorde_store::Timestamp(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
