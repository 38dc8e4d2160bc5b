//! The checker: finds resources that jobs get and that are due (by `check_every`, or asked for
//! by a webhook or `check-resource`), runs their `check`, and saves the versions in order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use concorde_config::model::{CheckEvery, Pipeline, VersionMap};
use concorde_engine::{BuildContext, PlanId, RunEnv, run_check};
use concorde_store::{
    CheckOutcome, LockKey, NewVersion, PipelineId, Resource, ResourceId, ScopeId, Store, Topic,
};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::components::scope::{ResourceScope, ensure_scope};
use crate::components::{Component, Tick};
use crate::pipeline_model::input_resource_names;
use crate::worker::LocalWorker;

/// The default `check_every`.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// How many checks run at once on this node.
const CONCURRENT_CHECKS: usize = 8;

/// The checker component. A tick only picks the resources to check and starts each check as
/// its own task (at most [`CONCURRENT_CHECKS`] run at once, each under its own timeout), so a
/// check that hangs delays no other check and no later tick. The tasks belong to the node's
/// task tracker, which shutdown waits on.
pub struct Checker {
    store: Store,
    runner: Arc<CheckRunner>,
    /// Resources a webhook or `check-resource` asked for, filled by a listener task.
    requested: Arc<Mutex<HashSet<ResourceId>>>,
    /// Resources whose check runs (or waits for a slot) on this node.
    in_flight: Arc<Mutex<HashSet<ResourceId>>>,
    slots: Arc<tokio::sync::Semaphore>,
    tasks: TaskTracker,
}

/// What one check needs: the store, the worker it runs on, and the node's shutdown, which
/// interrupts it.
struct CheckRunner {
    store: Store,
    worker: LocalWorker,
    stop: tokio_util::sync::CancellationToken,
}

impl Checker {
    /// A checker; it starts a task that collects check requests until `shutdown`, and runs
    /// checks on `tasks`.
    pub async fn new(
        store: Store,
        worker: LocalWorker,
        shutdown: tokio_util::sync::CancellationToken,
        tasks: TaskTracker,
    ) -> anyhow::Result<Checker> {
        let requested: Arc<Mutex<HashSet<ResourceId>>> = Arc::default();
        let mut listener = store
            .listen(&[Topic::CheckRequested])
            .await
            .context("could not listen for check requests")?;
        let collected = requested.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    received = listener.recv() => match received {
                        Ok(Some(notification)) => {
                            if let (Ok(id), Ok(mut set)) = (notification.payload.parse::<i64>(), collected.lock()) {
                                set.insert(ResourceId(id));
                            }
                        }
                        Ok(None) => warn!("check requests may have been missed; they run at their next interval"),
                        Err(_) => break,
                    },
                }
            }
        });
        Ok(Checker {
            store: store.clone(),
            runner: Arc::new(CheckRunner {
                store,
                worker,
                stop,
            }),
            requested,
            in_flight: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CHECKS)),
            tasks,
        })
    }

    fn take_requested(&self) -> HashSet<ResourceId> {
        self.requested
            .lock()
            .map(|mut set| std::mem::take(&mut *set))
            .unwrap_or_default()
    }
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
        let requested = self.take_requested();
        let now = crate::now();
        let mut due = Vec::new();
        let pipelines: HashMap<PipelineId, concorde_store::Pipeline> = self
            .store
            .list_active_pipelines()
            .await?
            .into_iter()
            .map(|pipeline| (pipeline.id, pipeline))
            .collect();
        let mut models = HashMap::new();
        for resource in self.store.resources_of_active_pipelines().await? {
            let Some(pipeline) = pipelines.get(&resource.pipeline_id) else {
                continue; // Archived between the two queries.
            };
            let asked = requested.contains(&resource.id);
            if !asked && (pipeline.paused || !is_due(&resource, now)) {
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
            let Some(model) = model else {
                continue;
            };
            if asked || input_resource_names(model).contains(resource.name.as_str()) {
                due.push((model.clone(), resource));
            }
        }
        for (model, resource) in due {
            let fresh = self
                .in_flight
                .lock()
                .is_ok_and(|mut in_flight| in_flight.insert(resource.id));
            if !fresh {
                continue; // Already running or waiting here; its result will show.
            }
            let (runner, slots, in_flight) = (
                self.runner.clone(),
                self.slots.clone(),
                self.in_flight.clone(),
            );
            self.tasks.spawn(async move {
                let slot = tokio::select! {
                    slot = slots.acquire() => slot.ok(),
                    () = runner.stop.cancelled() => None,
                };
                if let Some(_slot) = slot
                    && let Err(err) = runner.check(&model, &resource).await
                {
                    warn!(resource = %resource.name, resource_id = %resource.id, error = %format!("{err:#}"), "check failed to run");
                }
                if let Ok(mut in_flight) = in_flight.lock() {
                    in_flight.remove(&resource.id);
                }
            });
        }
        Ok(Tick::Idle)
    }
}

