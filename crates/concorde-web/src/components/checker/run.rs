//! Running one check build: find where the target's versions live and how its type runs,
//! take the scope's lock, start the build, run `check` with its events stored, save what it
//! found, and finish the build and the target's check record.

use concorde_workers::BuildOwner;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use concorde_config::model::{JsonMap, VersionMap};
use concorde_engine::plan::TypeImage;
use concorde_engine::{
    BuildContext, BuildEvent, CheckError, CheckSubject, Origin, PlanId, RunEnv, run_check,
};
use concorde_store::{
    Build, BuildId, BuildStatus, CHECK_PLAN_ID, CheckBuild, CheckOutcome, CheckTarget, LockKey,
    NewCheckBuild, NewVersion, PlacementQuery, Resource, ResourceType, ScopeId, Store, Timestamp,
    Topic,
};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::due::{check_interval, check_timeout, is_due};
use super::sink::TailingSink;
use crate::components::abort_watch;
use crate::components::scope::ensure_scope;
use crate::placement::NodeWorkers;

/// How long a finished check build is kept after a newer one of its target finished, so a
/// `check-resource` still streaming it reads it to its end.
const KEEP_FINISHED: Duration = Duration::from_secs(300);

/// What one check needs: the store, the worker it runs on, the node's shutdown (which
/// interrupts it) and the set of check builds this node runs (the others that are started
/// belong to a node that went away).
pub(super) struct CheckRunner {
    pub store: Store,
    pub workers: NodeWorkers,
    pub stop: CancellationToken,
    pub running: Arc<Mutex<HashSet<BuildId>>>,
}

/// A check to run: one someone asked for (a pending check build), or one a resource is due
/// for by its `check_every` (its build is created once the scope's lock is held).
pub(super) enum CheckWork {
    Requested(CheckBuild),
    Due(Resource),
}

impl CheckWork {
    pub(super) fn target(&self) -> CheckTarget {
        match self {
            CheckWork::Requested(check) => check.target,
            CheckWork::Due(resource) => CheckTarget::Resource(resource.id),
        }
    }
}

/// Where a check's versions go and how its type runs.
struct Prepared {
    /// The resource's or type's name.
    name: String,
    scope: ScopeId,
    image: TypeImage,
    source: JsonMap,
    /// The worker tags of the resource (or type).
    tags: Vec<String>,
    /// How long it may run, or why its settings are unusable (the check's error).
    timeout: Result<Duration, String>,
}

/// How a check ended.
struct Ending {
    status: BuildStatus,
    /// The error the target shows, `None` when the check succeeded.
    error: Option<String>,
}

impl CheckRunner {
    /// Runs `work` if its scope is free; false when another check of the same scope holds it
    /// (a requested build then stays pending for a later tick).
    pub(super) async fn run(&self, work: CheckWork) -> anyhow::Result<bool> {
        let target = work.target();
        let prepared = self.prepare(target).await;
        let scope_lock = match &prepared {
            Ok(prepared) => {
                let lock = self
                    .store
                    .try_lock(LockKey::ResourceChecking(prepared.scope))
                    .await?;
                if lock.is_none() {
                    debug!(?target, "another check of this scope is running");
                    return Ok(false);
                }
                lock
            }
            // Nothing to lock: the build fails with the reason.
            Err(_) => None,
        };
        let outcome = self.run_locked(work, prepared).await;
        if let Some(lock) = scope_lock {
            lock.release().await?;
        }
        outcome.map(|()| true)
    }

