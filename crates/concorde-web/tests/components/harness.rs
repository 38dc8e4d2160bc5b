//! What every component test stands on: a throwaway store, a local worker on the host runtime
//! whose one resource type (`vtype`) is a set of shell scripts reading versions from a file the
//! test writes, tasks that block on gate files the test creates, and the store reads the
//! assertions need. Each test gets its own temporary directory, so tests run in parallel.

use std::path::{Path, PathBuf};
use std::time::Duration;

use concorde_store::testing::TestStore;
use concorde_store::{
    Build, BuildId, BuildStatus, CheckTarget, EventPayload, Job, NewBuild, NewCheckBuild, Pipeline,
    ResourceId, SetBy, SetPipeline, Store, Team, VersionKey,
};
use concorde_web::components::Component;
use concorde_web::components::checker::Checker;
use concorde_web::components::reaper::Reaper;
use concorde_web::components::scheduler::Scheduler;
use concorde_web::components::tracker::{Tracker, TrackerConfig};
use concorde_web::worker::{LocalWorker, RuntimeChoice};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a build or a check may take to reach the state a test waits for. Generous: the
/// machine runs many tests at once; a passing test never waits this long.
const DEADLINE: Duration = Duration::from_secs(60);
/// How often a wait re-reads the store.
const POLL: Duration = Duration::from_millis(20);

/// One test's world: a store, a worker, the tasks builds run on, and a `main` team.
pub struct Harness {
    /// The store under test.
    pub store: Store,
    /// The team every pipeline belongs to.
    pub team: Team,
    db: TestStore,
    dir: tempfile::TempDir,
    worker: LocalWorker,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Harness {
    /// A harness over `db`, with the `vtype` resource type installed on its worker.
    pub async fn new(db: TestStore) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let types = dir.path().join("types");
        write_version_type(&types);
        let store = db.store.clone();
        let worker = LocalWorker::start(
            &store,
            &dir.path().join("work"),
            RuntimeChoice::Host,
            Some(&types),
        )
        .expect("local worker");
        concorde_web::components::heartbeat::register_local_worker(&store, &worker)
            .await
            .expect("local worker registered");
        let team = store
            .create_team("main", true, &serde_json::json!({}))
            .await
            .expect("main team");
        Harness {
            store,
            team,
            db,
            dir,
            worker,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// A second node's store on the same database (its own connections and lock session).
    pub async fn second_node(&self) -> Store {
        self.db.second_node().await
    }

    /// A scheduler.
    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.store.clone())
    }

    /// A tracker on this node's store. Each tracker is a node's view of which builds it runs.
    pub fn tracker(&self) -> Tracker {
        self.tracker_on(&self.store)
    }

    /// A tracker running builds through `store` (another node's, say).
    pub fn tracker_on(&self, store: &Store) -> Tracker {
        let config = TrackerConfig {
            external_url: "http://localhost:8080".to_owned(),
            stop_builds: tokio_util::sync::CancellationToken::new(),
        };
        Tracker::new(
            store.clone(),
            concorde_web::placement::NodeWorkers::new(
                store,
                Some(&self.worker),
                Default::default(),
            ),
            config,
            None,
            self.tasks.clone(),
        )
    }

    /// A checker running its checks on `checks`, interrupted when the harness finishes.
    pub fn checker(&self, checks: TaskTracker) -> Checker {
        Checker::new(
            self.store.clone(),
            concorde_web::placement::NodeWorkers::new(
                &self.store,
                Some(&self.worker),
                Default::default(),
            ),
            self.shutdown.clone(),
            checks,
        )
    }

    /// What `check-resource` and a webhook do: a manually triggered check build of
    /// `resource`, which the checker runs.
    pub async fn request_check(&self, resource: ResourceId) -> Build {
        self.store
            .create_check_build(&NewCheckBuild {
                target: CheckTarget::Resource(resource),
                from: None,
                manually_triggered: true,
                created_by: None,
                now: concorde_store::Timestamp::now(),
            })
            .await
            .expect("check build")
    }