/// The default `check_timeout`.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(3600);

/// A resource's `check_timeout`, or the default; the check's error message when it is not a
/// duration.
fn check_timeout(text: Option<&str>) -> Result<Duration, String> {
    match text {
        None => Ok(DEFAULT_CHECK_TIMEOUT),
        Some(text) => concorde_config::parse_duration(text)
            .map(|parsed| parsed.magnitude)
            .map_err(|err| format!("invalid check_timeout {text:?}: {err}")),
    }
}

/// A resource's `check_every` interval (`None`: never), or the check's error message when it
/// is not a duration (say, an unresolved var).
fn check_interval(every: Option<&CheckEvery>) -> Result<Option<Duration>, String> {
    match every {
        None => Ok(Some(DEFAULT_CHECK_INTERVAL)),
        Some(CheckEvery::Never) => Ok(None),
        Some(CheckEvery::Interval(text)) => concorde_config::parse_duration(text)
            .map(|parsed| Some(parsed.magnitude))
            .map_err(|err| format!("invalid check_every {text:?}: {err}")),
    }
}

/// Whether `check_every` has passed since the last check started (`never`: never due). A
/// `check_every` that is not a duration checks at the default interval, and each of those
/// checks fails with the reason, so the resource shows it.
fn is_due(resource: &Resource, now: concorde_store::Timestamp) -> bool {
    let interval = match check_interval(resource.check_every.as_ref()) {
        Ok(None) => return false,
        Ok(Some(interval)) => interval,
        Err(_) => DEFAULT_CHECK_INTERVAL,
    };
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    resource
        .last_check_start
        .is_none_or(|last| now.0 - last.0 >= interval_ms)
}

impl CheckRunner {
    /// Checks one resource under its scope's lock and saves what it found.
    async fn check(&self, model: &Pipeline, resource: &Resource) -> anyhow::Result<()> {
        let config = crate::pipeline_model::resource(model, &resource.name).with_context(|| {
            format!("resource {} is not in its pipeline's config", resource.name)
        })?;
        let plan_id = PlanId(format!("check-{}", resource.id.0));
        let ResourceScope {
            scope,
            image,
            source,
        } = ensure_scope(&self.store, model, resource, &plan_id).await?;
        let now = crate::now();
        let Some(lock) = self
            .store
            .try_lock(LockKey::ResourceChecking(scope))
            .await?
        else {
            debug!(resource = %resource.name, "another node is checking this scope");
            return Ok(());
        };
        let from: Option<VersionMap> = self
            .store
            .list_versions(scope, None, 1)
            .await?
            .into_iter()
            .next()
            .map(|latest| latest.version);
        self.store.start_resource_check(resource.id, now).await?;
        let events = Arc::new(concorde_engine::CollectingSink::default());
        let context = BuildContext {
            build_name: "check".to_owned(),
            team_name: String::new(),
            ..BuildContext::default()
        };
        let mut env = RunEnv::new(
            context,
            self.worker.runtime.clone(),
            events.clone(),
            self.worker.cache_locks.clone(),
        );
        env.base_types = self.worker.base_types.clone();
        env.worker_name = self.worker.name.clone();
        let abort = env.abort.clone();
        let settings = check_interval(resource.check_every.as_ref())
            .and_then(|_| check_timeout(config.check_timeout.as_deref()));
        let error = match settings {
            // A setting the config could not give (say, an unresolved var) fails the check
            // visibly rather than turning into a default.
            Err(message) => Some(message),
            Ok(timeout) => {
                let run = run_check(Arc::new(env), &plan_id, &image, &source, from.as_ref());
                tokio::pin!(run);
                let stopped = tokio::select! {
                    ran = &mut run => Ok(ran),
                    () = tokio::time::sleep(timeout) => Err("timeout exceeded"),
                    () = self.stop.cancelled() => Err("interrupted: the web node stopped"),
                };
                match stopped {
                    Err(reason) => {
                        // Cancelled, the check stops its script's processes and destroys its
                        // container before it returns; dropping it midway would leave them.
                        abort.cancel();
                        let _ = run.await;
                        Some(reason.to_owned())
                    }
                    Ok(Err(err)) => Some(
                        format!("{err}\n{}", events.log_text())
                            .trim_end()
                            .to_owned(),
                    ),
                    Ok(Ok(versions)) => self.save_found(scope, resource, &versions).await?,
                }
            }
        };
        self.store
            .finish_resource_check(
                resource.id,
                &CheckOutcome {
                    ended: crate::now(),
                    error,
                },
            )
            .await?;
        lock.release().await?;
        Ok(())
    }