    async fn run_locked(
        &self,
        work: CheckWork,
        prepared: anyhow::Result<Prepared>,
    ) -> anyhow::Result<()> {
        let target = work.target();
        let (build, from) = match work {
            CheckWork::Requested(check) => (check.build, check.from),
            CheckWork::Due(resource) => {
                // Another node may have checked it while this one waited for the lock.
                let fresh = self.store.resource(resource.id).await?;
                if !is_due(&fresh, crate::now()) {
                    return Ok(());
                }
                // With no worker to check on, the resource stays due (a registering worker
                // wakes the checker) rather than piling up failed checks.
                let team = self.store.pipeline(fresh.pipeline_id).await?.team_id;
                let query = PlacementQuery {
                    team: Some(team),
                    tags: prepared
                        .as_ref()
                        .map(|prepared| prepared.tags.clone())
                        .unwrap_or_default(),
                    ..PlacementQuery::default()
                };
                if !self.workers.pool.fits(&query).await? {
                    tracing::debug!(resource = %fresh.name, "no worker to check on yet");
                    return Ok(());
                }
                let build = self
                    .store
                    .create_check_build(&NewCheckBuild {
                        target,
                        from: None,
                        manually_triggered: false,
                        created_by: None,
                        now: crate::now(),
                    })
                    .await?;
                (build, None)
            }
        };
        let Some(build_lock) = self
            .store
            .try_lock(LockKey::BuildTracking(build.id))
            .await?
        else {
            return Ok(()); // Another checker runs it.
        };
        let started = self.store.start_check_build(build.id, crate::now()).await?;
        if !started {
            // Started elsewhere, or aborted while pending (then finished by abort_build).
            build_lock.release().await?;
            return Ok(());
        }
        if let Ok(mut running) = self.running.lock() {
            running.insert(build.id);
        }
        let result = self.run_started(target, &build, from, prepared).await;
        if let Ok(mut running) = self.running.lock() {
            running.remove(&build.id);
        }
        build_lock.release().await?;
        result
    }

    /// Runs a started check build to its end and records how it ended.
    async fn run_started(
        &self,
        target: CheckTarget,
        build: &Build,
        from: Option<VersionMap>,
        prepared: anyhow::Result<Prepared>,
    ) -> anyhow::Result<()> {
        self.store.start_check(target, crate::now()).await?;
        let (sink, writer) = TailingSink::start(self.store.clone(), build.id);
        let sink = Arc::new(sink);
        let origin = Origin {
            id: PlanId(CHECK_PLAN_ID.to_owned()),
            source: None,
        };
        sink.emit_now(BuildEvent::Status {
            status: BuildStatus::Started,
            time: secs(crate::now()),
        })
        .await;
        let ending = match prepared {
            Err(err) => {
                let message = format!("{err:#}");
                sink.emit_now(error_event(&origin, &message)).await;
                Ending {
                    status: BuildStatus::Errored,
                    error: Some(message),
                }
            }
            Ok(prepared) => {
                sink.emit_now(BuildEvent::InitializeCheck {
                    origin: origin.clone(),
                    name: prepared.name.clone(),
                    time: secs(crate::now()),
                })
                .await;
                self.check(target, build, from, &prepared, &sink, &origin)
                    .await?
            }
        };
        sink.emit_now(BuildEvent::Status {
            status: ending.status,
            time: secs(crate::now()),
        })
        .await;
        sink.close();
        let _ = writer.await;
        let now = crate::now();
        // The resource shows the outcome before the build ends: whoever watched the build
        // to its end then reads the resource as this check left it.
        self.store
            .finish_check(
                target,
                &CheckOutcome {
                    ended: now,
                    error: ending.error,
                },
            )
            .await?;
        self.store
            .finish_build(build.id, ending.status, now)
            .await?;
        let keep_ms = i64::try_from(KEEP_FINISHED.as_millis()).unwrap_or(i64::MAX);
        self.store
            .forget_check_builds(target, Timestamp(now.0 - keep_ms))
            .await?;
        Ok(())
    }

