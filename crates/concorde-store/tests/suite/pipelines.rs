//! Pipelines, jobs, resources, versions and their check-order rule.

use concorde_store::testing::TestStore;
use concorde_store::{
    CheckOutcome, MAX_CONFIG_BYTES, NewVersion, PipelineRef, StoreError, Timestamp, version_digest,
};

use crate::fixtures::{simple_pipeline, simple_save, team};

store_test!(
    save_pipeline_with_optimistic_concurrency,
    pipeline_switches,
    bad_pipeline_input_is_typed,
    jobs_and_schedule_claims,
    check_order_rule_and_disabling,
    find_version_by_digest_and_id,
    resource_checks_scopes_and_pins
);

fn v(version: &str) -> NewVersion {
    NewVersion {
        version: version.into(),
        metadata: "null".into(),
    }
}

async fn save_pipeline_with_optimistic_concurrency(db: &TestStore) {
    let store = &db.store;
    let (team, first) = simple_pipeline(store).await;
    assert_eq!(
        (first.config_version, first.paused, first.ordering),
        (1, true, 1)
    );
    let stale = simple_save(&team, "p");
    let err = store.save_pipeline(&stale).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ConfigVersionMismatch {
                expected: 0,
                actual: 1
            }
        ),
        "{err}"
    );
    let mut next = simple_save(&team, "p");
    next.expected_version = 1;
    next.jobs.truncate(1);
    let second = store.save_pipeline(&next).await.unwrap();
    assert_eq!((second.id, second.config_version), (first.id, 2));
    let names: Vec<_> = store
        .list_jobs(first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(names, ["unit"], "removed jobs become inactive");
    let mut instanced = simple_save(&team, "p");
    instanced.pipeline.instance_vars = Some(r#"{"b":1,"a":2}"#.into());
    let inst = store.save_pipeline(&instanced).await.unwrap();
    assert_eq!(inst.instance_vars.as_deref(), Some(r#"{"a":2,"b":1}"#));
    let found = store
        .pipeline_by_ref(&PipelineRef {
            team: team.id,
            name: "p".into(),
            instance_vars: Some(r#"{"a":2,"b":1}"#.into()),
        })
        .await
        .unwrap();
    assert_eq!(found.id, inst.id);
    assert_eq!(store.list_pipelines(team.id).await.unwrap().len(), 2);
}

async fn pipeline_switches(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    store
        .set_pipeline_paused(p.id, None, Timestamp(5))
        .await
        .unwrap();
    assert!(!store.pipeline(p.id).await.unwrap().paused);
    store
        .set_pipeline_paused(p.id, Some("ann"), Timestamp(6))
        .await
        .unwrap();
    let paused = store.pipeline(p.id).await.unwrap();
    assert_eq!(
        (paused.paused, paused.paused_by.as_deref()),
        (true, Some("ann"))
    );
    store.set_pipeline_public(p.id, true).await.unwrap();
    assert!(store.pipeline(p.id).await.unwrap().public);
    store.save_pipeline(&simple_save(&team, "q")).await.unwrap();
    store
        .order_pipelines(team.id, &["q".into(), "p".into()])
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_pipelines(team.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["q", "p"]);
    assert!(matches!(
        store.rename_pipeline(p.id, "q").await,
        Err(StoreError::AlreadyExists { .. })
    ));
    store.rename_pipeline(p.id, "r").await.unwrap();
    store.archive_pipeline(p.id, Timestamp(7)).await.unwrap();
    let archived = store.pipeline(p.id).await.unwrap();
    assert!(archived.archived && archived.paused);
    assert!(store.list_jobs(p.id).await.unwrap().is_empty());
    store.delete_pipeline(p.id).await.unwrap();
    assert!(matches!(
        store.pipeline(p.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn bad_pipeline_input_is_typed(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    let mut huge = simple_save(&team, "p");
    huge.config = format!("\"{}\"", "x".repeat(MAX_CONFIG_BYTES));
    assert!(matches!(
        store.save_pipeline(&huge).await,
        Err(StoreError::ConfigTooLarge { .. })
    ));
    let mut bad_input = simple_save(&team, "p");
    bad_input.jobs[0].inputs[0].resource = "missing".into();
    assert!(matches!(
        store.save_pipeline(&bad_input).await,
        Err(StoreError::NotFound {
            kind: "resource",
            ..
        })
    ));
    // The failed save left nothing behind.
    assert!(store.list_pipelines(team.id).await.unwrap().is_empty());
    let mut no_team = simple_save(&team, "p");
    no_team.pipeline.team = concorde_store::TeamId(999);
    assert!(matches!(
        store.save_pipeline(&no_team).await,
        Err(StoreError::NotFound { kind: "team", .. })
    ));
    assert!(matches!(
        store.pipeline(concorde_store::PipelineId(42)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn jobs_and_schedule_claims(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    assert_eq!(store.job(unit.id).await.unwrap(), unit);
    let claimed = store
        .claim_jobs_to_schedule(Timestamp(2_000), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "a save requests scheduling of every job");
    assert!(
        store
            .claim_jobs_to_schedule(Timestamp(2_001), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .request_job_schedule(unit.id, Timestamp(3_000))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_jobs_to_schedule(Timestamp(3_001), 10)
            .await
            .unwrap(),
        [unit.id]
    );
    store
        .set_job_paused(unit.id, true, Timestamp(4_000))
        .await
        .unwrap();
    assert!(store.job(unit.id).await.unwrap().paused);
    store
        .set_job_paused(unit.id, false, Timestamp(5_000))
        .await
        .unwrap();
    assert_eq!(
        store.job(unit.id).await.unwrap().schedule_requested,
        Timestamp(5_000)
    );
    let missing = concorde_store::JobId(999);
    assert!(matches!(
        store.request_job_schedule(missing, Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.job_by_name(p.id, "nope").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn check_order_rule_and_disabling(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let repo = &store.list_resources(p.id).await.unwrap()[0];
    let config = store
        .find_or_create_resource_config("git", "hash", Timestamp(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_or_create_resource_config("git", "hash", Timestamp(2))
            .await
            .unwrap(),
        config
    );
    let scope = store
        .find_or_create_scope(config, Some(repo.id))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_or_create_scope(config, Some(repo.id))
            .await
            .unwrap(),
        scope
    );
    let shared = store.find_or_create_scope(config, None).await.unwrap();
    assert_ne!(shared, scope);
    store
        .set_resource_scope(repo.id, config, scope, Timestamp(10))
        .await
        .unwrap();

    let out = store
        .save_check_versions(
            scope,
            &[v(r#"{"ref":"a"}"#), v(r#"{"ref":"b"}"#)],
            Timestamp(11),
        )
        .await
        .unwrap();
    assert_eq!(out.new_versions, 2);
    // Re-reporting known versions changes nothing.
    let out = store
        .save_check_versions(
            scope,
            &[v(r#"{"ref":"b"}"#), v(r#"{"ref":"a"}"#)],
            Timestamp(12),
        )
        .await
        .unwrap();
    assert_eq!(out.new_versions, 0);
    // A batch with a new version is renumbered above the maximum, in list order.
    store
        .save_check_versions(
            scope,
            &[v(r#"{"ref":"a"}"#), v(r#"{"ref":"c"}"#)],
            Timestamp(13),
        )
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_versions(scope, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.check_order))
        .collect();
    assert_eq!(
        listed,
        [
            (r#"{"ref":"c"}"#.to_owned(), 4),
            (r#"{"ref":"a"}"#.to_owned(), 3),
            (r#"{"ref":"b"}"#.to_owned(), 2)
        ]
    );
    assert_eq!(
        store.list_versions(scope, Some(3), 10).await.unwrap().len(),
        1
    );
    // An empty version fails the whole batch: nothing half-written.
    let err = store
        .save_check_versions(scope, &[v(r#"{"ref":"d"}"#), v("{}")], Timestamp(14))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyVersion), "{err}");
    assert_eq!(store.list_versions(scope, None, 10).await.unwrap().len(), 3);
    assert!(matches!(
        store
            .save_check_versions(
                concorde_store::ScopeId(999),
                &[v(r#"{"x":"1"}"#)],
                Timestamp(1)
            )
            .await,
        Err(StoreError::NotFound { kind: "scope", .. })
    ));

    let (_, digest) = version_digest(r#"{"ref":"a"}"#).unwrap();
    store
        .set_version_enabled(repo.id, &digest, false, Timestamp(15))
        .await
        .unwrap();
    store
        .set_version_enabled(repo.id, &digest, false, Timestamp(15))
        .await
        .unwrap();
    assert_eq!(
        store.disabled_versions(repo.id).await.unwrap(),
        std::slice::from_ref(&digest)
    );
    store
        .set_version_enabled(repo.id, &digest, true, Timestamp(16))
        .await
        .unwrap();
    assert!(store.disabled_versions(repo.id).await.unwrap().is_empty());
    let missing = concorde_store::ResourceId(999);
    assert!(matches!(
        store
            .set_version_enabled(missing, &digest, false, Timestamp(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let custom = store
        .find_or_create_custom_resource_config(
            concorde_store::ResourceCacheId(1),
            "h",
            Timestamp(1),
        )
        .await;
    assert!(custom.is_ok());
}

async fn resource_checks_scopes_and_pins(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    store
        .start_resource_check(repo.id, Timestamp(1))
        .await
        .unwrap();
    let outcome = CheckOutcome {
        ended: Timestamp(2),
        error: Some("boom".into()),
    };
    store
        .finish_resource_check(repo.id, &outcome)
        .await
        .unwrap();
    let checked = store.resource(repo.id).await.unwrap();
    assert_eq!(
        (
            checked.last_check_start,
            checked.last_check_end,
            checked.last_check_error.as_deref()
        ),
        (Some(Timestamp(1)), Some(Timestamp(2)), Some("boom"))
    );
    store
        .set_resource_pin(repo.id, Some(r#"{"ref":"x"}"#), Some("hold"), Timestamp(3))
        .await
        .unwrap();
    let pinned = store.resource(repo.id).await.unwrap();
    assert_eq!(
        (pinned.pinned_version(), pinned.pin_comment.as_deref()),
        (Some(r#"{"ref":"x"}"#), Some("hold"))
    );
    store
        .set_resource_pin(repo.id, None, None, Timestamp(4))
        .await
        .unwrap();
    assert_eq!(
        store.resource(repo.id).await.unwrap().pinned_version(),
        None
    );
    let mut listener = store
        .listen(&[concorde_store::Topic::CheckRequested])
        .await
        .unwrap();
    store.request_check(repo.id).await.unwrap();
    let note = tokio::time::timeout(concorde_store::testing::NOTIFY_TIMEOUT, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.payload, repo.id.to_string());
    assert!(store.list_resource_types(p.id).await.unwrap().is_empty());
    let missing = concorde_store::ResourceId(999);
    assert!(matches!(
        store.resource(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.start_resource_check(missing, Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.request_check(missing).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn find_version_by_digest_and_id(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let repo = &store.list_resources(p.id).await.unwrap()[0];
    let config = store
        .find_or_create_resource_config("git", "hash", Timestamp(1))
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config, Some(repo.id))
        .await
        .unwrap();
    let other = store.find_or_create_scope(config, None).await.unwrap();
    store
        .save_check_versions(
            scope,
            &[v(r#"{"ref":"a"}"#), v(r#"{"ref":"b"}"#)],
            Timestamp(11),
        )
        .await
        .unwrap();
    let (_, digest) = version_digest(r#"{"ref":"b"}"#).unwrap();
    let found = store
        .find_version(scope, concorde_store::VersionKey::Digest(&digest))
        .await
        .unwrap()
        .expect("found by digest");
    assert_eq!(found.version, r#"{"ref":"b"}"#);
    let by_id = store
        .find_version(scope, concorde_store::VersionKey::Id(found.id))
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(by_id, found);
    assert_eq!(
        store
            .find_version(other, concorde_store::VersionKey::Digest(&digest))
            .await
            .unwrap(),
        None,
        "other scopes do not see it"
    );
    assert_eq!(
        store
            .find_version(scope, concorde_store::VersionKey::Digest("nope"))
            .await
            .unwrap(),
        None
    );
}
