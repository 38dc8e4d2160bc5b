//! Starting one build: compile its plan, then record its inputs, pipes and plan and mark it
//! started (the store's `start_build`, one transaction), and run it on a task that stores its
//! events and outputs and finishes it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use concorde_config::model::JsonMap;
use concorde_engine::{BuildContext, RunEnv, compile_job_plan, run_build};
use concorde_store::{
    Build, BuildId, BuildStatus, Job, Lock, NewVersion, Pipeline, PutOutput, RecordedVersion,
    StartBuild, Store, Topic,
};
use concorde_workers::BuildOwner;
use tracing::{info, warn};

use crate::components::abort_watch;
use crate::components::tracker::inputs::ChosenInput;
use crate::components::tracker::sink::{OutputCollector, StoreEventSink};
use crate::placement::NodeWorkers;

/// Everything needed to start one build.
pub struct BuildRun {
    pub store: Store,
    pub workers: NodeWorkers,
    pub external_url: String,
    pub team_name: String,
    pub pipeline: Pipeline,
    pub model: std::sync::Arc<concorde_config::model::Pipeline>,
    pub job: Job,
    pub build: Build,
    pub versions: Vec<ChosenInput>,
    pub setter: Option<Arc<dyn concorde_engine::PipelineSetter>>,
    pub running: Arc<Mutex<HashSet<BuildId>>>,
    /// Cancelled when the node stops its builds.
    pub stop: tokio_util::sync::CancellationToken,
}

impl BuildRun {
    /// Records the inputs, marks the build started with its plan, and spawns its run. The
    /// tracking lock is held until the build finishes.
    pub async fn spawn(
        self,
        lock: Lock,
        tasks: &tokio_util::task::TaskTracker,
    ) -> anyhow::Result<()> {
        let store = &self.store;
        let build_id = self.build.id;
        let recorded: Vec<RecordedVersion> = self
            .versions
            .iter()
            .map(|input| RecordedVersion {
                name: input.name.clone(),
                resource_id: input.resource,
                version_digest: input.digest.clone(),
            })
            .collect();
        let mut pipes: Vec<BuildId> = self
            .versions
            .iter()
            .flat_map(|input| input.passed_build_ids.clone())
            .collect();
        pipes.sort();
        pipes.dedup();
        let config = crate::pipeline_model::job(&self.model, &self.job.name)
            .context("job vanished from its config")?;
        let versions: BTreeMap<String, concorde_config::model::VersionMap> = self
            .versions
            .iter()
            .map(|input| (input.name.clone(), input.version.clone()))
            .collect();
        let (plan, instance_vars) = match self.prepare(config, &versions) {
            Ok(ready) => ready,
            Err(err) => {
                warn!(build = %build_id, error = %err, "could not prepare the build");
                // Whoever watches the build learns why it ended.
                let events = [
                    abort_watch::build_error_event(&err),
                    abort_watch::status_event(BuildStatus::Errored),
                ];
                store.append_build_events(build_id, &events).await?;
                store
                    .finish_build(build_id, BuildStatus::Errored, crate::now())
                    .await?;
                lock.release().await?;
                return Ok(());
            }
        };
        // Only the public plan is kept: the API shows it to whoever may see the build, and
        // nothing reads a stored private plan (sources and params stay out of the database).
        let plan_json = plan.public();
        store
            .start_build(&StartBuild {
                id: build_id,
                inputs: &recorded,
                pipes: &pipes,
                plan: &plan_json,
                now: crate::now(),
            })
            .await?;
        if let Ok(mut running) = self.running.lock() {
            running.insert(build_id);
        }
        info!(build = %build_id, job = %self.job.name, name = %self.build.name, "started build");
        tasks.spawn(async move {
            if let Err(err) = self.run(plan, instance_vars).await {
                warn!(build = %build_id, error = %format!("{err:#}"), "build run failed");
            }
            if let Err(err) = lock.release().await {
                warn!(build = %build_id, error = %err, "could not release build lock");
            }
        });
        Ok(())
    }

