//! Builders for the rows most tests need: a team, a pipeline with jobs and resources, workers.

use concorde_store::{
    JobInputSpec, JobSpec, Pipeline, PipelineRef, ResourceSpec, SavePipeline, Store, StoreError,
    Team, Timestamp, Worker, WorkerName, WorkerResourceType, WorkerSpec,
};

/// A team named `name`.
pub async fn team(store: &Store, name: &str) -> Team {
    store
        .create_team(name, false, "{}")
        .await
        .expect("create team")
}

/// A pipeline save with resource `repo` and jobs `unit` (trigger on repo) and `deploy`
/// (repo passed unit).
pub fn simple_save(team: &Team, name: &str) -> SavePipeline {
    SavePipeline {
        pipeline: PipelineRef {
            team: team.id,
            name: name.into(),
            instance_vars: None,
        },
        config: r#"{"jobs":[]}"#.into(),
        expected_version: 0,
        jobs: vec![
            JobSpec {
                name: "unit".into(),
                config: "{}".into(),
                inputs: vec![JobInputSpec {
                    name: "repo".into(),
                    resource: "repo".into(),
                    passed: vec![],
                    trigger: true,
                }],
            },
            JobSpec {
                name: "deploy".into(),
                config: "{}".into(),
                inputs: vec![JobInputSpec {
                    name: "repo".into(),
                    resource: "repo".into(),
                    passed: vec!["unit".into()],
                    trigger: true,
                }],
            },
        ],
        resources: vec![ResourceSpec {
            name: "repo".into(),
            type_name: "git".into(),
            config: r#"{"source":{"uri":"x"}}"#.into(),
            ..ResourceSpec::default()
        }],
        resource_types: vec![],
        now: Timestamp(1_000),
    }
}

/// A team `main` and the simple pipeline `p` in it.
pub async fn simple_pipeline(store: &Store) -> (Team, Pipeline) {
    let team = team(store, "main").await;
    let pipeline = store
        .save_pipeline(&simple_save(&team, "p"))
        .await
        .expect("save pipeline");
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
