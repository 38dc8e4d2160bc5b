//! Volumes: owners and kinds, the state machine and its refusals, copy-on-write children
//! pinning their parent (also against a concurrent destroy), cache volumes, and reports.

use concorde_store::testing::TestStore;
use concorde_store::{
    CacheUser, NewResourceCache, NewVolume, ReportOutcome, StoreError, Timestamp, VolumeFilter,
    VolumeHandle, VolumeKind, VolumeOwner, VolumeState, WorkerName,
};

use crate::containers::{new_container, step, unit_build};
use crate::fixtures::{assert_refused, worker};

store_test!(
    volume_lifecycle_and_refusals,
    child_pins_its_parent,
    live_child_and_destroy_race,
    cache_volumes_one_per_worker,
    volume_reports
);

/// A new volume `handle` on `worker` for `owner`.
pub fn new_volume(handle: &str, worker: &str, owner: VolumeOwner) -> NewVolume {
    NewVolume {
        handle: VolumeHandle::new(handle),
        worker: WorkerName::new(worker),
        owner,
        team: None,
        path: "/tmp/build/x".into(),
        parent: None,
        now: Timestamp(5),
    }
}

fn h(handle: &str) -> VolumeHandle {
    VolumeHandle::new(handle)
}

async fn volume_lifecycle_and_refusals(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    let mut new = new_volume("v1", "w", VolumeOwner::Container(container.id));
    new.team = Some(build.team_id);
    let v1 = store.create_volume(&new).await.unwrap();
    assert_eq!(
        (v1.state, v1.container_id, v1.team_id, v1.kind()),
        (
            VolumeState::Creating,
            Some(container.id),
            Some(build.team_id),
            Some(VolumeKind::Container)
        )
    );
    assert_eq!(store.volume(&h("v1")).await.unwrap(), v1);
    assert!(matches!(
        store.create_volume(&new).await,
        Err(StoreError::AlreadyExists { kind: "volume", .. })
    ));

    assert_refused(
        store.destroy_volume(&h("v1")).await.unwrap_err(),
        "volume",
        "creating",
    );
    store.volume_created(&h("v1")).await.unwrap();
    store.volume_created(&h("v1")).await.unwrap();
    assert_refused(
        store.volume_failed(&h("v1")).await.unwrap_err(),
        "volume",
        "created",
    );
    store.destroy_volume(&h("v1")).await.unwrap();
    store.destroy_volume(&h("v1")).await.unwrap();
    assert_refused(
        store.volume_created(&h("v1")).await.unwrap_err(),
        "volume",
        "destroying",
    );

    store
        .create_volume(&new_volume("v2", "w", VolumeOwner::Container(container.id)))
        .await
        .unwrap();
    store.volume_failed(&h("v2")).await.unwrap();
    assert_refused(
        store.destroy_volume(&h("v2")).await.unwrap_err(),
        "volume",
        "failed",
    );

    // The image of a base resource type the worker advertises.
    let image = store
        .create_volume(&new_volume(
            "git-image",
            "w",
            VolumeOwner::ResourceType("git".into()),
        ))
        .await
        .unwrap();
    assert_eq!(
        (image.resource_type.as_deref(), image.kind()),
        (Some("git"), Some(VolumeKind::ResourceType))
    );
    assert!(
        store
            .find_resource_type_volume(&WorkerName::new("w"), "git")
            .await
            .unwrap()
            .is_none(),
        "not created yet"
    );
    store.volume_created(&h("git-image")).await.unwrap();
    assert_eq!(
        store
            .find_resource_type_volume(&WorkerName::new("w"), "git")
            .await
            .unwrap()
            .map(|v| v.handle),
        Some(h("git-image"))
    );
    let unknown_type = new_volume("s3-image", "w", VolumeOwner::ResourceType("s3".into()));
    assert!(matches!(
        store.create_volume(&unknown_type).await,
        Err(StoreError::NotFound { .. })
    ));
    let unknown_worker = new_volume("v3", "ghost", VolumeOwner::Container(container.id));
    assert!(matches!(
        store.create_volume(&unknown_worker).await,
        Err(StoreError::NotFound { .. })
    ));
    let unknown_owner = new_volume(
        "v3",
        "w",
        VolumeOwner::Container(concorde_store::ContainerId(999)),
    );
    assert!(matches!(
        store.create_volume(&unknown_owner).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.volume_created(&h("nope")).await,
        Err(StoreError::NotFound { kind: "volume", .. })
    ));

    let handles = |filter: VolumeFilter| async move {
        store
            .list_volumes(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.handle.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        handles(VolumeFilter::default()).await,
        ["v1", "v2", "git-image"]
    );
    assert_eq!(
        handles(VolumeFilter {
            container: Some(container.id),
            ..VolumeFilter::default()
        })
        .await,
        ["v1", "v2"]
    );
    assert_eq!(
        handles(VolumeFilter {
            team: Some(build.team_id),
            ..VolumeFilter::default()
        })
        .await,
        ["v1"]
    );
    assert_eq!(
        handles(VolumeFilter {
            worker: Some(WorkerName::new("x")),
            ..VolumeFilter::default()
        })
        .await,
        Vec::<String>::new()
    );

    // A new image version on re-registration orphans the old image volume.
    let mut spec = crate::fixtures::worker_spec("w");
    spec.resource_types = vec![crate::fixtures::resource_type("git", "2.0")];
    store
        .register_worker(&spec, None, Timestamp(9))
        .await
        .unwrap();
    let old = store.volume(&h("git-image")).await.unwrap();
    assert_eq!((old.kind(), old.resource_type), (None, None));
}

async fn child_pins_its_parent(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    worker(store, "w2").await;
    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    let owner = VolumeOwner::Container(container.id);
    store
        .create_volume(&new_volume("parent", "w", owner.clone()))
        .await
        .unwrap();
    let child_of = |handle: &str, parent: &str| NewVolume {
        parent: Some(h(parent)),
        ..new_volume(handle, "w", owner.clone())
    };
    assert_refused(
        store
            .create_volume(&child_of("child", "parent"))
            .await
            .unwrap_err(),
        "volume",
        "creating",
    );
    store.volume_created(&h("parent")).await.unwrap();
    let child = store
        .create_volume(&child_of("child", "parent"))
        .await
        .unwrap();
    assert_eq!(
        child.parent_id,
        Some(store.volume(&h("parent")).await.unwrap().id)
    );
    assert!(matches!(
        store.create_volume(&child_of("orphan", "missing")).await,
        Err(StoreError::NotFound { .. })
    ));
    let across = NewVolume {
        parent: Some(h("parent")),
        ..new_volume("across", "w2", owner.clone())
    };
    assert!(
        matches!(
            store.create_volume(&across).await,
            Err(StoreError::NotFound { .. })
        ),
        "a parent must be on the same worker"
    );

    let err = store.destroy_volume(&h("parent")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::VolumeHasChildren { ref handle } if handle == "parent"),
        "{err}"
    );
    assert_eq!(
        store.volume(&h("parent")).await.unwrap().state,
        VolumeState::Created,
        "the refusal changed nothing"
    );
    store.volume_created(&h("child")).await.unwrap();
    store.destroy_volume(&h("child")).await.unwrap();
    assert!(
        matches!(
            store.destroy_volume(&h("parent")).await,
            Err(StoreError::VolumeHasChildren { .. })
        ),
        "a destroying child still pins it"
    );
    // Once the worker no longer has the child, the row goes and the parent is free.
    store
        .report_volumes(&WorkerName::new("w"), &[h("parent")], Timestamp(10))
        .await
        .unwrap();
    store.destroy_volume(&h("parent")).await.unwrap();
    assert_refused(
        store
            .create_volume(&child_of("late", "parent"))
            .await
            .unwrap_err(),
        "volume",
        "destroying",
    );
}

