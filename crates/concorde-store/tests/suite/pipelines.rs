//! Pipelines, jobs, resources, versions and their check-order rule.

use concorde_store::testing::TestStore;
use concorde_store::{
    CheckOutcome, CheckTarget, MAX_CONFIG_BYTES, NewVersion, PipelineRef, SetBy, SetOutcome,
    SetPipeline, StoreError, Timestamp, Topic, version_digest,
};

use crate::fixtures::{config, set_by_user, set_simple, simple_config, simple_pipeline, team};

store_test!(
    set_pipeline_by_user_with_optimistic_concurrency,
    set_pipeline_by_step_rules,
    updating_a_pipeline_requests_checks_and_scheduling,
    pipeline_switches,
    invalid_or_oversize_configs_are_refused_whole,
    one_source_in_any_key_order_is_one_resource_config,
    jobs_and_schedule_claims,
    check_order_rule_and_disabling,
    find_version_by_digest_and_id,
    resource_checks_scopes_and_pins,
    a_config_is_decoded_once_per_version,
    components_claim_only_rows_with_work
);

async fn claimed_jobs(store: &concorde_store::Store) -> Vec<concorde_store::JobId> {
    let jobs = store.jobs_with_unfinished_builds().await.unwrap();
    jobs.into_iter().map(|job| job.id).collect()
}

async fn components_claim_only_rows_with_work(db: &TestStore) {
    let store = &db.store;
    let team = crate::fixtures::team(store, "main").await;
    let pipeline = crate::fixtures::set_simple(store, &team, "p").await;
    let other = crate::fixtures::set_simple(store, &team, "q").await;
    assert_eq!(claimed_jobs(store).await, []);
    let unit = store.job_by_name(pipeline.id, "unit").await.unwrap();
    let build = store
        .create_job_build(&concorde_store::NewBuild {
            job: unit.id,
            manually_triggered: true,
            created_by: None,
            now: Timestamp(5),
        })
        .await
        .unwrap();
    assert_eq!(
        claimed_jobs(store).await,
        [unit.id],
        "only the job with a pending build"
    );
    store
        .finish_build(build.id, concorde_store::BuildStatus::Aborted, Timestamp(6))
        .await
        .unwrap();
    assert_eq!(claimed_jobs(store).await, []);

    let pipelines_of = |resources: Vec<concorde_store::Resource>| -> Vec<_> {
        resources.into_iter().map(|r| r.pipeline_id).collect()
    };
    assert_eq!(
        pipelines_of(store.resources_of_active_pipelines().await.unwrap()),
        [pipeline.id, other.id]
    );
    store
        .archive_pipeline(other.id, Timestamp(7))
        .await
        .unwrap();
    assert_eq!(
        pipelines_of(store.resources_of_active_pipelines().await.unwrap()),
        [pipeline.id]
    );
    let active: Vec<_> = (store.list_active_pipelines().await.unwrap())
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(active, [pipeline.id]);
}

async fn a_config_is_decoded_once_per_version(db: &TestStore) {
    let store = &db.store;
    let team = crate::fixtures::team(store, "main").await;
    let first = crate::fixtures::set_simple(store, &team, "p").await;
    let model = store.pipeline_model(&first).unwrap();
    assert_eq!(model.jobs.len(), 2);
    let again = store.pipeline(first.id).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&model, &store.pipeline_model(&again).unwrap()),
        "the same config version is decoded once"
    );
    let extra = "serial: true";
    let second = crate::fixtures::set_by_user(
        store,
        &team,
        "p",
        &crate::fixtures::simple_config(extra),
        first.config_version,
    )
    .await
    .unwrap();
    let updated = store.pipeline_model(&second).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&model, &updated));
    assert!(updated.jobs.iter().any(|job| job.serial));
    assert!(
        std::sync::Arc::ptr_eq(&updated, &store.pipeline_model(&second).unwrap()),
        "the new version is cached in its turn"
    );
}

fn v(version: &str) -> NewVersion {
    NewVersion {
        version: crate::fixtures::version(version),
        metadata: serde_json::Value::Null,
    }
}

