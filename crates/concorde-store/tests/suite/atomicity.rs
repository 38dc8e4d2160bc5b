//! The domain operations that must be one transaction: a connection that dies between two of
//! their statements (PostgreSQL: the server ends the session from a trigger; SQLite: a trigger
//! aborts the statement) leaves nothing half-done, and the next attempt succeeds.

use concorde_store::testing::TestStore;
use concorde_store::{
    BuildStatus, NewBuild, RecordedVersion, SetBy, SetPipeline, StartBuild, Store, StoreError,
    Timestamp,
};

use crate::fixtures::{config, set_simple, simple_config, team};

store_test!(
    setting_a_new_pipeline_dies_whole,
    updating_a_pipeline_dies_whole,
    starting_a_build_dies_whole
);

/// Makes every insert into `table` kill the connection (PostgreSQL) or fail (SQLite), in the
/// middle of whatever transaction runs it.
async fn break_inserts_into(db: &TestStore, table: &str) {
    let postgres = format!(
        "CREATE FUNCTION die() RETURNS trigger AS $$
         BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER die BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION die();"
    );
    let sqlite = format!(
        "CREATE TRIGGER die BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'connection lost'); END;"
    );
    run_sql(db, &postgres, &sqlite).await;
}

/// Undoes [`break_inserts_into`].
async fn repair(db: &TestStore, table: &str) {
    let postgres = format!("DROP TRIGGER die ON {table}; DROP FUNCTION die();");
    run_sql(db, &postgres, "DROP TRIGGER die;").await;
}

/// Runs `postgres` or `sqlite` on the test's database, from a connection of its own.
async fn run_sql(db: &TestStore, postgres: &str, sqlite: &str) {
    if db.store.backend_kind() == "postgres" {
        let pool = sqlx::PgPool::connect(&db.location).await.unwrap();
        sqlx::raw_sql(postgres).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let url = format!("sqlite://{}/concorde.db", db.location);
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlite).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

fn by_step<'a>(
    team: &concorde_store::Team,
    config: &'a concorde_config::model::Pipeline,
) -> SetPipeline<'a> {
    SetPipeline {
        team: team.id,
        name: "p",
        instance_vars: None,
        config,
        set_by: SetBy::Step {
            team: team.id,
            parent: None,
        },
        now: Timestamp(9_000),
    }
}

/// Everything a store says about pipeline `p` of `team`: its version and config, and each
/// job's and resource's name, activity and config.
async fn snapshot(store: &Store, team: &concorde_store::Team) -> Vec<String> {
    let mut lines = Vec::new();
    for pipeline in store.list_pipelines(team.id).await.unwrap() {
        lines.push(format!(
            "pipeline {} v{} {}",
            pipeline.name, pipeline.config_version, pipeline.config
        ));
        for job in store.list_jobs(pipeline.id).await.unwrap() {
            lines.push(format!("job {} {} {}", job.name, job.active, job.config));
        }
        for resource in store.list_resources(pipeline.id).await.unwrap() {
            lines.push(format!(
                "resource {} {} {}",
                resource.name, resource.active, resource.config
            ));
        }
    }
    lines
}

async fn setting_a_new_pipeline_dies_whole(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    break_inserts_into(db, "job_inputs").await;
    let err = store
        .set_pipeline(&by_step(&team, &simple_config("")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert!(
        store.list_pipelines(team.id).await.unwrap().is_empty(),
        "a pipeline was left half-set"
    );
    repair(db, "job_inputs").await;
    store
        .set_pipeline(&by_step(&team, &simple_config("")))
        .await
        .expect("the store works again once the connection does");
}

async fn updating_a_pipeline_dies_whole(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    set_simple(store, &team, "p").await;
    let before = snapshot(store, &team).await;
    break_inserts_into(db, "job_inputs").await;
    let changed = config(
        "resources:
- name: repo
  type: git
  source: {uri: y}
- name: other
  type: git
  source: {uri: z}
jobs:
- name: unit
  serial: true
  plan:
  - get: repo
  - get: other
    trigger: true
",
    );
    let err = store
        .set_pipeline(&by_step(&team, &changed))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert_eq!(
        snapshot(store, &team).await,
        before,
        "the update was half-applied"
    );
    repair(db, "job_inputs").await;
    let set = store.set_pipeline(&by_step(&team, &changed)).await.unwrap();
    assert_eq!(set.pipeline.config_version, 2);
    assert_ne!(snapshot(store, &team).await, before);
}

async fn starting_a_build_dies_whole(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    let pipeline = set_simple(store, &team, "p").await;
    let unit = store.job_by_name(pipeline.id, "unit").await.unwrap();
    let repo = store.list_resources(pipeline.id).await.unwrap().remove(0);
    let new_build = NewBuild {
        job: unit.id,
        manually_triggered: false,
        created_by: None,
        now: Timestamp(10),
    };
    let upstream = store.create_job_build(&new_build).await.unwrap();
    let build = store.create_job_build(&new_build).await.unwrap();
    let inputs = [RecordedVersion {
        name: "repo".into(),
        resource_id: repo.id,
        version_digest: "d1".into(),
    }];
    let start = StartBuild {
        id: build.id,
        inputs: &inputs,
        pipes: &[upstream.id],
        plan: &serde_json::json!({"do": []}),
        now: Timestamp(11),
    };
    break_inserts_into(db, "build_pipes").await;
    let err = store.start_build(&start).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    let after = store.build(build.id).await.unwrap();
    assert_eq!(
        after.status,
        BuildStatus::Pending,
        "started without its records"
    );
    assert!(
        store
            .build_versions(build.id, false)
            .await
            .unwrap()
            .is_empty(),
        "inputs recorded for a build that did not start"
    );
    repair(db, "build_pipes").await;
    store.start_build(&start).await.unwrap();
    assert_eq!(
        store.build(build.id).await.unwrap().status,
        BuildStatus::Started
    );
    assert_eq!(store.build_versions(build.id, false).await.unwrap(), inputs);
    assert_eq!(store.build_pipes(build.id).await.unwrap(), [upstream.id]);
}
