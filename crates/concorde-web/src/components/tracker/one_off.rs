//! One-off builds (`fly execute`): each tick begins the ones no tracker began yet and errors
//! those begun by a node that went away. A run takes its inputs from uploaded artifacts
//! (destroyed once it ends: an upload serves one build) and keeps the outputs asked for, for
//! download.

use std::sync::{Arc, Mutex};

use concorde_engine::{Artifact, ArtifactStore, BuildContext, Plan, RunEnv, run_build};
use concorde_store::{ArtifactId, Build, BuildStatus, LockKey, OneOffBuild, Store, TeamId};
use concorde_worker::VolumeHandle;
use concorde_workers::{BuildOwner, WorkerPool};
use tracing::{info, warn};

use super::Tracker;
use super::sink::StoreEventSink;
use crate::components::abort_watch;

impl Tracker {
    /// Destroys artifacts older than Concourse's twelve hours (uploads no build used, outputs
    /// nobody fetched) with their volumes on this node's worker.
    pub(super) async fn expire_artifacts(&self) -> anyhow::Result<()> {
        let max_age = concorde_store::GcPolicy::default().artifact_max_age;
        let expired = self
            .store
            .artifacts_created_before(crate::now().minus(max_age))
            .await?;
        for artifact in expired {
            if let Some(volume) = &artifact.volume
                && let Ok(row) = self
                    .store
                    .volume(&concorde_store::VolumeHandle(volume.clone()))
                    .await
            {
                let placed = self.workers.pool.named(&row.worker_name).await?;
                if let Err(err) = placed
                    .worker
                    .destroy_volume(&VolumeHandle(volume.clone()))
                    .await
                {
                    warn!(volume, error = %err, "could not destroy an expired artifact");
                    continue;
                }
            }
            self.store.delete_artifact(artifact.id).await?;
        }
        Ok(())
    }

    /// Begins or fails every unfinished one-off build that needs it.
    pub(super) async fn track_one_offs(&self) -> anyhow::Result<()> {
        for one_off in self.store.unfinished_one_off_builds().await? {
            let id = one_off.build.id;
            if self.is_running(id) {
                continue;
            }
            if one_off.build.start_time.is_some() {
                self.fail_if_orphaned(&one_off.build).await?;
                continue;
            }
            let Some(lock) = self.store.try_lock(LockKey::BuildTracking(id)).await? else {
                continue;
            };
            if !self.store.begin_one_off_build(id, crate::now()).await? {
                lock.release().await?;
                continue;
            }
            if let Ok(mut running) = self.running.lock() {
                running.insert(id);
            }
            let run = OneOffRun {
                tracker: self.clone_parts(),
                one_off,
            };
            self.tasks.spawn(async move {
                if let Err(err) = run.run().await {
                    warn!(build = %id, error = %format!("{err:#}"), "one-off build run failed");
                }
                if let Err(err) = lock.release().await {
                    warn!(build = %id, error = %err, "could not release build lock");
                }
            });
        }
        Ok(())
    }
}

/// What a one-off run needs of its tracker.
pub(super) struct TrackerParts {
    pub store: Store,
    pub workers: crate::placement::NodeWorkers,
    pub external_url: String,
    pub running: Arc<Mutex<std::collections::HashSet<concorde_store::BuildId>>>,
    pub stop: tokio_util::sync::CancellationToken,
}

struct OneOffRun {
    tracker: TrackerParts,
    one_off: OneOffBuild,
}

impl OneOffRun {
    async fn run(self) -> anyhow::Result<()> {
        let store = self.tracker.store.clone();
        let build = self.one_off.build.clone();
        let plan = self
            .one_off
            .private_plan
            .clone()
            .ok_or_else(|| "the build has no plan".to_owned())
            .and_then(|plan| {
                serde_json::from_value::<Plan>(plan).map_err(|err| format!("invalid plan: {err}"))
            });
        let status = match plan {
            Ok(plan) => self.run_plan(&build, &plan).await?,
            Err(message) => {
                let events = [
                    abort_watch::build_error_event(&message),
                    abort_watch::status_event(BuildStatus::Errored),
                ];
                store.append_build_events(build.id, &events).await?;
                BuildStatus::Errored
            }
        };
        if let Ok(mut running) = self.tracker.running.lock() {
            running.remove(&build.id);
        }
        store.finish_build(build.id, status, crate::now()).await?;
        info!(build = %build.id, status = status.as_str(), "finished one-off build");
        Ok(())
    }