async fn set_pipeline_by_user_with_optimistic_concurrency(db: &TestStore) {
    let store = &db.store;
    let (team, first) = simple_pipeline(store).await;
    assert_eq!(
        (first.config_version, first.paused, first.ordering),
        (1, true, 1)
    );
    let err = set_by_user(store, &team, "p", &simple_config(""), 0)
        .await
        .unwrap_err();
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
    let mut next = simple_config("");
    next.jobs.truncate(1);
    let second = set_by_user(store, &team, "p", &next, 1).await.unwrap();
    assert_eq!((second.id, second.config_version), (first.id, 2));
    let names: Vec<_> = store
        .list_jobs(first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(names, ["unit"], "removed jobs become inactive");
    let vars: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
    let instanced = store
        .set_pipeline(&SetPipeline {
            team: team.id,
            name: "p",
            instance_vars: Some(&vars),
            config: &simple_config(""),
            set_by: SetBy::User {
                expected_version: 0,
            },
            now: Timestamp(2_000),
        })
        .await
        .unwrap();
    assert_eq!(instanced.outcome, SetOutcome::Created);
    let inst = instanced.pipeline;
    let vars = serde_json::json!({"b": 1, "a": 2});
    assert_eq!(inst.instance_vars.as_ref(), vars.as_object());
    let found = store
        .pipeline_by_ref(&PipelineRef {
            team: team.id,
            name: "p".into(),
            instance_vars: vars.as_object().cloned(),
        })
        .await
        .unwrap();
    assert_eq!(found.id, inst.id);
    assert_eq!(store.list_pipelines(team.id).await.unwrap().len(), 2);
}

async fn set_pipeline_by_step_rules(db: &TestStore) {
    let store = &db.store;
    let main = team(store, "main").await;
    let other = team(store, "other").await;
    fn by_step<'a>(
        team: &concorde_store::Team,
        config: &'a concorde_config::model::Pipeline,
        by: &concorde_store::Team,
    ) -> SetPipeline<'a> {
        SetPipeline {
            team: team.id,
            name: "child",
            instance_vars: None,
            config,
            set_by: SetBy::Step {
                team: by.id,
                parent: None,
            },
            now: Timestamp(3_000),
        }
    }
    let simple = simple_config("");
    let serial = simple_config("serial: true");
    let created = store
        .set_pipeline(&by_step(&other, &simple, &other))
        .await
        .unwrap();
    assert_eq!(created.outcome, SetOutcome::Created);
    assert!(
        !created.pipeline.paused,
        "a step's new pipeline runs at once"
    );
    // The same config with its source keys in another order is the same config.
    let reordered = config(
        "jobs:
- name: unit
  plan:
  - trigger: true
    get: repo
- plan:
  - passed: [unit]
    trigger: true
    get: repo
  name: deploy
resources:
- source: {uri: x}
  type: git
  name: repo
",
    );
    let again = store
        .set_pipeline(&by_step(&other, &reordered, &other))
        .await
        .unwrap();
    assert_eq!(again.outcome, SetOutcome::Unchanged);
    assert_eq!(again.pipeline.config_version, 1);
    let changed = store
        .set_pipeline(&by_step(&other, &serial, &other))
        .await
        .unwrap();
    assert_eq!(
        (changed.outcome, changed.pipeline.config_version),
        (SetOutcome::Updated, 2)
    );
    let refused = store
        .set_pipeline(&by_step(&main, &simple, &other))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::SetOtherTeamsPipeline),
        "{refused}"
    );
    assert_eq!(
        refused.to_string(),
        "only main team can set another team's pipeline"
    );
    assert!(store.list_pipelines(main.id).await.unwrap().is_empty());
    let by_main = store
        .set_pipeline(&by_step(&other, &simple, &main))
        .await
        .unwrap();
    assert_eq!(
        (by_main.outcome, by_main.pipeline.config_version),
        (SetOutcome::Updated, 3)
    );
}

async fn updating_a_pipeline_requests_checks_and_scheduling(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    let repo = store.list_resources(p.id).await.unwrap()[0].id;
    let target = CheckTarget::Resource(repo);
    store.start_check(target, Timestamp(1)).await.unwrap();
    let mut listener = store
        .listen(&[Topic::CheckRequested, Topic::JobScheduling])
        .await
        .unwrap();
    set_by_user(store, &team, "p", &simple_config("serial: true"), 1)
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let note = concorde_store::testing::next_notification(&mut listener).await;
        seen.push(note.topic);
    }
    assert!(seen.contains(&Topic::CheckRequested), "{seen:?}");
    assert!(seen.contains(&Topic::JobScheduling), "{seen:?}");
    assert_eq!(
        store.resource(repo).await.unwrap().last_check_start,
        Some(Timestamp(1)),
        "a resource whose config did not change is not due again"
    );

    let moved = config(
        "resources:\n- name: repo\n  type: git\n  source: {uri: elsewhere}\njobs:\n- name: unit\n  plan:\n  - get: repo\n",
    );
    set_by_user(store, &team, "p", &moved, 2).await.unwrap();
    assert_eq!(
        store.resource(repo).await.unwrap().last_check_start,
        None,
        "a resource whose source changed is due at once"
    );

    store
        .set_pipeline_paused(p.id, Some("ann"), Timestamp(3))
        .await
        .unwrap();
    let mut listener = store.listen(&[Topic::CheckRequested]).await.unwrap();
    store
        .set_pipeline_paused(p.id, None, Timestamp(4))
        .await
        .unwrap();
    let note = concorde_store::testing::next_named_notification(&mut listener).await;
    assert_eq!(
        note.payload,
        p.id.to_string(),
        "unpausing wakes the checker"
    );
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
    set_simple(store, &team, "q").await;
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

