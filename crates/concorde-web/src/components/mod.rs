//! The web node's background loops: each a [`Component`] run by [`run_component`], which owns
//! the interval, the pause switch in the components table, the cluster-wide tick lock, event
//! wake-ups, error backoff and the status the API shows.

pub(crate) mod abort_watch;
pub mod checker;
pub mod heartbeat;
pub mod reaper;
pub mod scheduler;
pub mod scope;
pub mod tracker;
pub mod worker_lifecycle;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use concorde_store::{LockKey, Store, Topic};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What a tick found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// There may be more work: tick again at once.
    Busy,
    /// Nothing left: wait for the interval or a wake-up.
    Idle,
}

/// One background loop.
#[async_trait::async_trait]
pub trait Component: Send + Sync {
    /// The name in the components table.
    fn name(&self) -> &'static str;
    /// The default interval between ticks.
    fn interval(&self) -> Duration;
    /// Notification topics that wake the loop before the interval is up.
    fn wake_topics(&self) -> Vec<Topic>;
    /// Does one round of work.
    async fn tick(&self) -> anyhow::Result<Tick>;
}

/// What the API shows about a component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentStatus {
    /// Ticks run on this node.
    pub ticks: u64,
    /// Consecutive failed ticks.
    pub consecutive_errors: u32,
    /// The last error, if the last tick failed.
    pub last_error: Option<String>,
}

/// Status of every component on this node, by name.
#[derive(Debug, Clone, Default)]
pub struct Statuses(Arc<Mutex<BTreeMap<&'static str, ComponentStatus>>>);

impl Statuses {
    fn update(&self, name: &'static str, update: impl FnOnce(&mut ComponentStatus)) {
        if let Ok(mut statuses) = self.0.lock() {
            update(statuses.entry(name).or_default());
        }
    }

    /// A copy of every status.
    pub fn snapshot(&self) -> BTreeMap<&'static str, ComponentStatus> {
        self.0
            .lock()
            .map(|statuses| statuses.clone())
            .unwrap_or_default()
    }
}

/// Runs `component` until `shutdown`: registers it, then ticks on its interval or when a
/// notification arrives, skipping ticks while it is paused or another node holds its lock.
pub async fn run_component(
    store: Store,
    component: Arc<dyn Component>,
    statuses: Statuses,
    shutdown: CancellationToken,
) {
    let name = component.name();
    let interval = component.interval();
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    if let Err(err) = store.register_component(name, interval_ms).await {
        warn!(component = name, error = %err, "could not register component");
    }
    let mut listener = match store.listen(&component.wake_topics()).await {
        Ok(listener) => Some(listener),
        Err(err) => {
            warn!(component = name, error = %err, "could not listen for wake-ups; polling only");
            None
        }
    };
    info!(component = name, "started");
    let mut delay = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(delay) => {}
            woke = async {
                match listener.as_mut() {
                    Some(listener) => listener.recv().await.is_ok(),
                    None => std::future::pending().await,
                }
            }, if !delay.is_zero() => {
                if !woke {
                    listener = None;
                }
            }
        }
        delay = match run_one_tick(&store, component.as_ref(), &statuses).await {
            Some(Tick::Busy) => Duration::ZERO,
            Some(Tick::Idle) | None => interval,
        };
        let errors = statuses
            .snapshot()
            .get(name)
            .map_or(0, |status| status.consecutive_errors);
        if errors > 0 {
            // Back off on repeated failures, up to eight intervals.
            delay = interval * 2u32.pow(errors.min(3));
        }
    }
    info!(component = name, "stopped");
}

/// One tick under the component's lock; `None` when skipped.
async fn run_one_tick(
    store: &Store,
    component: &dyn Component,
    statuses: &Statuses,
) -> Option<Tick> {
    let name = component.name();
    match store.component(name).await {
        Ok(record) if record.paused => return None,
        Ok(_) => {}
        Err(err) => warn!(component = name, error = %err, "could not read component state"),
    }
    let lock = match store
        .try_lock(LockKey::ComponentTick(name.to_owned()))
        .await
    {
        Ok(Some(lock)) => lock,
        Ok(None) => return None,
        Err(err) => {
            warn!(component = name, error = %err, "could not take component lock");
            return None;
        }
    };
    let result = component.tick().await;
    if let Err(err) = lock.release().await {
        warn!(component = name, error = %err, "could not release component lock");
    }
    match result {
        Ok(tick) => {
            statuses.update(name, |status| {
                status.ticks += 1;
                status.consecutive_errors = 0;
                status.last_error = None;
            });
            if let Err(err) = store.mark_component_ran(name, crate::now()).await {
                warn!(component = name, error = %err, "could not record component run");
            }
            Some(tick)
        }
        Err(err) => {
            warn!(component = name, error = %format!("{err:#}"), "tick failed");
            statuses.update(name, |status| {
                status.ticks += 1;
                status.consecutive_errors += 1;
                status.last_error = Some(format!("{err:#}"));
            });
            Some(Tick::Idle)
        }
    }
}

/// A job's scheduling lock, which the scheduler (resolving inputs) and the tracker (starting
/// builds) take in turn. Each holds it for milliseconds and both wake on the same
/// notifications, so a busy lock is retried briefly rather than left for the next interval.
pub(crate) async fn job_lock(
    store: &Store,
    job: concorde_store::JobId,
) -> anyhow::Result<Option<concorde_store::Lock>> {
    for _ in 0..40 {
        if let Some(lock) = store.try_lock(LockKey::JobScheduling(job)).await? {
            return Ok(Some(lock));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(None)
}
