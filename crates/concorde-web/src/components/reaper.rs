//! The log reaper: applies each job's `build_log_retention` (or the deprecated
//! `build_logs_to_retain`) by deleting the events of builds the policy does not keep.

use std::time::Duration;

use concorde_store::{LogRetention, Store, Topic};
use tracing::{debug, warn};

use crate::components::{Component, Tick};

/// The log reaper component.
pub struct Reaper {
    store: Store,
}

impl Reaper {
    /// A reaper over `store`.
    pub fn new(store: Store) -> Reaper {
        Reaper { store }
    }
}

/// A job's retention policy, if it has one.
pub fn retention_of(job: &concorde_config::model::Job) -> Option<LogRetention> {
    let to_u32 = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
    if let Some(retention) = &job.build_log_retention {
        return Some(LogRetention {
            builds: to_u32(retention.builds),
            minimum_succeeded: to_u32(retention.minimum_succeeded_builds),
            days: to_u32(retention.days),
        });
    }
    job.build_logs_to_retain.map(|builds| LogRetention {
        builds: to_u32(builds),
        minimum_succeeded: 0,
        days: 0,
    })
}

#[async_trait::async_trait]
impl Component for Reaper {
    fn name(&self) -> &'static str {
        "log-reaper"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn wake_topics(&self) -> Vec<Topic> {
        Vec::new()
    }

    async fn tick(&self) -> anyhow::Result<Tick> {
        // Only jobs whose config sets a retention have logs to reap; the decoded configs say
        // which, without a query per job.
        for pipeline in self.store.list_active_pipelines().await? {
            let model = match self.store.pipeline_model(&pipeline) {
                Ok(model) => model,
                Err(err) => {
                    // One broken pipeline must not stop the others' reaping.
                    warn!(pipeline = %pipeline.name, pipeline_id = %pipeline.id, error = %err, "not reaping logs of a pipeline whose config does not decode");
                    continue;
                }
            };
            if !model.jobs.iter().any(|job| retention_of(job).is_some()) {
                continue;
            }
            for job in self.store.list_jobs(pipeline.id).await? {
                let Some(retention) =
                    crate::pipeline_model::job(&model, &job.name).and_then(retention_of)
                else {
                    continue;
                };
                let reaped = self
                    .store
                    .reap_build_events(job.id, retention, crate::now())
                    .await?;
                if !reaped.is_empty() {
                    debug!(job = %job.name, builds = reaped.len(), "reaped build logs");
                }
            }
        }
        Ok(Tick::Idle)
    }
}
