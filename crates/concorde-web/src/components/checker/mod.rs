//! The checker: every check is a build. A tick starts the check builds someone asked for
//! (`check-resource`, a webhook, `check-resource-type`: rows in the store, so a restart loses
//! none), errors the started ones whose node went away, and starts a check build for each
//! resource that jobs get and that is due by its `check_every`.

mod due;
mod run;
mod sink;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concorde_store::{
    BuildId, BuildStatus, CheckBuild, CheckOutcome, CheckTarget, LockKey, PipelineId, Store, Topic,
};
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use due::{DEFAULT_CHECK_INTERVAL, DEFAULT_CHECK_TIMEOUT};

use crate::components::abort_watch::{NODE_STOPPED, node_stopped_event};
use crate::components::{Component, Tick};
use crate::pipeline_model::input_resource_names;
use crate::placement::NodeWorkers;
use run::{CheckRunner, CheckWork};

/// How many checks run at once on this node.
const CONCURRENT_CHECKS: usize = 8;

/// The checker component. A tick only picks the checks to run and starts each as its own task
/// (at most [`CONCURRENT_CHECKS`] run at once, each under its own timeout), so a check that
/// hangs delays no other check and no later tick. The tasks belong to the node's task
/// tracker, which shutdown waits on.
pub struct Checker {
    store: Store,
    runner: Arc<CheckRunner>,
    /// Resources and types whose check runs (or waits for a slot) on this node.
    in_flight: Arc<Mutex<HashSet<CheckTarget>>>,
    slots: Arc<tokio::sync::Semaphore>,
    tasks: TaskTracker,
}

impl Checker {
    /// A checker running checks on `workers`, as tasks of `tasks`; `shutdown` interrupts them.
    pub fn new(
        store: Store,
        workers: NodeWorkers,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Checker {
        Checker {
            store: store.clone(),
            runner: Arc::new(CheckRunner {
                store,
                workers,
                stop: shutdown,
                running: Arc::default(),
            }),
            in_flight: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CHECKS)),
            tasks,
        }
    }

    /// Starts a task checking `work`'s target, then the target's later requested builds,
    /// unless its target is already being checked here (that task takes them).
    fn spawn(&self, work: CheckWork) {
        let target = work.target();
        let fresh = self
            .in_flight
            .lock()
            .is_ok_and(|mut in_flight| in_flight.insert(target));
        if !fresh {
            return;
        }
        let (runner, slots, in_flight) = (
            self.runner.clone(),
            self.slots.clone(),
            self.in_flight.clone(),
        );
        self.tasks.spawn(async move {
            let mut next = Some(work);
            while let Some(work) = next.take() {
                let slot = tokio::select! {
                    slot = slots.acquire() => slot.ok(),
                    () = runner.stop.cancelled() => None,
                };
                let Some(_slot) = slot else { break };
                match runner.run(work).await {
                    Ok(true) => match next_requested(&runner.store, target).await {
                        Ok(found) => next = found.map(CheckWork::Requested),
                        Err(err) => warn!(?target, error = %err, "could not look for more checks"),
                    },
                    Ok(false) => {}
                    Err(err) => {
                        warn!(?target, error = %format!("{err:#}"), "check failed to run");
                    }
                }
            }
            if let Ok(mut in_flight) = in_flight.lock() {
                in_flight.remove(&target);
            }
        });
    }

    /// A started check build that no node holds the tracking lock for was run by a node
    /// that is gone: it errors, and its target shows why.
    async fn fail_if_orphaned(&self, check: &CheckBuild) -> anyhow::Result<()> {
        let id = check.build.id;
        if self.runs(id) {
            return Ok(());
        }
        let Some(lock) = self.store.try_lock(LockKey::BuildTracking(id)).await? else {
            return Ok(());
        };
        let current = self.store.build(id).await?;
        if current.status == BuildStatus::Started && !self.runs(id) {
            info!(build = %id, "failing a check build whose node went away");
            self.store
                .append_build_events(id, &[node_stopped_event()])
                .await?;
            let now = crate::now();
            let outcome = CheckOutcome {
                ended: now,
                error: Some(NODE_STOPPED.to_owned()),
            };
            self.store.finish_check(check.target, &outcome).await?;
            self.store
                .finish_build(id, BuildStatus::Errored, now)
                .await?;
        }
        lock.release().await?;
        Ok(())
    }

    fn runs(&self, build: BuildId) -> bool {
        self.runner
            .running
            .lock()
            .is_ok_and(|running| running.contains(&build))
    }
}

/// The oldest pending check build of `target`.
async fn next_requested(store: &Store, target: CheckTarget) -> anyhow::Result<Option<CheckBuild>> {
    Ok(store
        .unfinished_check_builds()
        .await?
        .into_iter()
        .find(|check| check.target == target && check.build.status == BuildStatus::Pending))
}

#[async_trait::async_trait]
impl Component for Checker {
    fn name(&self) -> &'static str {
        "checker"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn wake_topics(&self) -> Vec<Topic> {
        vec![Topic::CheckRequested]
    }

    async fn tick(&self) -> anyhow::Result<Tick> {
        let unfinished = self.store.unfinished_check_builds().await?;
        // A target with a check build under way or asked for is not due: that build checks it.
        let mut claimed: HashSet<CheckTarget> = HashSet::new();
        let mut requested = Vec::new();
        for check in unfinished {
            claimed.insert(check.target);
            match check.build.status {
                BuildStatus::Started => {
                    if let Err(err) = self.fail_if_orphaned(&check).await {
                        warn!(build = %check.build.id, error = %format!("{err:#}"), "could not fail an orphaned check build");
                    }
                }
                _ if requested
                    .iter()
                    .any(|earlier: &CheckBuild| earlier.target == check.target) => {}
                _ => requested.push(check),
            }
        }
        for check in requested {
            self.spawn(CheckWork::Requested(check));
        }
        for resource in self.due_resources(&claimed).await? {
            self.spawn(CheckWork::Due(resource));
        }
        Ok(Tick::Idle)
    }
}

impl Checker {
    /// Resources of unpaused pipelines that some job gets and whose `check_every` has passed,
    /// leaving out those already claimed by a check build.
    async fn due_resources(
        &self,
        claimed: &HashSet<CheckTarget>,
    ) -> anyhow::Result<Vec<concorde_store::Resource>> {
        let now = crate::now();
        let pipelines: HashMap<PipelineId, concorde_store::Pipeline> = self
            .store
            .list_active_pipelines()
            .await?
            .into_iter()
            .map(|pipeline| (pipeline.id, pipeline))
            .collect();
        let mut models = HashMap::new();
        let mut due = Vec::new();
        for resource in self.store.resources_of_active_pipelines().await? {
            let Some(pipeline) = pipelines.get(&resource.pipeline_id) else {
                continue; // Archived between the two queries.
            };
            if pipeline.paused
                || claimed.contains(&CheckTarget::Resource(resource.id))
                || !due::is_due(&resource, now)
            {
                continue;
            }
            let model = models.entry(pipeline.id).or_insert_with(|| {
                self.store
                    .pipeline_model(pipeline)
                    .inspect_err(|err| {
                        warn!(pipeline = %pipeline.name, pipeline_id = %pipeline.id, error = %format!("{err:#}"), "not checking the resources of a pipeline whose config does not decode");
                    })
                    .ok()
            });
            if model
                .as_ref()
                .is_some_and(|model| input_resource_names(model).contains(resource.name.as_str()))
            {
                due.push(resource);
            }
        }
        Ok(due)
    }
}
