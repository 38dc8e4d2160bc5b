//! `old_name:` renames a job or a resource in place: the new name inherits the builds, the
//! build counter and the versions, unless the new name already has its own row.

use concorde_store::testing::TestStore;
use concorde_store::{NewBuild, NewVersion, Timestamp};

use crate::fixtures::{config, set_by_user, simple_pipeline};

store_test!(old_name_keeps_a_jobs_builds_and_a_resources_versions);

async fn old_name_keeps_a_jobs_builds_and_a_resources_versions(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let build = store
        .create_job_build(&NewBuild {
            job: unit.id,
            manually_triggered: true,
            created_by: None,
            now: Timestamp(1),
        })
        .await
        .unwrap();
    let config_id = store
        .find_or_create_resource_config("git", "git", &serde_json::Map::new(), Timestamp(1))
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config_id, Some(repo.id))
        .await
        .unwrap();
    store
        .set_resource_scope(repo.id, config_id, scope, Timestamp(1))
        .await
        .unwrap();
    let version = NewVersion {
        version: crate::fixtures::version(r#"{"ref":"a"}"#),
        metadata: serde_json::json!([]),
    };
    store
        .save_check_versions(scope, &[version], Timestamp(2))
        .await
        .unwrap();

    let renamed = config(
        "resources:\n- name: source\n  old_name: repo\n  type: git\n  source: {uri: x}\njobs:\n- name: test\n  old_name: unit\n  plan:\n  - get: source\n    trigger: true\n",
    );
    set_by_user(store, &team, "p", &renamed, 1).await.unwrap();
    let test = store.job_by_name(p.id, "test").await.unwrap();
    assert_eq!(test.id, unit.id, "the job row was renamed, not replaced");
    let builds = store.list_job_builds(test.id, None, 10).await.unwrap();
    assert_eq!(builds.iter().map(|b| b.id).collect::<Vec<_>>(), [build.id]);
    let source = store.resource(repo.id).await.unwrap();
    assert_eq!(
        (source.name.as_str(), source.scope_id),
        ("source", Some(scope))
    );
    assert_eq!(store.list_versions(scope, None, 10).await.unwrap().len(), 1);

    // Setting the same config again renames nothing more.
    set_by_user(store, &team, "p", &renamed, 2).await.unwrap();
    assert_eq!(store.job_by_name(p.id, "test").await.unwrap().id, unit.id);
}