    /// A log reaper.
    pub fn reaper(&self) -> Reaper {
        Reaper::new(self.store.clone())
    }

    /// Sets pipeline `name` from `yaml` as `fly set-pipeline` does, which leaves a new
    /// pipeline paused.
    pub async fn set_pipeline(&self, name: &str, yaml: &str) -> Pipeline {
        let config = concorde_config::load_pipeline(
            yaml.as_bytes(),
            &concorde_config::vars::StaticVars::default(),
            concorde_config::UnknownKeys::Reject,
        )
        .unwrap_or_else(|err| panic!("pipeline {name} does not load: {err}\n{yaml}"))
        .pipeline;
        let request = SetPipeline {
            team: self.team.id,
            name,
            instance_vars: None,
            config: &config,
            set_by: SetBy::User {
                expected_version: 0,
            },
            now: concorde_web::now(),
        };
        let set = self
            .store
            .set_pipeline(&request)
            .await
            .expect("set pipeline");
        assert!(
            set.pipeline.paused,
            "a pipeline set by a user starts paused"
        );
        set.pipeline
    }

    /// Sets pipeline `name` from `yaml` and unpauses it.
    pub async fn set_running_pipeline(&self, name: &str, yaml: &str) -> Pipeline {
        let pipeline = self.set_pipeline(name, yaml).await;
        self.unpause_pipeline(&pipeline).await;
        self.store.pipeline(pipeline.id).await.expect("pipeline")
    }

    /// Unpauses `pipeline` (`fly unpause-pipeline`).
    pub async fn unpause_pipeline(&self, pipeline: &Pipeline) {
        self.store
            .set_pipeline_paused(pipeline.id, None, concorde_web::now())
            .await
            .expect("unpause pipeline");
    }

    /// The components of one web node over this harness's store.
    pub async fn node(&self) -> Node {
        let checks = TaskTracker::new();
        Node {
            checker: self.checker(checks.clone()),
            checks,
            scheduler: self.scheduler(),
            tracker: self.tracker(),
        }
    }

    /// A pipeline of the `vtype` resource `r` and one job `j`, with `settings` (lines indented
    /// for a job) and the `plan` steps.
    pub fn pipeline_with_r(&self, settings: &str, plan: &str) -> String {
        format!(
            "resources:\n{}jobs:\n- name: j\n{settings}  plan:\n{plan}",
            self.resource("r")
        )
    }

    /// Sets `yaml` as pipeline `p`, unpaused, and returns its job `j`.
    pub async fn running_job(&self, yaml: &str) -> Job {
        let pipeline = self.set_running_pipeline("p", yaml).await;
        self.job(&pipeline, "j").await
    }

    /// A `vtype` resource `name` checked on every checker tick, whose versions are what the
    /// test last wrote with [`Harness::write_versions`]. Indented for a `resources:` list.
    pub fn resource(&self, name: &str) -> String {
        format!(
            "- name: {name}\n  type: vtype\n  check_every: 0s\n  source: {{file: '{}'}}\n",
            self.versions_file(name).display()
        )
    }

    /// Makes the `vtype` resource `name` report versions `v: <each of values>`, oldest first.
    pub fn write_versions(&self, name: &str, values: &[&str]) {
        let versions: Vec<String> = values
            .iter()
            .map(|value| format!("{{\"v\":\"{value}\"}}"))
            .collect();
        let text = format!("[{}]", versions.join(","));
        std::fs::write(self.versions_file(name), text).expect("write versions");
    }

    /// A plan step (indented for a job's `plan:`) that runs until [`Harness::open_gate`]
    /// opens `gate`, holding its build `started` as long as the test needs.
    pub fn gated_task(&self, gate: &str) -> String {
        let dir = self.dir.path().display();
        // The loop also ends when the directory is gone, so a failed test leaves no process.
        let script = format!(
            "while [ -d {dir} ] && [ ! -f {dir}/gate-{gate} ] && [ ! -f {dir}/gate-all ]; do sleep 0.05; done"
        );
        format!(
            "  - task: wait-{gate}\n    config:\n      platform: linux\n      run: {{path: sh, args: [-c, '{script}']}}\n"
        )
    }

