//! A harness for engine tests: pipelines from YAML, run on the real host runtime in a temp dir.

#![allow(dead_code)]

pub mod one_worker;
pub mod unrecorded;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline};
use concorde_engine::{
    BaseResourceType, BuildContext, BuildEvent, BuildStatus, CacheLocks, CollectingSink, RunEnv,
    compile_job_plan, run_build,
};
use concorde_worker::{HostRuntime, Runtime};

/// One worker directory shared by the builds of a test.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub runtime: Arc<dyn Runtime>,
    /// The worker client every build of the harness shares (its resource caches with it).
    pub worker: Arc<unrecorded::UnrecordedWorker>,
    /// The base resource types the worker provides.
    pub base_types: HashMap<String, BaseResourceType>,
    pub cache_locks: Arc<CacheLocks>,
}

/// A finished build.
pub struct Finished {
    pub status: BuildStatus,
    pub events: Vec<BuildEvent>,
    pub log: String,
}

impl Finished {
    pub fn event_types(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .map(|event| event.kind().name())
            .collect()
    }

    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| match event {
                BuildEvent::Error { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = HostRuntime::new(dir.path())
            .expect("host runtime")
            .with_kill_grace(std::time::Duration::from_millis(200));
        let runtime: Arc<dyn Runtime> = Arc::new(runtime);
        Harness {
            dir,
            worker: Arc::new(unrecorded::UnrecordedWorker::new(
                runtime.clone(),
                Some("pipeline/job"),
            )),
            runtime,
            base_types: HashMap::new(),
            cache_locks: Arc::default(),
        }
    }

    /// The harness with a worker that provides `types`.
    pub fn with_base_types(mut self, types: impl IntoIterator<Item = BaseResourceType>) -> Harness {
        self.base_types = types
            .into_iter()
            .map(|base| (base.name.clone(), base))
            .collect();
        self
    }

    /// The placer of the harness's builds: every step on its one worker.
    pub fn placer(&self) -> Arc<one_worker::OneWorker> {
        Arc::new(one_worker::OneWorker::new(
            self.worker.clone(),
            self.base_types.clone(),
        ))
    }

    /// A run environment for build `build_id` of job `job`.
    pub fn env(&self, build_id: i64, events: Arc<CollectingSink>) -> RunEnv {
        let context = BuildContext {
            build_id,
            build_name: build_id.to_string(),
            job_name: Some("job".to_owned()),
            pipeline_name: Some("pipeline".to_owned()),
            team_name: "main".to_owned(),
            ..BuildContext::default()
        };
        RunEnv::new(context, self.placer(), events, self.cache_locks.clone())
    }

    /// Compiles the first job of `yaml` and runs it; `configure` adjusts the environment.
    pub async fn run(
        &self,
        build_id: i64,
        yaml: &str,
        configure: impl FnOnce(&mut RunEnv),
    ) -> Finished {
        let pipeline = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
            .expect("pipeline loads")
            .pipeline;
        let plan =
            compile_job_plan(&pipeline, &pipeline.jobs[0], &BTreeMap::new()).expect("compiles");
        let events = Arc::new(CollectingSink::default());
        let mut env = self.env(build_id, events.clone());
        configure(&mut env);
        let status = run_build(Arc::new(env), &plan).await;
        Finished {
            status,
            events: events.events(),
            log: events.log_text(),
        }
    }
}

/// A job whose plan is `plan` (YAML list items, indented by four spaces).
pub fn job(plan: &str) -> String {
    format!("jobs:\n- name: job\n  plan:\n{plan}")
}

/// An inline task step running `script` with sh.
pub fn task(name: &str, script: &str, extra_config: &str) -> String {
    format!(
        "  - task: {name}\n    config:\n      platform: linux\n{extra_config}      run:\n        path: sh\n        args: [-c, {script:?}]\n"
    )
}