async fn live_child_and_destroy_race(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    let owner = VolumeOwner::Container(container.id);
    let other = db.second_node().await;
    for round in 0..8 {
        let parent = format!("parent-{round}");
        store
            .create_volume(&new_volume(&parent, "w", owner.clone()))
            .await
            .unwrap();
        store.volume_created(&h(&parent)).await.unwrap();
        let child = NewVolume {
            parent: Some(h(&parent)),
            ..new_volume(&format!("child-{round}"), "w", owner.clone())
        };
        let (creator, destroyer) = (store.clone(), other.clone());
        let create = tokio::spawn(async move { creator.create_volume(&child).await });
        let parent_handle = h(&parent);
        let destroy = tokio::spawn(async move { destroyer.destroy_volume(&parent_handle).await });
        let (created, destroyed) = (create.await.unwrap(), destroy.await.unwrap());
        match (&created, &destroyed) {
            (Ok(_), Err(StoreError::VolumeHasChildren { .. })) => {
                assert_eq!(
                    store.volume(&h(&parent)).await.unwrap().state,
                    VolumeState::Created
                );
            }
            (Err(StoreError::InvalidTransition { .. }), Ok(())) => {
                assert_eq!(
                    store.volume(&h(&parent)).await.unwrap().state,
                    VolumeState::Destroying
                );
                assert!(matches!(
                    store.volume(&h(&format!("child-{round}"))).await,
                    Err(StoreError::NotFound { .. })
                ));
            }
            _ => panic!(
                "exactly one of child creation and parent destruction must win: {created:?} / {destroyed:?}"
            ),
        }
    }
    other.close().await;
}

