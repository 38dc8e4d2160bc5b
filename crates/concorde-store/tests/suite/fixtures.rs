//! Builders for the rows most tests need: a team, a pipeline with jobs and resources.

use concorde_store::{
    JobInputSpec, JobSpec, Pipeline, PipelineRef, ResourceSpec, SavePipeline, Store, Team,
    Timestamp,
};

/// A team named `name`.
pub async fn team(store: &Store, name: &str) -> Team {
    store.create_team(name, false, "{}").await.expect("create team")
}

/// A pipeline save with resource `repo` and jobs `unit` (trigger on repo) and `deploy`
/// (repo passed unit).
pub fn simple_save(team: &Team, name: &str) -> SavePipeline {
    SavePipeline {
        pipeline: PipelineRef { team: team.id, name: name.into(), instance_vars: None },
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
    let pipeline = store.save_pipeline(&simple_save(&team, "p")).await.expect("save pipeline");
    (team, pipeline)
}
