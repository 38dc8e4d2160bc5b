//! One-off builds and artifacts: created `started` without a start time, begun once by one
//! tracker, their private plan dropped when they finish; artifacts belong to a team and a
//! volume, and a build's kept outputs are listed with it.

use concorde_store::testing::TestStore;
use concorde_store::{BuildStatus, NewOneOffBuild, StoreError, TeamId, Timestamp};

use crate::fixtures::team;

store_test!(
    a_one_off_build_is_begun_once_and_forgets_its_plan,
    artifacts_belong_to_a_team_and_a_build,
);

fn one_off(team: TeamId, at: i64, plan: &serde_json::Value) -> NewOneOffBuild<'_> {
    NewOneOffBuild {
        team,
        pipeline: None,
        plan,
        private_plan: plan,
        created_by: Some("alice"),
        now: Timestamp(at),
    }
}

async fn a_one_off_build_is_begun_once_and_forgets_its_plan(db: &TestStore) {
    let store = &db.store;
    let main = team(store, "main").await;
    let plan = serde_json::json!({"id": "1", "task": {"name": "one-off"}});
    let first = store
        .create_one_off_build(&one_off(main.id, 5, &plan))
        .await
        .unwrap();
    let second = store
        .create_one_off_build(&one_off(main.id, 6, &plan))
        .await
        .unwrap();
    assert_eq!(
        (
            first.name.as_str(),
            second.name.as_str(),
            first.status,
            first.start_time
        ),
        ("1", "2", BuildStatus::Started, None)
    );
    let unfinished = store.unfinished_one_off_builds().await.unwrap();
    assert_eq!(unfinished.len(), 2);
    assert_eq!(unfinished[0].private_plan.as_ref(), Some(&plan));

    assert!(
        store
            .begin_one_off_build(first.id, Timestamp(7))
            .await
            .unwrap()
    );
    assert!(
        !store
            .begin_one_off_build(first.id, Timestamp(8))
            .await
            .unwrap()
    );
    assert_eq!(
        store.build(first.id).await.unwrap().start_time,
        Some(Timestamp(7))
    );
    store
        .finish_build(first.id, BuildStatus::Succeeded, Timestamp(9))
        .await
        .unwrap();
    let left = store.unfinished_one_off_builds().await.unwrap();
    assert_eq!(
        left.iter().map(|b| b.build.id).collect::<Vec<_>>(),
        [second.id]
    );
    let listed = store.list_one_off_builds(main.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|b| b.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert!(matches!(
        store
            .create_one_off_build(&one_off(TeamId(999), 1, &plan))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn artifacts_belong_to_a_team_and_a_build(db: &TestStore) {
    let store = &db.store;
    let main = team(store, "main").await;
    let plan = serde_json::json!({});
    let build = store
        .create_one_off_build(&one_off(main.id, 1, &plan))
        .await
        .unwrap();
    let upload = store
        .create_artifact(main.id, "", None, "artifact-a", Timestamp(2))
        .await
        .unwrap();
    let kept = store
        .create_artifact(main.id, "out", Some(build.id), "vol-b", Timestamp(3))
        .await
        .unwrap();
    assert_eq!(store.artifact(upload.id).await.unwrap(), upload);
    assert_eq!(
        (upload.team_id, upload.volume.as_deref(), upload.build_id),
        (Some(main.id), Some("artifact-a"), None)
    );
    assert_eq!(
        store.build_artifacts(build.id).await.unwrap(),
        vec![kept.clone()]
    );
    store.delete_artifact(kept.id).await.unwrap();
    assert!(matches!(
        store.artifact(kept.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let bad = store
        .create_artifact(
            main.id,
            "x",
            Some(concorde_store::BuildId(999)),
            "v",
            Timestamp(5),
        )
        .await;
    assert!(matches!(bad, Err(StoreError::NotFound { .. })), "{bad:?}");
}