    /// Runs the check script under its timeout, the build's abort and the node's shutdown,
    /// and saves what it found.
    async fn check(
        &self,
        target: CheckTarget,
        build: &Build,
        from: Option<VersionMap>,
        prepared: &Prepared,
        sink: &Arc<TailingSink>,
        origin: &Origin,
    ) -> anyhow::Result<Ending> {
        let timeout = match &prepared.timeout {
            Ok(timeout) => *timeout,
            Err(message) => {
                sink.emit_now(error_event(origin, message)).await;
                return Ok(Ending {
                    status: BuildStatus::Errored,
                    error: Some(message.clone()),
                });
            }
        };
        let from = match from {
            Some(from) => Some(from),
            None => self
                .store
                .list_versions(prepared.scope, None, 1)
                .await?
                .into_iter()
                .next()
                .map(|latest| latest.version),
        };
        let context = BuildContext {
            build_id: build.id.0,
            build_name: build.name.clone(),
            ..BuildContext::default()
        };
        let placer = self.workers.check_placer(BuildOwner {
            build: build.id,
            team: build.team_id,
            pipeline: build.pipeline_id,
            job: None,
            pipeline_name: None,
            job_name: None,
            build_name: build.name.clone(),
            check_scope: Some(prepared.scope),
        });
        let env = Arc::new(RunEnv::new(
            context,
            placer,
            sink.clone(),
            self.workers.cache_locks.clone(),
        ));
        let watcher = abort_watch::watch(
            &self.store,
            build.id,
            env.clone(),
            self.stop.clone(),
            "interrupted: the web node stopped",
        )
        .await?;
        let subject = CheckSubject {
            name: &prepared.name,
            image: &prepared.image,
            source: &prepared.source,
            tags: &prepared.tags,
        };
        let run = run_check(env.clone(), &origin.id, subject, from.as_ref());
        tokio::pin!(run);
        let ran = tokio::select! {
            ran = &mut run => Some(ran),
            () = tokio::time::sleep(timeout) => None,
        };
        let ran = match ran {
            Some(ran) => ran,
            None => {
                // Cancelled, the check stops its script's processes and destroys its
                // container before it returns; dropping it midway would leave them.
                env.abort.cancel();
                let _ = run.await;
                watcher.abort();
                sink.emit_now(error_event(origin, "timeout exceeded")).await;
                sink.emit_now(finish_event(origin, false)).await;
                return Ok(Ending {
                    status: BuildStatus::Failed,
                    error: Some("timeout exceeded".to_owned()),
                });
            }
        };
        watcher.abort();
        let ending = match ran {
            Ok(versions) => match self.save_found(target, prepared.scope, &versions).await? {
                None => {
                    sink.emit_now(finish_event(origin, true)).await;
                    Ending {
                        status: BuildStatus::Succeeded,
                        error: None,
                    }
                }
                Some(refused) => {
                    sink.emit_now(error_event(origin, &refused)).await;
                    Ending {
                        status: BuildStatus::Errored,
                        error: Some(refused),
                    }
                }
            },
            Err(CheckError::Failed(code)) => {
                sink.emit_now(finish_event(origin, false)).await;
                let message = format!("check failed with exit status {code}");
                Ending {
                    status: BuildStatus::Failed,
                    error: Some(with_stderr(&message, &sink.tail())),
                }
            }
            Err(CheckError::Interrupted) => {
                let reason = env
                    .interrupted
                    .lock()
                    .ok()
                    .and_then(|reason| reason.clone());
                match reason {
                    Some(reason) => {
                        sink.emit_now(error_event(origin, &reason)).await;
                        Ending {
                            status: BuildStatus::Errored,
                            error: Some(reason),
                        }
                    }
                    None => Ending {
                        status: BuildStatus::Aborted,
                        error: Some("aborted".to_owned()),
                    },
                }
            }
            Err(CheckError::Errored(message)) => {
                sink.emit_now(error_event(origin, &message)).await;
                Ending {
                    status: BuildStatus::Errored,
                    error: Some(with_stderr(&message, &sink.tail())),
                }
            }
        };
        Ok(ending)
    }

