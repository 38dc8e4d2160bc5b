//! Check builds: created pending with their target's public plan and `from` version, claimed
//! by checkers, started once, errored with events kept, and forgotten once superseded.

use concorde_store::testing::TestStore;
use concorde_store::{BuildStatus, CheckTarget, NewCheckBuild, StoreError, Timestamp, Topic};

use crate::fixtures::{config, set_by_user, team};

store_test!(
    a_check_build_is_pending_until_one_checker_starts_it,
    superseded_check_builds_are_forgotten_but_the_last_is_kept,
    resource_types_have_check_builds_too,
    build_ids_are_never_reused,
);

const YAML: &str = "resource_types:
- name: custom
  type: registry-image
  source: {repository: secret/image, password: hunter2}
resources:
- name: repo
  type: custom
  source: {uri: x, private_key: hunter2}
jobs:
- name: unit
  plan:
  - get: repo
";

async fn setup(db: &TestStore) -> (concorde_store::Resource, concorde_store::ResourceType) {
    let store = &db.store;
    let main = team(store, "main").await;
    let pipeline = set_by_user(store, &main, "p", &config(YAML), 0)
        .await
        .unwrap();
    let repo = store.list_resources(pipeline.id).await.unwrap().remove(0);
    let custom = store
        .list_resource_types(pipeline.id)
        .await
        .unwrap()
        .remove(0);
    (repo, custom)
}

fn manual(
    target: CheckTarget,
    from: Option<&concorde_config::model::VersionMap>,
    at: i64,
) -> NewCheckBuild<'_> {
    NewCheckBuild {
        target,
        from,
        manually_triggered: true,
        created_by: Some("alice"),
        now: Timestamp(at),
    }
}

