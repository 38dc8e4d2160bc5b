//! The build tracker: starts pending builds when their job has a free slot and their inputs
//! are known, and one-off builds as they come, runs them with the engine on the local worker,
//! stores every event, and fails builds cleanly when the node that ran them is gone.

mod inputs;
mod one_off;
mod run;
pub mod sink;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use concorde_store::{Build, BuildId, BuildStatus, Job, JobId, LockKey, Pipeline, Store, Topic};
use tracing::{info, warn};

use crate::components::{Component, Tick};
use crate::placement::NodeWorkers;

/// Settings of the tracker.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// The web node's external URL, for `ATC_EXTERNAL_URL`.
    pub external_url: String,
    /// Cancelled when the node stops and its running builds must stop too: they end
    /// `errored`, as a build of a node that went away does.
    pub stop_builds: tokio_util::sync::CancellationToken,
}

/// The build tracker component.
pub struct Tracker {
    store: Store,
    workers: NodeWorkers,
    config: TrackerConfig,
    /// Builds this node is running.
    running: Arc<Mutex<HashSet<BuildId>>>,
    setter: Option<Arc<dyn concorde_engine::PipelineSetter>>,
    tasks: tokio_util::task::TaskTracker,
}

impl Tracker {
    /// A tracker running builds on `workers`; spawned build tasks join `tasks`.
    pub fn new(
        store: Store,
        workers: NodeWorkers,
        config: TrackerConfig,
        setter: Option<Arc<dyn concorde_engine::PipelineSetter>>,
        tasks: tokio_util::task::TaskTracker,
    ) -> Tracker {
        Tracker {
            store,
            workers,
            config,
            running: Arc::default(),
            setter,
            tasks,
        }
    }

    fn clone_parts(&self) -> one_off::TrackerParts {
        one_off::TrackerParts {
            store: self.store.clone(),
            workers: self.workers.clone(),
            external_url: self.config.external_url.clone(),
            running: self.running.clone(),
            stop: self.config.stop_builds.clone(),
        }
    }

    fn is_running(&self, build: BuildId) -> bool {
        self.running
            .lock()
            .is_ok_and(|running| running.contains(&build))
    }
}

#[async_trait::async_trait]
impl Component for Tracker {
    fn name(&self) -> &'static str {
        "tracker"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn wake_topics(&self) -> Vec<Topic> {
        vec![Topic::JobScheduling]
    }

    /// Works only on the jobs the store says have an unfinished build (one claim query), not
    /// on every job of every pipeline.
    async fn tick(&self) -> anyhow::Result<Tick> {
        if let Err(err) = self.track_one_offs().await {
            warn!(error = %format!("{err:#}"), "could not track one-off builds");
        }
        if let Err(err) = self.expire_artifacts().await {
            warn!(error = %format!("{err:#}"), "could not expire artifacts");
        }
        let claimed = self.store.jobs_with_unfinished_builds().await?;
        if claimed.is_empty() {
            return Ok(Tick::Idle);
        }
        let team_names: HashMap<_, _> = self
            .store
            .list_teams()
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        // Claimed jobs come grouped by pipeline: read each pipeline and its jobs once.
        let mut current: Option<(Pipeline, Vec<Job>)> = None;
        for job in claimed {
            if current
                .as_ref()
                .is_none_or(|(pipeline, _)| pipeline.id != job.pipeline_id)
            {
                let pipeline = self.store.pipeline(job.pipeline_id).await?;
                let jobs = self.store.list_jobs(pipeline.id).await?;
                current = Some((pipeline, jobs));
            }
            let Some((pipeline, jobs)) = current.as_ref() else {
                continue;
            };
            let team_name = team_names
                .get(&pipeline.team_id)
                .with_context(|| format!("pipeline {}'s team is gone", pipeline.id))?;
            if let Err(err) = self.track_job(team_name, pipeline, &job, jobs).await {
                warn!(job = %job.name, job_id = %job.id, error = %format!("{err:#}"), "could not track job");
            }
        }
        Ok(Tick::Idle)
    }
}