    /// Where the target's versions live and how its type runs: a resource's own scope, or a
    /// resource type's shared one.
    async fn prepare(&self, target: CheckTarget) -> anyhow::Result<Prepared> {
        let plan_id = PlanId(CHECK_PLAN_ID.to_owned());
        match target {
            CheckTarget::Resource(id) => {
                let resource = self.store.resource(id).await?;
                let pipeline = self.store.pipeline(resource.pipeline_id).await?;
                let model = self.store.pipeline_model(&pipeline)?;
                let config = crate::pipeline_model::resource(&model, &resource.name)
                    .filter(|_| resource.active)
                    .with_context(|| {
                        format!("resource {} is not in its pipeline's config", resource.name)
                    })?;
                let timeout = check_interval(resource.check_every.as_ref())
                    .and_then(|_| check_timeout(config.check_timeout.as_deref()));
                let scope = ensure_scope(&self.store, &model, &resource, &plan_id).await?;
                Ok(Prepared {
                    name: resource.name,
                    scope: scope.scope,
                    image: scope.image,
                    source: scope.source,
                    tags: config.tags.clone(),
                    timeout,
                })
            }
            CheckTarget::ResourceType(id) => {
                let kind = self.store.resource_type(id).await?;
                let pipeline = self.store.pipeline(kind.pipeline_id).await?;
                let model = self.store.pipeline_model(&pipeline)?;
                let config = model
                    .resource_types
                    .iter()
                    .find(|config| config.name == kind.name)
                    .filter(|_| kind.active)
                    .with_context(|| {
                        format!(
                            "resource type {} is not in its pipeline's config",
                            kind.name
                        )
                    })?;
                let types = concorde_engine::resource_type_plans(&model);
                let image = concorde_engine::type_image(&types, &config.kind, &plan_id);
                let source = concorde_engine::effective_source(
                    &types,
                    &config.kind,
                    &config.source.clone().unwrap_or_default(),
                );
                let scope = self
                    .type_scope(&kind, &image, &config.kind, &source)
                    .await?;
                Ok(Prepared {
                    name: kind.name,
                    scope,
                    image,
                    source,
                    tags: config.tags.clone(),
                    timeout: check_interval(kind.check_every.as_ref())
                        .map(|_| super::due::DEFAULT_CHECK_TIMEOUT),
                })
            }
        }
    }

    /// The shared scope a resource type's versions live in, pointed at by the type.
    async fn type_scope(
        &self,
        kind: &ResourceType,
        image: &TypeImage,
        type_name: &str,
        source: &JsonMap,
    ) -> anyhow::Result<ScopeId> {
        let config_id = self
            .store
            .find_or_create_resource_config(&image.base_type, type_name, source, crate::now())
            .await?;
        let scope = self.store.find_or_create_scope(config_id, None).await?;
        if kind.scope_id != Some(scope) {
            self.store.set_resource_type_scope(kind.id, scope).await?;
        }
        Ok(scope)
    }

    /// Saves the versions a check found in order; the check's error when the store refuses
    /// them. New versions of a resource wake the scheduler (the store asked for its jobs to
    /// be scheduled).
    async fn save_found(
        &self,
        target: CheckTarget,
        scope: ScopeId,
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
                debug!(?target, new = outcome.new_versions, "checked");
                if outcome.new_versions > 0 {
                    self.store.notify(Topic::JobScheduling, "").await?;
                }
                Ok(None)
            }
            Err(err) => Ok(Some(err.to_string())),
        }
    }
}

fn error_event(origin: &Origin, message: &str) -> BuildEvent {
    BuildEvent::Error {
        origin: origin.clone(),
        message: message.to_owned(),
        time: secs(crate::now()),
    }
}

fn finish_event(origin: &Origin, succeeded: bool) -> BuildEvent {
    BuildEvent::Finish {
        origin: origin.clone(),
        succeeded,
        time: secs(crate::now()),
    }
}

/// An error followed by the script's stderr, when it printed any.
fn with_stderr(message: &str, stderr: &str) -> String {
    let stderr = stderr.trim_end();
    if stderr.is_empty() {
        message.to_owned()
    } else {
        format!("{message}\n{stderr}")
    }
}

fn secs(at: Timestamp) -> i64 {
    at.0 / 1000
}