async fn a_check_build_is_pending_until_one_checker_starts_it(db: &TestStore) {
    let store = &db.store;
    let (repo, _) = setup(db).await;
    let target = CheckTarget::Resource(repo.id);
    let mut listener = store.listen(&[Topic::CheckRequested]).await.unwrap();
    let from = crate::fixtures::version(r#"{"ref":"abc"}"#);
    let build = store
        .create_check_build(&manual(target, Some(&from), 5))
        .await
        .unwrap();
    let note = concorde_store::testing::next_named_notification(&mut listener).await;
    assert_eq!(note.payload, build.id.to_string());
    assert_eq!(
        (
            build.name.as_str(),
            build.status,
            build.resource_id,
            build.job_id,
            build.created_by.as_deref(),
            build.manually_triggered,
        ),
        (
            "check",
            BuildStatus::Pending,
            Some(repo.id),
            None,
            Some("alice"),
            true
        )
    );
    assert_eq!(
        build.plan,
        Some(
            serde_json::json!({"id": "check", "check": {"name": "repo", "type": "custom", "resource": "repo"}})
        ),
        "the plan names what is checked and never its source"
    );
    assert_eq!(
        store.resource(repo.id).await.unwrap().last_check_build_id,
        Some(build.id)
    );
    let unfinished = store.unfinished_check_builds().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(
        (
            unfinished[0].build.id,
            unfinished[0].target,
            unfinished[0].from.as_ref()
        ),
        (build.id, target, Some(&from))
    );

    assert!(
        store
            .start_check_build(build.id, Timestamp(6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .start_check_build(build.id, Timestamp(7))
            .await
            .unwrap(),
        "a check build starts once"
    );
    let started = store.build(build.id).await.unwrap();
    assert_eq!(
        (started.status, started.start_time),
        (BuildStatus::Started, Some(Timestamp(6)))
    );
    store
        .finish_build(build.id, BuildStatus::Failed, Timestamp(8))
        .await
        .unwrap();
    assert!(store.unfinished_check_builds().await.unwrap().is_empty());

    // Aborted while pending, a check build never starts.
    let aborted = store
        .create_check_build(&manual(target, None, 9))
        .await
        .unwrap();
    store.abort_build(aborted.id, Timestamp(10)).await.unwrap();
    assert_eq!(
        store.build(aborted.id).await.unwrap().status,
        BuildStatus::Aborted
    );
    assert!(
        !store
            .start_check_build(aborted.id, Timestamp(11))
            .await
            .unwrap()
    );

    let missing = CheckTarget::Resource(concorde_store::ResourceId(999));
    assert!(matches!(
        store.create_check_build(&manual(missing, None, 12)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn superseded_check_builds_are_forgotten_but_the_last_is_kept(db: &TestStore) {
    let store = &db.store;
    let (repo, _) = setup(db).await;
    let target = CheckTarget::Resource(repo.id);
    let mut ids = Vec::new();
    for at in [1, 2, 3] {
        let build = store
            .create_check_build(&manual(target, None, at))
            .await
            .unwrap();
        assert!(
            store
                .start_check_build(build.id, Timestamp(at))
                .await
                .unwrap()
        );
        store
            .finish_build(build.id, BuildStatus::Succeeded, Timestamp(at * 100))
            .await
            .unwrap();
        ids.push(build.id);
    }
    // Builds that ended at 100 and 200 are older than 250; 300 is the last one anyway.
    assert_eq!(
        store
            .forget_check_builds(target, Timestamp(250))
            .await
            .unwrap(),
        2
    );
    let kept = store.builds_by_id(&ids).await.unwrap();
    assert_eq!(kept.iter().map(|b| b.id).collect::<Vec<_>>(), vec![ids[2]]);
    assert_eq!(
        store
            .forget_check_builds(target, Timestamp(10_000))
            .await
            .unwrap(),
        0,
        "the last check build stays whatever its age"
    );
}

async fn resource_types_have_check_builds_too(db: &TestStore) {
    let store = &db.store;
    let (repo, custom) = setup(db).await;
    let target = CheckTarget::ResourceType(custom.id);
    let build = store
        .create_check_build(&manual(target, None, 1))
        .await
        .unwrap();
    assert_eq!(
        (build.resource_type_id, build.resource_id),
        (Some(custom.id), None)
    );
    assert_eq!(
        build
            .plan
            .as_ref()
            .and_then(|plan| plan.pointer("/check/resource_type")),
        Some(&serde_json::json!("custom"))
    );
    let kind = store.resource_type(custom.id).await.unwrap();
    assert_eq!(kind.last_check_build_id, Some(build.id));
    store.start_check(target, Timestamp(2)).await.unwrap();
    assert_eq!(
        store
            .resource_type(custom.id)
            .await
            .unwrap()
            .last_check_start,
        Some(Timestamp(2))
    );

    // A resource whose custom type changed is due at once.
    store
        .start_check(CheckTarget::Resource(repo.id), Timestamp(3))
        .await
        .unwrap();
    let main = store.team_by_name("main").await.unwrap();
    let changed = YAML.replace("secret/image", "other/image");
    set_by_user(store, &main, "p", &config(&changed), 1)
        .await
        .unwrap();
    assert_eq!(
        store.resource(repo.id).await.unwrap().last_check_start,
        None
    );
}

async fn build_ids_are_never_reused(db: &TestStore) {
    let store = &db.store;
    let (repo, _) = setup(db).await;
    let target = CheckTarget::Resource(repo.id);
    let first = store
        .create_check_build(&manual(target, None, 1))
        .await
        .unwrap();
    let newest = store
        .create_check_build(&manual(target, None, 2))
        .await
        .unwrap();
    for build in [&first, &newest] {
        assert!(
            store
                .start_check_build(build.id, Timestamp(2))
                .await
                .unwrap()
        );
        store
            .finish_build(build.id, BuildStatus::Succeeded, Timestamp(3))
            .await
            .unwrap();
    }
    // The newest build goes with its pipeline; SQLite would hand its id out again.
    let main = store.team_by_name("main").await.unwrap();
    let pipeline = store.pipeline(repo.pipeline_id).await.unwrap();
    store.delete_pipeline(pipeline.id).await.unwrap();
    let again = set_by_user(store, &main, "p", &config(YAML), 0)
        .await
        .unwrap();
    let repo = store.list_resources(again.id).await.unwrap().remove(0);
    let next = store
        .create_check_build(&manual(CheckTarget::Resource(repo.id), None, 4))
        .await
        .unwrap();
    assert!(next.id > newest.id, "{:?} after {:?}", next.id, newest.id);
}
