//! Builders for the rows most tests need: a team, a pipeline with jobs and resources, workers.

use concorde_config::UnknownKeys;
use concorde_config::model::Pipeline as PipelineConfig;
use concorde_config::vars::StaticVars;
use concorde_store::{
    Pipeline, SetBy, SetPipeline, Store, StoreError, Team, Timestamp, Worker, WorkerName,
    WorkerResourceType, WorkerSpec,
};

/// A version document from its JSON text.
pub fn version(json: &str) -> concorde_config::model::VersionMap {
    serde_json::from_str(json).expect("a version is an object of strings")
}

/// A team named `name`.
pub async fn team(store: &Store, name: &str) -> Team {
    store
        .create_team(name, false, &serde_json::json!({}))
        .await
        .expect("create team")
}

/// The simple pipeline: resource `repo`, jobs `unit` (triggered by repo) and `deploy` (repo
/// passed unit). `unit_extra` is added to unit's job config (indented as its keys).
pub fn simple_config(unit_extra: &str) -> PipelineConfig {
    config(&format!(
        "resources:
- name: repo
  type: git
  source: {{uri: x}}
jobs:
- name: unit
  {unit_extra}
  plan:
  - get: repo
    trigger: true
- name: deploy
  plan:
  - get: repo
    trigger: true
    passed: [unit]
"
    ))
}

/// A resource source `{uri: <uri>}`: distinct uris are distinct resource configs.
pub fn source(uri: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut source = serde_json::Map::new();
    source.insert("uri".to_owned(), uri.into());
    source
}

/// A pipeline config from YAML.
pub fn config(yaml: &str) -> PipelineConfig {
    concorde_config::load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
        .expect("fixture pipeline loads")
        .pipeline
}

/// Sets `config` as pipeline `name` of `team` through the API's rules.
pub async fn set_by_user(
    store: &Store,
    team: &Team,
    name: &str,
    config: &PipelineConfig,
    expected_version: i64,
) -> Result<Pipeline, StoreError> {
    let request = SetPipeline {
        team: team.id,
        name,
        instance_vars: None,
        config,
        set_by: SetBy::User { expected_version },
        now: Timestamp(1_000),
    };
    store.set_pipeline(&request).await.map(|set| set.pipeline)
}

/// The simple pipeline, new, as `name` of `team`.
pub async fn set_simple(store: &Store, team: &Team, name: &str) -> Pipeline {
    set_by_user(store, team, name, &simple_config(""), 0)
        .await
        .expect("set pipeline")
}

/// A team `main` and the simple pipeline `p` in it.
pub async fn simple_pipeline(store: &Store) -> (Team, Pipeline) {
    let team = team(store, "main").await;
    let pipeline = set_simple(store, &team, "p").await;
    (team, pipeline)
}

/// A worker spec named `name`: linux, untagged, global, advertising `git` and `time`.
pub fn worker_spec(name: &str) -> WorkerSpec {
    WorkerSpec {
        name: WorkerName::new(name),
        addr: Some(format!("{name}:7777")),
        baggageclaim_url: Some(format!("http://{name}:7788")),
        platform: "linux".into(),
        resource_types: vec![resource_type("git", "1.0"), resource_type("time", "1.0")],
        version: "3.0".into(),
        start_time: Timestamp(1),
        ..WorkerSpec::default()
    }
}

/// A base resource type `name` at image version `version`.
pub fn resource_type(name: &str, version: &str) -> WorkerResourceType {
    WorkerResourceType {
        type_name: name.into(),
        image: format!("/types/{name}/rootfs.tgz"),
        version: version.into(),
        ..WorkerResourceType::default()
    }
}

/// Registers `worker_spec(name)` with a one-minute TTL at `Timestamp(1_000)`.
pub async fn worker(store: &Store, name: &str) -> Worker {
    let ttl = Some(std::time::Duration::from_secs(60));
    store
        .register_worker(&worker_spec(name), ttl, Timestamp(1_000))
        .await
        .expect("register worker")
}

/// Asserts `err` is a refused transition of a `kind` row that was in state `from`.
pub fn assert_refused(err: StoreError, kind: &str, from: &str) {
    assert!(
        matches!(&err, StoreError::InvalidTransition { kind: k, from: f, .. } if *k == kind && f == from),
        "expected a refused {kind} transition from {from}, got {err}"
    );
}

/// A one-off build of `team` created at `now`, with an empty plan.
pub fn one_off(
    team: concorde_store::TeamId,
    now: Timestamp,
) -> concorde_store::NewOneOffBuild<'static> {
    const EMPTY: &serde_json::Value = &serde_json::Value::Null;
    concorde_store::NewOneOffBuild {
        team,
        pipeline: None,
        plan: EMPTY,
        private_plan: EMPTY,
        created_by: None,
        now,
    }
}