    /// Lets every task waiting on `gate` finish.
    pub fn open_gate(&self, gate: &str) {
        std::fs::write(self.dir.path().join(format!("gate-{gate}")), "").expect("open gate");
    }

    /// The job `name` of `pipeline`, as stored now.
    pub async fn job(&self, pipeline: &Pipeline, name: &str) -> Job {
        self.store
            .job_by_name(pipeline.id, name)
            .await
            .expect("job")
    }

    /// A manual trigger of `job`, as the API's `POST .../jobs/:job/builds` makes it.
    pub async fn trigger(&self, job: &Job) -> Build {
        let new = NewBuild {
            job: job.id,
            manually_triggered: true,
            created_by: Some("tester".to_owned()),
            now: concorde_web::now(),
        };
        self.store.create_job_build(&new).await.expect("trigger")
    }

    /// Every build of `job`, oldest first.
    pub async fn builds(&self, job: &Job) -> Vec<Build> {
        let mut builds = self
            .store
            .list_job_builds(job.id, None, 1000)
            .await
            .expect("builds");
        builds.reverse();
        builds
    }

    /// Name and status of every build of `job`, oldest first.
    pub async fn statuses(&self, job: &Job) -> Vec<(String, BuildStatus)> {
        self.builds(job)
            .await
            .into_iter()
            .map(|build| (build.name, build.status))
            .collect()
    }

    /// The build of `job` named `name`.
    pub async fn build(&self, job: &Job, name: &str) -> Build {
        self.builds(job)
            .await
            .into_iter()
            .find(|build| build.name == name)
            .unwrap_or_else(|| panic!("job {} has no build {name}", job.name))
    }

    /// The versions a build started with: input name and canonical version JSON.
    pub async fn inputs(&self, build: BuildId) -> Vec<(String, String)> {
        let mut inputs = Vec::new();
        for input in self
            .store
            .build_versions(build, false)
            .await
            .expect("inputs")
        {
            let resource = self
                .store
                .resource(input.resource_id)
                .await
                .expect("resource");
            let scope = resource.scope_id.expect("a checked resource has a scope");
            let version = self
                .store
                .find_version(scope, VersionKey::Digest(&input.version_digest))
                .await
                .expect("find version")
                .expect("an input's version is saved");
            let text = serde_json::to_string(&version.version).expect("a version encodes");
            inputs.push((input.name, text));
        }
        inputs
    }

    /// The text of every log line of `build`.
    pub async fn log(&self, build: BuildId) -> String {
        self.store
            .build_events(build, 0, 10_000)
            .await
            .expect("events")
            .into_iter()
            .filter_map(|event| match event.payload {
                EventPayload::Log { output, .. } => Some(output),
                EventPayload::Other { .. } => None,
            })
            .collect()
    }