    async fn run_plan(&self, build: &Build, plan: &Plan) -> anyhow::Result<BuildStatus> {
        let store = &self.tracker.store;
        let team_name = store
            .list_teams()
            .await?
            .into_iter()
            .find(|team| team.id == build.team_id)
            .map(|team| team.name)
            .unwrap_or_default();
        let pipeline = match build.pipeline_id {
            Some(id) => Some(store.pipeline(id).await?),
            None => None,
        };
        let (sink, writer) = StoreEventSink::start(store.clone(), build.id);
        let sink = Arc::new(sink);
        let context = BuildContext {
            build_id: build.id.0,
            build_name: build.name.clone(),
            job_name: None,
            pipeline_name: pipeline.as_ref().map(|p| p.name.clone()),
            pipeline_instance_vars: pipeline.as_ref().and_then(|p| p.instance_vars.clone()),
            team_name,
            external_url: self.tracker.external_url.clone(),
            created_by: build.created_by.clone(),
        };
        let owner = BuildOwner {
            build: build.id,
            team: build.team_id,
            pipeline: build.pipeline_id,
            job: None,
            pipeline_name: pipeline.as_ref().map(|p| p.name.clone()),
            job_name: None,
            build_name: build.name.clone(),
            check_scope: None,
        };
        let artifacts = Arc::new(BuildArtifacts {
            store: store.clone(),
            pool: self.tracker.workers.pool.clone(),
            owner: owner.clone(),
            team: build.team_id,
            build: build.clone(),
            inputs: Mutex::default(),
        });
        let mut env = RunEnv::new(
            context,
            self.tracker.workers.build_placer(owner),
            sink.clone(),
            self.tracker.workers.cache_locks.clone(),
        );
        env.artifact_store = Some(artifacts.clone());
        let env = Arc::new(env);
        let watcher = abort_watch::watch(
            store,
            build.id,
            env.clone(),
            self.tracker.stop.clone(),
            abort_watch::NODE_STOPPED,
        )
        .await?;
        let status = run_build(env, plan).await;
        watcher.abort();
        sink.close();
        let _ = writer.await;
        for (id, upload) in artifacts.take_inputs() {
            if let Err(err) = upload.worker.destroy_volume(&upload.volume).await {
                warn!(volume = %upload.volume.0, error = %err, "could not destroy an uploaded artifact");
            }
            store.delete_artifact(id).await?;
        }
        Ok(status)
    }
}

/// A one-off build's artifacts: the uploads it takes (its team's only) and the outputs it
/// keeps.
struct BuildArtifacts {
    store: Store,
    /// Reaches the worker each upload is on.
    pool: WorkerPool,
    /// The build, as the clients to those workers record it.
    owner: BuildOwner,
    team: TeamId,
    build: Build,
    inputs: Mutex<Vec<(ArtifactId, Artifact)>>,
}

impl BuildArtifacts {
    fn take_inputs(&self) -> Vec<(ArtifactId, Artifact)> {
        self.inputs
            .lock()
            .map(|mut inputs| std::mem::take(&mut *inputs))
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl ArtifactStore for BuildArtifacts {
    async fn input(&self, artifact_id: i64) -> Result<Artifact, String> {
        let id = ArtifactId(artifact_id);
        let not_found = || format!("artifact {artifact_id} not found");
        let artifact = self.store.artifact(id).await.map_err(|_| not_found())?;
        let volume = artifact
            .volume
            .filter(|_| artifact.team_id == Some(self.team))
            .ok_or_else(not_found)?;
        let row = self
            .store
            .volume(&concorde_store::VolumeHandle(volume.clone()))
            .await
            .map_err(|_| not_found())?;
        let placed = self
            .pool
            .named(&row.worker_name)
            .await
            .map_err(|err| format!("artifact {artifact_id}: {err}"))?;
        let upload = Artifact::new(
            Arc::new(placed.worker.for_build(self.owner.clone())),
            VolumeHandle(volume),
        );
        if let Ok(mut inputs) = self.inputs.lock() {
            inputs.push((id, upload.clone()));
        }
        Ok(upload)
    }

    async fn output(&self, name: &str, output: &Artifact) -> Result<(), String> {
        let volume = &output.volume;
        let artifact = self
            .store
            .create_artifact(
                self.team,
                name,
                Some(self.build.id),
                &volume.0,
                crate::now(),
            )
            .await
            .map_err(|err| err.to_string())?;
        self.store
            .keep_volume_as_artifact(&concorde_store::VolumeHandle(volume.0.clone()), artifact.id)
            .await
            .map_err(|err| err.to_string())
    }
}