    /// Saves the versions a check found in order; the check's error when the store refuses
    /// them. New versions wake the scheduler (the store asked for the jobs to be scheduled).
    async fn save_found(
        &self,
        scope: ScopeId,
        resource: &Resource,
        versions: &[VersionMap],
    ) -> anyhow::Result<Option<String>> {
        let new: Vec<NewVersion> = versions
            .iter()
            .map(|version| NewVersion {
                version: version.clone(),
                metadata: serde_json::json!([]),
            })
            .collect();
        match self
            .store
            .save_check_versions(scope, &new, crate::now())
            .await
        {
            Ok(outcome) => {
                debug!(resource = %resource.name, new = outcome.new_versions, "checked");
                if outcome.new_versions > 0 {
                    self.store
                        .notify(Topic::JobScheduling, &resource.id.to_string())
                        .await?;
                }
                Ok(None)
            }
            Err(err) => Ok(Some(err.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_timeouts_default_parse_or_fail_visibly() {
        assert_eq!(check_timeout(None), Ok(DEFAULT_CHECK_TIMEOUT));
        assert_eq!(check_timeout(Some("90s")), Ok(Duration::from_secs(90)));
        let err = check_timeout(Some("((timeout))")).unwrap_err();
        assert!(
            err.starts_with("invalid check_timeout \"((timeout))\": "),
            "{err}"
        );
    }

    fn resource(check_every: Option<&str>, last: Option<i64>) -> Resource {
        Resource {
            id: ResourceId(1),
            pipeline_id: concorde_store::PipelineId(1),
            name: "r".to_owned(),
            type_name: "git".to_owned(),
            config: serde_json::json!({}),
            active: true,
            check_every: check_every.map(|text| CheckEvery::from_text(text.to_owned())),
            resource_config_id: None,
            scope_id: None,
            last_check_start: last.map(concorde_store::Timestamp),
            last_check_end: None,
            last_check_error: None,
            api_pinned_version: None,
            pin_comment: None,
            config_pinned_version: None,
        }
    }

    #[test]
    fn due_follows_check_every() {
        let now = concorde_store::Timestamp(1_000_000);
        assert!(is_due(&resource(None, None), now));
        assert!(!is_due(&resource(None, Some(now.0 - 59_000)), now));
        assert!(is_due(&resource(None, Some(now.0 - 60_000)), now));
        assert!(is_due(&resource(Some("10s"), Some(now.0 - 10_000)), now));
        assert!(!is_due(&resource(Some("never"), None), now));
        assert!(is_due(
            &resource(Some("((every))"), Some(now.0 - 60_000)),
            now
        ));
        let err = check_interval(Some(&CheckEvery::from_text("((every))".into()))).unwrap_err();
        assert!(
            err.starts_with("invalid check_every \"((every))\": "),
            "{err}"
        );
    }
}