    /// Waits until `build` has `status`; fails at the deadline, or when it finishes otherwise.
    pub async fn wait_for_status(&self, build: BuildId, status: BuildStatus) -> Build {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let current = self.store.build(build).await.expect("build");
            if current.status == status {
                return current;
            }
            assert!(
                !current.status.is_finished(),
                "build {} finished {:?} while waiting for {status:?}:\n{}",
                current.name,
                current.status,
                self.log(build).await
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "build {} still {:?} after {DEADLINE:?}, waiting for {status:?}",
                current.name,
                current.status
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Opens every gate, waits for every build this harness's trackers started to finish, and
    /// deletes the database.
    async fn finish(self) {
        self.open_gate("all");
        self.tasks.close();
        tokio::time::timeout(DEADLINE, self.tasks.wait())
            .await
            .expect("every build finishes once its gates open");
        self.shutdown.cancel();
        self.db.cleanup().await;
        drop(self.dir);
    }

    pub fn versions_file(&self, resource: &str) -> PathBuf {
        self.dir.path().join(format!("versions-{resource}"))
    }
}

/// The checker, scheduler and tracker of one node.
pub struct Node {
    /// Its checker.
    pub checker: Checker,
    /// The tasks its checker's checks run on.
    pub checks: TaskTracker,
    /// Its scheduler.
    pub scheduler: Scheduler,
    /// Its tracker.
    pub tracker: Tracker,
}

impl Node {
    /// One checker tick, waiting for the checks it started.
    pub async fn check(&self) {
        self.checker.tick().await.expect("checker tick");
        self.checks.close();
        self.checks.wait().await;
        self.checks.reopen();
    }

    /// One checker tick (its checks finished), then one scheduler tick: new versions become
    /// builds.
    pub async fn check_and_schedule(&self) {
        self.check().await;
        self.scheduler.tick().await.expect("scheduler tick");
    }
}

/// Runs a test `body` on a harness over `db`, then finishes the harness.
pub async fn run(db: TestStore, body: impl AsyncFnOnce(&Harness)) {
    let harness = Harness::new(db).await;
    body(&harness).await;
    harness.finish().await;
}

/// Polls `probe` until it holds; fails with `what` at the deadline.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not after {DEADLINE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Expected `(name, status)` pairs, as [`Harness::statuses`] lists them.
pub fn named(builds: &[(&str, BuildStatus)]) -> Vec<(String, BuildStatus)> {
    builds
        .iter()
        .map(|(name, status)| ((*name).to_owned(), *status))
        .collect()
}

/// A step (indented for a job's `plan:`) getting `r`, triggering on its new versions.
pub const GET_R: &str = "  - get: r\n    trigger: true\n";

/// A task step (indented for a job's `plan:`) printing the version its `r` input fetched.
pub const SHOW_R: &str = "  - task: show\n    config:\n      platform: linux\n      inputs: [{name: r}]\n      run: {path: sh, args: [-c, 'echo fetched $(cat r/version)']}\n";

/// `{"v":"<value>"}`: a `vtype` version as the store keeps it (canonical JSON).
pub fn version(value: &str) -> String {
    format!("{{\"v\":\"{value}\"}}")
}

/// The `vtype` resource type in Concourse's layout under `dir`: `check` prints the JSON array
/// in the file its source names (none yet: `[]`), `in` echoes the requested version and
/// writes it to `<dest>/version`, `out` reports a fixed version.
fn write_version_type(dir: &Path) {
    let scripts = dir.join("vtype/rootfs/opt/resource");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    std::fs::write(
        dir.join("vtype/resource_metadata.json"),
        r#"{"type": "vtype", "version": "1.0"}"#,
    )
    .expect("metadata");
    // The request is one line of compact JSON; sed picks the fields out. A check keeps its
    // request beside the versions file, and fails with `<file>.fail` as its stderr if present.
    let check = r#"file=$(printf '%s' "$request" | sed -n 's/.*"file":"\([^"]*\)".*/\1/p')
printf '%s\n' "$request" > "$file.request"
if [ -f "$file.fail" ]; then cat "$file.fail" >&2; exit 1; fi
cat "$file" 2>/dev/null || echo '[]'"#;
    let get = r#"version=$(printf '%s' "$request" | sed -n 's/.*"version":\({[^}]*}\).*/\1/p')
printf '%s\n' "$version" > "$1/version"
printf '{"version":%s,"metadata":[]}\n' "$version""#;
    let put = r#"echo '{"version":{"v":"put"},"metadata":[]}'"#;
    for (name, body) in [("check", check), ("in", get), ("out", put)] {
        let path = scripts.join(name);
        std::fs::write(&path, format!("#!/bin/sh\nread -r request\n{body}\n")).expect("script");
        let mut permissions = std::fs::metadata(&path).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("chmod");
    }
}