async fn cache_volumes_one_per_worker(db: &TestStore) {
    let store = &db.store;
    let (p, build) = unit_build(store).await;
    worker(store, "w").await;
    worker(store, "w2").await;
    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let new_cache = NewResourceCache {
        config,
        version: crate::fixtures::version(r#"{"ref":"a"}"#),
        params: serde_json::json!({}),
    };
    let cache = store
        .find_or_create_resource_cache(&new_cache, CacheUser::Build(build.id))
        .await
        .unwrap();
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let task_cache = store
        .find_or_create_task_cache(unit.id, "test", "node_modules", Timestamp(1))
        .await
        .unwrap();
    let w = WorkerName::new("w");
    for (handle, worker) in [
        ("first", "w"),
        ("second", "w"),
        ("elsewhere", "w2"),
        ("t1", "w"),
        ("t2", "w"),
    ] {
        store
            .create_volume(&new_volume(
                handle,
                worker,
                VolumeOwner::Container(container.id),
            ))
            .await
            .unwrap();
    }
    assert_refused(
        store
            .init_resource_cache_volume(&h("first"), cache.id)
            .await
            .unwrap_err(),
        "volume",
        "creating",
    );
    for handle in ["first", "second", "elsewhere", "t1", "t2"] {
        store.volume_created(&h(handle)).await.unwrap();
    }
    assert!(
        store
            .init_resource_cache_volume(&h("first"), cache.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .init_resource_cache_volume(&h("second"), cache.id)
            .await
            .unwrap(),
        "one cache volume per worker"
    );
    assert!(
        store
            .init_resource_cache_volume(&h("elsewhere"), cache.id)
            .await
            .unwrap()
    );
    let found = store
        .find_resource_cache_volume(&w, cache.id)
        .await
        .unwrap()
        .expect("cache volume");
    assert_eq!(
        (found.kind(), found.handle, found.container_id),
        (
            Some(VolumeKind::ResourceCache),
            h("first"),
            Some(container.id)
        )
    );
    assert_eq!(
        store.volume(&h("second")).await.unwrap().kind(),
        Some(VolumeKind::Container)
    );

    assert!(
        store
            .find_task_cache_volume(&w, task_cache.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .init_task_cache_volume(&h("t1"), task_cache.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .init_task_cache_volume(&h("t2"), task_cache.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_task_cache_volume(&w, task_cache.id)
            .await
            .unwrap()
            .map(|v| v.handle),
        Some(h("t1"))
    );
    let missing_cache = concorde_store::ResourceCacheId(999);
    assert!(matches!(
        store
            .init_resource_cache_volume(&h("second"), missing_cache)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.init_resource_cache_volume(&h("nope"), cache.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn volume_reports(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    let container = store
        .create_container(&new_container("c", "w", step(build.id, "p")))
        .await
        .unwrap();
    for handle in ["created", "failed", "destroying", "creating"] {
        store
            .create_volume(&new_volume(
                handle,
                "w",
                VolumeOwner::Container(container.id),
            ))
            .await
            .unwrap();
    }
    store.volume_created(&h("created")).await.unwrap();
    store.volume_failed(&h("failed")).await.unwrap();
    store.volume_created(&h("destroying")).await.unwrap();
    store.destroy_volume(&h("destroying")).await.unwrap();
    let w = WorkerName::new("w");
    let outcome = store
        .report_volumes(&w, &[h("stranger")], Timestamp(100))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReportOutcome {
            deleted: 1,
            marked_missing: 2,
            found_again: 0,
            unknown: 1
        },
        "created and failed volumes go missing"
    );
    assert_eq!(
        store.volume(&h("failed")).await.unwrap().missing_since,
        Some(Timestamp(100))
    );
    assert_eq!(
        store.volume(&h("creating")).await.unwrap().missing_since,
        None
    );
    assert_eq!(store.volumes_to_destroy(&w).await.unwrap(), [h("stranger")]);
    let outcome = store
        .report_volumes(&w, &[h("created"), h("stranger")], Timestamp(200))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReportOutcome {
            deleted: 0,
            marked_missing: 0,
            found_again: 1,
            unknown: 0
        }
    );
    let ghost = WorkerName::new("ghost");
    assert!(matches!(
        store.report_volumes(&ghost, &[], Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.volumes_to_destroy(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));
}
