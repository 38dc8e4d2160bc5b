//! Resource caches and their uses, task caches, artifacts, and put outputs with their
//! check-order rule.

use concorde_store::testing::TestStore;
use concorde_store::{
    CacheUser, NewResourceCache, NewVersion, PutOutput, StoreError, Timestamp, params_hash,
    version_digest,
};

use crate::containers::{new_container, step, unit_build};
use crate::fixtures::worker;

store_test!(
    resource_caches_and_uses,
    task_caches,
    put_keeps_known_order_and_appends_new,
    concurrent_puts_get_distinct_orders
);

async fn resource_caches_and_uses(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let new = NewResourceCache {
        config,
        version: crate::fixtures::version(r#"{"ref":"a","path":"x"}"#),
        params: serde_json::json!({"depth": 1, "submodules": "none"}),
    };
    let cache = store
        .find_or_create_resource_cache(&new, CacheUser::Build(build.id))
        .await
        .unwrap();
    assert_eq!(cache.version, new.version);
    assert_eq!(
        cache.version_digest,
        version_digest(&new.version).unwrap().1
    );
    assert_eq!(
        cache.params_hash,
        params_hash(&serde_json::json!({"submodules": "none", "depth": 1})),
        "params are hashed canonically"
    );
    assert_eq!(cache.metadata, None);

    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    let reordered = NewResourceCache {
        version: crate::fixtures::version(r#"{"path":"x","ref":"a"}"#),
        params: serde_json::json!({"submodules": "none", "depth": 1}),
        ..new.clone()
    };
    let same = store
        .find_or_create_resource_cache(&reordered, CacheUser::Container(container.id))
        .await
        .unwrap();
    assert_eq!(same.id, cache.id);
    let other_params = NewResourceCache {
        params: serde_json::json!({}),
        ..new.clone()
    };
    let other = store
        .find_or_create_resource_cache(&other_params, CacheUser::Build(build.id))
        .await
        .unwrap();
    assert_ne!(other.id, cache.id);
    assert_eq!(
        store.resource_cache_users(cache.id).await.unwrap(),
        [
            CacheUser::Build(build.id),
            CacheUser::Container(container.id)
        ]
    );

    let metadata = serde_json::json!([{"name": "commit", "value": "abc"}]);
    store
        .save_resource_cache_metadata(cache.id, &metadata)
        .await
        .unwrap();
    assert_eq!(
        store.resource_cache(cache.id).await.unwrap().metadata,
        Some(metadata)
    );

    let missing = concorde_store::ResourceCacheId(999);
    assert!(matches!(
        store.resource_cache(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .save_resource_cache_metadata(missing, &serde_json::json!([]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let bad_user = store
        .find_or_create_resource_cache(&new, CacheUser::Build(concorde_store::BuildId(999)))
        .await;
    assert!(
        matches!(bad_user, Err(StoreError::NotFound { kind: "build", .. })),
        "{bad_user:?}"
    );
    let bad_config = NewResourceCache {
        config: concorde_store::ResourceConfigId(999),
        ..new.clone()
    };
    assert!(matches!(
        store
            .find_or_create_resource_cache(&bad_config, CacheUser::Build(build.id))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let empty = NewResourceCache {
        version: Default::default(),
        ..new
    };
    assert!(matches!(
        store
            .find_or_create_resource_cache(&empty, CacheUser::Build(build.id))
            .await,
        Err(StoreError::EmptyVersion)
    ));
}

async fn task_caches(db: &TestStore) {
    let store = &db.store;
    let (p, _) = unit_build(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let first = store
        .find_or_create_task_cache(unit.id, "test", "node_modules", Timestamp(1))
        .await
        .unwrap();
    let again = store
        .find_or_create_task_cache(unit.id, "test", "node_modules", Timestamp(2))
        .await
        .unwrap();
    assert_eq!((again.id, again.last_used), (first.id, Timestamp(2)));
    store
        .find_or_create_task_cache(unit.id, "test", ".cargo", Timestamp(3))
        .await
        .unwrap();
    store
        .find_or_create_task_cache(unit.id, "lint", ".cache", Timestamp(3))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_task_caches(unit.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.step_name, c.path))
        .collect();
    assert_eq!(
        listed,
        [
            ("lint".into(), ".cache".into()),
            ("test".into(), ".cargo".into()),
            ("test".into(), "node_modules".into())
        ]
    );
    assert_eq!(
        store
            .clear_task_caches(unit.id, "test", Some(".cargo"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .clear_task_caches(unit.id, "test", None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.list_task_caches(unit.id).await.unwrap().len(), 1);
    let missing_job = concorde_store::JobId(999);
    assert!(matches!(
        store
            .find_or_create_task_cache(missing_job, "a", "b", Timestamp(1))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

fn v(version: &str) -> NewVersion {
    NewVersion {
        version: crate::fixtures::version(version),
        metadata: serde_json::Value::Null,
    }
}

fn put(
    build: concorde_store::BuildId,
    resource: concorde_store::ResourceId,
    version: &str,
    now: i64,
) -> PutOutput {
    PutOutput {
        build,
        resource,
        name: "deploy".into(),
        scope: None,
        version: v(version),
        now: Timestamp(now),
    }
}

async fn put_keeps_known_order_and_appends_new(db: &TestStore) {
    let store = &db.store;
    let (p, build) = unit_build(store).await;
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let missing_scope = store
        .save_put_output(&put(build.id, repo.id, r#"{"ref":"a"}"#, 2))
        .await;
    assert!(
        matches!(missing_scope, Err(StoreError::NotFound { .. })),
        "{missing_scope:?}"
    );
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config, Some(repo.id))
        .await
        .unwrap();
    store
        .set_resource_scope(repo.id, config, scope, Timestamp(1))
        .await
        .unwrap();
    store
        .save_check_versions(
            scope,
            &[v(r#"{"ref":"a"}"#), v(r#"{"ref":"b"}"#)],
            Timestamp(1),
        )
        .await
        .unwrap();
    let unit = store.job_by_name(p.id, "unit").await.unwrap();

    let known = store
        .save_put_output(&put(build.id, repo.id, r#"{"ref":"a"}"#, 50))
        .await
        .unwrap();
    assert_eq!(known.check_order, 1, "a known version keeps its order");
    assert_eq!(
        store.job(unit.id).await.unwrap().schedule_requested,
        Timestamp(1),
        "nothing new, nothing scheduled"
    );
    let mut output = put(build.id, repo.id, r#"{"ref":"c"}"#, 60);
    output.version.metadata = serde_json::json!([{"name": "by", "value": "put"}]);
    output.scope = Some(scope);
    let new = store.save_put_output(&output).await.unwrap();
    assert_eq!(
        (new.check_order, new.metadata),
        (3, serde_json::json!([{"name": "by", "value": "put"}]))
    );
    assert_eq!(
        store.job(unit.id).await.unwrap().schedule_requested,
        Timestamp(60),
        "a new version requests scheduling"
    );
    let orders: Vec<_> = store
        .list_versions(scope, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version, v.check_order))
        .collect();
    assert_eq!(
        orders,
        [
            (crate::fixtures::version(r#"{"ref":"c"}"#), 3),
            (crate::fixtures::version(r#"{"ref":"b"}"#), 2),
            (crate::fixtures::version(r#"{"ref":"a"}"#), 1)
        ]
    );
    let outputs = store.build_versions(build.id, true).await.unwrap();
    let digests: Vec<_> = outputs
        .iter()
        .map(|o| (o.name.as_str(), o.version_digest.clone()))
        .collect();
    let mut expected = vec![
        ("deploy", known.version_digest.clone()),
        ("deploy", new.version_digest.clone()),
    ];
    expected.sort();
    assert_eq!(digests, expected);

    // Failures write nothing.
    let unknown_build = store
        .save_put_output(&put(
            concorde_store::BuildId(999),
            repo.id,
            r#"{"ref":"d"}"#,
            70,
        ))
        .await;
    assert!(
        matches!(
            unknown_build,
            Err(StoreError::NotFound { kind: "build", .. })
        ),
        "{unknown_build:?}"
    );
    assert_eq!(
        store.list_versions(scope, None, 10).await.unwrap().len(),
        3,
        "the failed put saved no version"
    );
    let unknown_resource = store
        .save_put_output(&put(
            build.id,
            concorde_store::ResourceId(999),
            r#"{"ref":"d"}"#,
            70,
        ))
        .await;
    assert!(
        matches!(unknown_resource, Err(StoreError::NotFound { .. })),
        "{unknown_resource:?}"
    );
    assert!(matches!(
        store
            .save_put_output(&put(build.id, repo.id, "{}", 70))
            .await,
        Err(StoreError::EmptyVersion)
    ));
}

async fn concurrent_puts_get_distinct_orders(db: &TestStore) {
    let store = &db.store;
    let (p, build) = unit_build(store).await;
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config, Some(repo.id))
        .await
        .unwrap();
    store
        .set_resource_scope(repo.id, config, scope, Timestamp(1))
        .await
        .unwrap();
    let other = db.second_node().await;
    let mut tasks = Vec::new();
    for n in 0..10 {
        let node = if n % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        let output = put(build.id, repo.id, &format!(r#"{{"ref":"{n}"}}"#), 10);
        tasks.push(tokio::spawn(
            async move { node.save_put_output(&output).await },
        ));
    }
    let mut orders = Vec::new();
    for task in tasks {
        orders.push(task.await.unwrap().unwrap().check_order);
    }
    orders.sort();
    assert_eq!(orders, (1..=10).collect::<Vec<_>>());
    other.close().await;
}