async fn invalid_or_oversize_configs_are_refused_whole(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    let huge = config(&format!(
        "resources:\n- name: repo\n  type: git\n  source: {{uri: {}}}\njobs:\n- name: unit\n  plan:\n  - get: repo\n",
        "x".repeat(MAX_CONFIG_BYTES)
    ));
    assert!(matches!(
        set_by_user(store, &team, "p", &huge, 0).await,
        Err(StoreError::ConfigTooLarge { .. })
    ));
    let missing = config("jobs:\n- name: unit\n  plan:\n  - get: missing\n");
    let err = set_by_user(store, &team, "p", &missing, 0)
        .await
        .unwrap_err();
    let StoreError::InvalidConfig { errors } = &err else {
        panic!("expected InvalidConfig, got {err}");
    };
    assert!(errors.iter().any(|e| e.contains("missing")), "{errors:?}");
    // The failed saves left nothing behind.
    assert!(store.list_pipelines(team.id).await.unwrap().is_empty());
    let mut no_team = team.clone();
    no_team.id = concorde_store::TeamId(999);
    assert!(matches!(
        set_by_user(store, &no_team, "p", &simple_config(""), 0).await,
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
    // A request in the very millisecond of the last claim came after it, and is not lost.
    let claim = |at: i64| store.claim_jobs_to_schedule(Timestamp(at), 10);
    store
        .request_job_schedule(unit.id, Timestamp(3_001))
        .await
        .unwrap();
    assert_eq!(claim(3_002).await.unwrap(), [unit.id]);
    assert_eq!(claim(3_003).await.unwrap(), []);
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
        .find_or_create_resource_config(
            "git",
            "git",
            &crate::fixtures::source("hash"),
            Timestamp(1),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .find_or_create_resource_config(
                "git",
                "git",
                &crate::fixtures::source("hash"),
                Timestamp(2)
            )
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
            (crate::fixtures::version(r#"{"ref":"c"}"#), 4),
            (crate::fixtures::version(r#"{"ref":"a"}"#), 3),
            (crate::fixtures::version(r#"{"ref":"b"}"#), 2)
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

    let (_, digest) = version_digest(&crate::fixtures::version(r#"{"ref":"a"}"#)).unwrap();
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
        .start_check(CheckTarget::Resource(repo.id), Timestamp(1))
        .await
        .unwrap();
    let outcome = CheckOutcome {
        ended: Timestamp(2),
        error: Some("boom".into()),
    };
    store
        .finish_check(CheckTarget::Resource(repo.id), &outcome)
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
    let pin = crate::fixtures::version(r#"{"ref":"x"}"#);
    store
        .set_resource_pin(repo.id, Some(&pin), Some("hold"), Timestamp(3))
        .await
        .unwrap();
    let pinned = store.resource(repo.id).await.unwrap();
    assert_eq!(
        (pinned.pinned_version(), pinned.pin_comment.as_deref()),
        (Some(&pin), Some("hold"))
    );
    store
        .set_resource_pin(repo.id, None, None, Timestamp(4))
        .await
        .unwrap();
    assert_eq!(
        store.resource(repo.id).await.unwrap().pinned_version(),
        None
    );
    assert!(store.list_resource_types(p.id).await.unwrap().is_empty());
    let missing = concorde_store::ResourceId(999);
    assert!(matches!(
        store.resource(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .start_check(CheckTarget::Resource(missing), Timestamp(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn find_version_by_digest_and_id(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let repo = &store.list_resources(p.id).await.unwrap()[0];
    let config = store
        .find_or_create_resource_config(
            "git",
            "git",
            &crate::fixtures::source("hash"),
            Timestamp(1),
        )
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
    let (_, digest) = version_digest(&crate::fixtures::version(r#"{"ref":"b"}"#)).unwrap();
    let found = store
        .find_version(scope, concorde_store::VersionKey::Digest(&digest))
        .await
        .unwrap()
        .expect("found by digest");
    assert_eq!(found.version, crate::fixtures::version(r#"{"ref":"b"}"#));
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

/// Two resources whose `source:` differ only in key order, stored as their YAML wrote them,
/// have one identity and so one resource config; another source has another.
async fn one_source_in_any_key_order_is_one_resource_config(db: &TestStore) {
    let store = &db.store;
    let team = team(store, "main").await;
    let pipeline = set_by_user(
        store,
        &team,
        "p",
        &config(
            "resources:
- name: a
  type: git
  source: {uri: u, branch: main, private_key: {nested: 1, list: [{y: 2, x: 1}]}}
- name: b
  type: git
  source: {private_key: {list: [{x: 1, y: 2}], nested: 1}, branch: main, uri: u}
- name: c
  type: git
  source: {uri: u, branch: dev}
jobs:
- name: j
  plan:
  - get: a
  - get: b
  - get: c
",
        ),
        0,
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for resource in store.list_resources(pipeline.id).await.unwrap() {
        let source = resource.config["source"].as_object().unwrap().clone();
        let id = store
            .find_or_create_resource_config(
                &resource.type_name,
                &resource.type_name,
                &source,
                Timestamp(5),
            )
            .await
            .unwrap();
        ids.push((resource.name, id));
    }
    ids.sort();
    assert_eq!(
        ids[0].1, ids[1].1,
        "a and b are one resource config: {ids:?}"
    );
    assert_ne!(ids[0].1, ids[2].1, "c has another source: {ids:?}");
}