    /// The build's plan and its pipeline's instance vars, or why the build cannot start.
    fn prepare(
        &self,
        config: &concorde_config::model::Job,
        versions: &BTreeMap<String, concorde_config::model::VersionMap>,
    ) -> Result<(concorde_engine::Plan, Option<JsonMap>), String> {
        let plan =
            compile_job_plan(&self.model, config, versions).map_err(|err| err.to_string())?;
        Ok((plan, self.pipeline.instance_vars.clone()))
    }

    async fn run(
        self,
        plan: concorde_engine::Plan,
        instance_vars: Option<JsonMap>,
    ) -> anyhow::Result<()> {
        let store = self.store.clone();
        let build_id = self.build.id;
        let (sink, writer) = StoreEventSink::start(store.clone(), build_id);
        let sink = Arc::new(sink);
        let outputs = Arc::new(OutputCollector::default());
        let context = BuildContext {
            build_id: build_id.0,
            build_name: self.build.name.clone(),
            job_name: Some(self.job.name.clone()),
            pipeline_name: Some(self.pipeline.name.clone()),
            pipeline_instance_vars: instance_vars,
            team_name: self.team_name.clone(),
            external_url: self.external_url.clone(),
            created_by: self.build.created_by.clone(),
        };
        let placer = self.workers.build_placer(BuildOwner {
            build: build_id,
            team: self.build.team_id,
            pipeline: Some(self.pipeline.id),
            job: Some(self.job.id),
            pipeline_name: Some(self.pipeline.name.clone()),
            job_name: Some(self.job.name.clone()),
            build_name: self.build.name.clone(),
            check_scope: None,
        });
        let mut env = RunEnv::new(
            context,
            placer,
            sink.clone(),
            self.workers.cache_locks.clone(),
        );
        env.recorder = Some(outputs.clone());
        env.pipeline_setter = self.setter.clone();
        let env = Arc::new(env);
        let watcher = abort_watch::watch(
            &store,
            build_id,
            env.clone(),
            self.stop.clone(),
            abort_watch::NODE_STOPPED,
        )
        .await?;
        let status = run_build(env, &plan).await;
        watcher.abort();
        sink.close();
        let _ = writer.await;
        self.save_outputs(&outputs.take()).await;
        // The tracking lock, held until this returns, keeps the build from being taken for
        // an orphan; a build whose pipeline was destroyed meanwhile fails to finish below.
        if let Ok(mut running) = self.running.lock() {
            running.remove(&build_id);
        }
        store.finish_build(build_id, status, crate::now()).await?;
        // Downstream jobs were asked to schedule; wake the scheduler rather than wait a tick.
        store
            .notify(Topic::JobScheduling, &self.job.id.to_string())
            .await?;
        info!(build = %build_id, status = status.as_str(), "finished build");
        Ok(())
    }

    /// Saves each put's version into its resource's history (a new version goes after the
    /// newest; a known one keeps its place) and as an output of the build, one transaction each.
    async fn save_outputs(
        &self,
        outputs: &[(
            String,
            concorde_config::model::VersionMap,
            Vec<concorde_engine::MetadataField>,
        )],
    ) {
        if outputs.is_empty() {
            return;
        }
        let resources = match self.store.list_resources(self.pipeline.id).await {
            Ok(resources) => resources,
            Err(err) => {
                warn!(error = %err, "could not save build outputs");
                return;
            }
        };
        for (name, version, metadata) in outputs {
            let Some(resource) = resources.iter().find(|r| &r.name == name) else {
                continue;
            };
            let plan_id = concorde_engine::PlanId(format!("put-{}", resource.id.0));
            let scope = match crate::components::scope::ensure_scope(
                &self.store,
                &self.model,
                resource,
                &plan_id,
            )
            .await
            {
                Ok(scope) => Some(scope.scope),
                Err(err) => {
                    warn!(resource = %name, error = %format!("{err:#}"), "could not find the resource's scope");
                    None
                }
            };
            let output = PutOutput {
                build: self.build.id,
                resource: resource.id,
                name: name.clone(),
                scope,
                version: NewVersion {
                    version: version.clone(),
                    metadata: serde_json::json!(metadata),
                },
                now: crate::now(),
            };
            if let Err(err) = self.store.save_put_output(&output).await {
                warn!(resource = %name, error = %err, "could not save put output");
            }
        }
    }
}