impl Tracker {
    async fn track_job(
        &self,
        team_name: &str,
        pipeline: &Pipeline,
        job: &Job,
        all_jobs: &[Job],
    ) -> anyhow::Result<()> {
        let recent = self.store.list_job_builds(job.id, None, 50).await?;
        for build in recent
            .iter()
            .filter(|build| build.status == BuildStatus::Started)
        {
            self.fail_if_orphaned(build).await?;
        }
        if pipeline.archived || !job.active {
            // No config in effect: nothing new starts, but orphans above are still failed.
            return Ok(());
        }
        let pending = self.store.pending_builds(job.id).await?;
        if pending.is_empty() {
            return Ok(());
        }
        // Starting builds and creating them (the scheduler) must not interleave for one job, or
        // a build created from a resolution made just before another build took the same
        // inputs would run them again.
        let Some(job_lock) = crate::components::job_lock(&self.store, job.id).await? else {
            return Ok(());
        };
        let result = self
            .start_pending(team_name, pipeline, job, all_jobs, pending)
            .await;
        job_lock.release().await?;
        result
    }

    async fn start_pending(
        &self,
        team_name: &str,
        pipeline: &Pipeline,
        job: &Job,
        all_jobs: &[Job],
        pending: Vec<Build>,
    ) -> anyhow::Result<()> {
        let model = self.store.pipeline_model(pipeline)?;
        let Some(config) = crate::pipeline_model::job(&model, &job.name) else {
            return Ok(());
        };
        for build in pending {
            if build.aborted {
                self.store
                    .finish_build(build.id, BuildStatus::Aborted, crate::now())
                    .await?;
                continue;
            }
            if pipeline.paused
                || job.paused
                || !self.has_free_slot(config, job, all_jobs, &model).await?
            {
                break;
            }
            let Some(lock) = self
                .store
                .try_lock(LockKey::BuildTracking(build.id))
                .await?
            else {
                break;
            };
            let Some(versions) = inputs::determine(&self.store, &build, job).await? else {
                // Inputs not resolved yet: the build waits, and so do the ones after it.
                lock.release().await?;
                break;
            };
            let start = run::BuildRun {
                store: self.store.clone(),
                workers: self.workers.clone(),
                external_url: self.config.external_url.clone(),
                team_name: team_name.to_owned(),
                pipeline: pipeline.clone(),
                model: model.clone(),
                job: job.clone(),
                build,
                versions,
                setter: self.setter.clone(),
                running: self.running.clone(),
                stop: self.config.stop_builds.clone(),
            };
            start.spawn(lock, &self.tasks).await?;
        }
        Ok(())
    }

    /// A started build that no node holds the tracking lock for was being run by a node that
    /// is gone: it cannot be resumed, so it errors, with an event saying why.
    async fn fail_if_orphaned(&self, build: &Build) -> anyhow::Result<()> {
        if self.is_running(build.id) {
            return Ok(());
        }
        let Some(lock) = self
            .store
            .try_lock(LockKey::BuildTracking(build.id))
            .await?
        else {
            return Ok(());
        };
        let current = self.store.build(build.id).await?;
        if current.status == BuildStatus::Started && !self.is_running(build.id) {
            info!(build = %build.id, "failing a build whose node went away");
            self.store
                .append_build_events(
                    build.id,
                    &[crate::components::abort_watch::node_stopped_event()],
                )
                .await?;
            self.store
                .finish_build(build.id, BuildStatus::Errored, crate::now())
                .await?;
        }
        lock.release().await?;
        Ok(())
    }

    /// `serial`, `serial_groups` and `max_in_flight`: is there room for one more build?
    async fn has_free_slot(
        &self,
        config: &concorde_config::model::Job,
        job: &Job,
        all_jobs: &[Job],
        model: &concorde_config::model::Pipeline,
    ) -> anyhow::Result<bool> {
        let Some(limit) = config.max_running_builds() else {
            return Ok(true);
        };
        let sharing = model.jobs_sharing_serial_groups(config);
        let mut counted: Vec<JobId> = vec![job.id];
        counted.extend(
            all_jobs
                .iter()
                .filter(|other| sharing.iter().any(|shared| shared.name == other.name))
                .map(|other| other.id),
        );
        let mut running = 0;
        for job_id in counted {
            running += self
                .store
                .list_job_builds(job_id, None, 50)
                .await?
                .iter()
                .filter(|build| build.status == BuildStatus::Started)
                .count();
        }
        Ok(i64::try_from(running).unwrap_or(i64::MAX) < limit)
    }
}
