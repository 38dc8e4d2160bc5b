//! Running a whole build: status events, the plan, the final status, and cleanup.

use std::sync::{Arc, Mutex};

pub use concorde_core::BuildStatus;
use tokio_util::sync::CancellationToken;

use crate::env::{BuildContext, EngineLimits, NoCredentials, RunEnv};
use crate::event::{BuildEvent, EventSink, Origin, now_unix};
use crate::exec::{Exec, StepError, run_plan};
use crate::placer::Placer;
use crate::plan::{Plan, PlanId};
use crate::resource_cache::CacheLocks;
use crate::scope::VarScope;

impl RunEnv {
    /// An environment with no credentials, no pipeline setter and no recorder; set those
    /// fields as needed.
    pub fn new(
        context: BuildContext,
        placer: Arc<dyn Placer>,
        events: Arc<dyn EventSink>,
        cache_locks: Arc<CacheLocks>,
    ) -> RunEnv {
        RunEnv {
            context,
            placer,
            events,
            credentials: Arc::new(NoCredentials),
            pipeline_setter: None,
            recorder: None,
            artifact_store: None,
            abort: CancellationToken::new(),
            interrupted: Mutex::default(),
            artifacts: Mutex::default(),
            streamed: Default::default(),
            put_versions: Mutex::default(),
            created: Mutex::default(),
            cache_locks,
            limits: EngineLimits::default(),
        }
    }
}

/// Runs a build's plan to the end and returns how it finished (never pending or started). Aborting is cancelling `env.abort`.
/// Containers and artifact volumes the build created are destroyed at the end; caches stay.
pub async fn run_build(env: Arc<RunEnv>, plan: &Plan) -> BuildStatus {
    env.events
        .emit(BuildEvent::Status {
            status: BuildStatus::Started,
            time: now_unix(),
        })
        .await;
    let exec = Exec {
        env: env.clone(),
        cancel: env.abort.clone(),
        scope: Arc::new(VarScope::default()),
    };
    let result = run_plan(&exec, plan).await;
    let interrupted = env
        .interrupted
        .lock()
        .ok()
        .and_then(|reason| reason.clone());
    let status = match result {
        _ if interrupted.is_some() => BuildStatus::Errored,
        _ if env.abort.is_cancelled() => BuildStatus::Aborted,
        Ok(true) => BuildStatus::Succeeded,
        Ok(false) => BuildStatus::Failed,
        Err(StepError::Errored(_)) => BuildStatus::Errored,
        Err(StepError::Interrupted) => BuildStatus::Aborted,
    };
    cleanup(&env).await;
    if let Some(message) = interrupted {
        env.events
            .emit(BuildEvent::Error {
                origin: Origin::step(&PlanId(String::new())),
                message,
                time: now_unix(),
            })
            .await;
    }
    env.events
        .emit(BuildEvent::Status {
            status,
            time: now_unix(),
        })
        .await;
    status
}

/// Destroys the containers the run created, then its volumes newest first (a copy-on-write
/// child always comes after its parent); caches and kept volumes stay.
pub(crate) async fn cleanup(env: &RunEnv) {
    let created = env
        .created
        .lock()
        .map(|mut created| std::mem::take(&mut *created))
        .unwrap_or_default();
    for (worker, container) in created.containers {
        if let Err(err) = worker.destroy_container(&container).await {
            tracing::warn!(container = %container.0, error = %err, "could not destroy container");
        }
    }
    for (worker, volume) in created.volumes.into_iter().rev() {
        if let Err(err) = worker.destroy_volume(&volume).await {
            tracing::warn!(volume = %volume.0, error = %err, "could not destroy volume");
        }
    }
}
