//! The scheduler: for each job whose scheduling was requested, resolves the next build's inputs
//! through the store's versions view, saves them (or why not), and creates a build when a
//! `trigger: true` input's version differs from the one the job's previous build used.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use concorde_config::model::{GetVersion, Pipeline};
use concorde_sched::{InputConfig, PinnedVersion};
use concorde_store::{JobId, NewBuild, NextBuildInput, Resource, Store, Topic};
use tracing::{debug, warn};

use crate::components::{Component, Tick};

/// Jobs claimed per tick.
const JOBS_PER_TICK: i64 = 100;

/// The scheduler component.
pub struct Scheduler {
    store: Store,
}

impl Scheduler {
    /// A scheduler over `store`.
    pub fn new(store: Store) -> Scheduler {
        Scheduler { store }
    }
}

#[async_trait::async_trait]
impl Component for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn wake_topics(&self) -> Vec<Topic> {
        vec![Topic::JobScheduling]
    }

    async fn tick(&self) -> anyhow::Result<Tick> {
        let jobs = self
            .store
            .claim_jobs_to_schedule(crate::now(), JOBS_PER_TICK)
            .await?;
        let busy = i64::try_from(jobs.len()).unwrap_or(0) >= JOBS_PER_TICK;
        for job in jobs {
            let Some(lock) = crate::components::job_lock(&self.store, job).await? else {
                // The tracker is starting this job's builds. The claim above consumed the
                // request: ask again, or a build waiting for these inputs would wait until
                // something else asked (a manual trigger left pending for minutes).
                self.store.request_job_schedule(job, crate::now()).await?;
                continue;
            };
            if let Err(err) = self.schedule(job).await {
                warn!(job = %job, error = %format!("{err:#}"), "could not schedule job");
            }
            lock.release().await?;
        }
        Ok(if busy { Tick::Busy } else { Tick::Idle })
    }
}

impl Scheduler {
    async fn schedule(&self, job_id: JobId) -> anyhow::Result<()> {
        let job = self.store.job(job_id).await?;
        let pipeline = self.store.pipeline(job.pipeline_id).await?;
        if !job.active || pipeline.archived || pipeline.paused {
            return Ok(());
        }
        let model = self.store.pipeline_model(&pipeline)?;
        let config = crate::pipeline_model::job(&model, &job.name)
            .context("job is not in its pipeline's config")?;
        let resources: HashMap<String, Resource> = self
            .store
            .list_resources(pipeline.id)
            .await?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let mut job_ids: HashMap<String, JobId> = HashMap::new();
        for other in self.store.list_jobs(pipeline.id).await? {
            job_ids.insert(other.name.clone(), other.id);
        }
        let gets = config.get_steps();
        let mut inputs = Vec::with_capacity(gets.len());
        for get in &gets {
            let resource = resources
                .get(get.resource_name())
                .with_context(|| format!("unknown resource {}", get.resource_name()))?;
            inputs.push(input_config(&model, get, resource, &job_ids)?);
        }
        let resolution = self.store.resolve_inputs(job_id, inputs).await?;
        let next: Vec<NextBuildInput> = gets
            .iter()
            .zip(&resolution.inputs)
            .map(|(get, result)| match result {
                Ok(resolved) => NextBuildInput {
                    input_name: get.name.clone(),
                    resource_id: resources.get(get.resource_name()).map(|r| r.id),
                    version_digest: Some(resolved.digest.as_str().to_owned()),
                    first_occurrence: resolved.first_occurrence,
                    passed_build_ids: resolved.passed_build_ids.clone(),
                    resolve_error: None,
                },
                Err(err) => NextBuildInput {
                    input_name: get.name.clone(),
                    resource_id: resources.get(get.resource_name()).map(|r| r.id),
                    version_digest: None,
                    first_occurrence: false,
                    passed_build_ids: Vec::new(),
                    resolve_error: Some(err.to_string()),
                },
            })
            .collect();
        self.store.save_next_build_inputs(job_id, &next).await?;
        if resolution.has_next {
            // `version: every` has more to go: come back for the next one.
            self.store
                .request_job_schedule(job_id, crate::now())
                .await?;
        }
        if job.paused || !resolution.ok() {
            return Ok(());
        }
        // A pending build takes the latest inputs when it starts: no need for another one.
        if !self.store.pending_builds(job_id).await?.is_empty() {
            debug!(job = %job.name, "a build is already pending");
            return Ok(());
        }
        let previous = self.previous_inputs(job_id).await?;
        let triggered = gets.iter().zip(&resolution.inputs).any(|(get, result)| {
            get.trigger
                && result.as_ref().is_ok_and(|resolved| {
                    previous.as_ref().is_none_or(|previous| {
                        previous.get(&get.name) != Some(&resolved.digest.as_str().to_owned())
                    })
                })
        });
        if !triggered {
            return Ok(());
        }
        let build = self
            .store
            .create_job_build(&NewBuild {
                job: job_id,
                manually_triggered: false,
                created_by: None,
                now: crate::now(),
            })
            .await?;
        debug!(job = %job.name, build = %build.name, "created build");
        Ok(())
    }
}

impl Scheduler {
    /// The inputs (name → digest) of the job's most recent build that has them; `None` when
    /// no build ever got inputs. A build is created when a trigger input differs from these,
    /// so pinning an older version, or unpinning back, runs the job again.
    async fn previous_inputs(&self, job: JobId) -> anyhow::Result<Option<HashMap<String, String>>> {
        for build in self.store.list_job_builds(job, None, 20).await? {
            let inputs = self.store.build_versions(build.id, false).await?;
            if !inputs.is_empty() {
                return Ok(Some(
                    inputs
                        .into_iter()
                        .map(|input| (input.name, input.version_digest))
                        .collect(),
                ));
            }
        }
        Ok(None)
    }
}

/// The resolver's view of one `get` step.
fn input_config(
    model: &Pipeline,
    get: &concorde_config::model::GetStep,
    resource: &Resource,
    job_ids: &HashMap<String, JobId>,
) -> anyhow::Result<InputConfig> {
    let mut input = InputConfig::latest(&get.name, resource.id);
    let passed: Vec<JobId> = get
        .passed
        .iter()
        .flat_map(|entry| model.jobs_matching(entry))
        .filter_map(|name| job_ids.get(name))
        .copied()
        .collect();
    if !passed.is_empty() {
        input = input.with_passed(passed);
    }
    match &get.version {
        Some(GetVersion::Every) => input = input.with_every(),
        Some(GetVersion::Pinned(version)) => input = input.with_pin(PinnedVersion(version.clone())),
        Some(GetVersion::Latest) | None => {
            if let Some(pin) = resource.pinned_version() {
                input = input.with_pin(PinnedVersion(pin.clone()));
            }
        }
    }
    Ok(input)
}
