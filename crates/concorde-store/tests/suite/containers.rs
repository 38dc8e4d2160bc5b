//! Containers: owners, the state machine and its refusals, hijacks, listings, and the
//! report/sweep protocol, including two nodes relaying reports at once.

use concorde_store::testing::TestStore;
use concorde_store::{
    BuildId, ContainerFilter, ContainerHandle, ContainerMeta, ContainerOwner, ContainerState,
    NewBuild, NewContainer, ReportOutcome, Store, StoreError, Timestamp, WorkerName,
};

use crate::fixtures::{assert_refused, simple_pipeline, worker};

store_test!(
    container_lifecycle_and_refusals,
    owners_and_listings,
    report_deletes_marks_and_adopts,
    two_nodes_report_at_once
);

/// A new container `handle` on `worker` for `owner`.
pub fn new_container(handle: &str, worker: &str, owner: ContainerOwner) -> NewContainer {
    NewContainer {
        handle: ContainerHandle::new(handle),
        worker: WorkerName::new(worker),
        owner,
        team: None,
        pipeline: None,
        check_expires: None,
        meta: ContainerMeta::default(),
        now: Timestamp(5),
    }
}

/// A build step owner.
pub fn step(build: BuildId, plan_id: &str) -> ContainerOwner {
    ContainerOwner::BuildStep {
        build,
        plan_id: plan_id.into(),
    }
}

fn h(handle: &str) -> ContainerHandle {
    ContainerHandle::new(handle)
}

/// A started build of the simple pipeline's `unit` job.
pub async fn unit_build(store: &Store) -> (concorde_store::Pipeline, concorde_store::Build) {
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let build = store
        .create_job_build(&NewBuild {
            job: unit.id,
            manually_triggered: false,
            created_by: None,
            now: Timestamp(1),
        })
        .await
        .unwrap();
    (p, build)
}

async fn container_lifecycle_and_refusals(db: &TestStore) {
    let store = &db.store;
    let (p, build) = unit_build(store).await;
    worker(store, "w").await;
    let mut new = new_container("c1", "w", step(build.id, "plan-1"));
    new.meta = ContainerMeta {
        step_type: "task".into(),
        step_name: "unit".into(),
        build_name: Some("1".into()),
        ..ContainerMeta::default()
    };
    let c1 = store.create_container(&new).await.unwrap();
    assert_eq!(
        (c1.state, c1.team_id, c1.pipeline_id),
        (ContainerState::Creating, Some(build.team_id), Some(p.id))
    );
    assert_eq!(
        (c1.owner.clone(), c1.meta.clone()),
        (Some(step(build.id, "plan-1")), new.meta.clone())
    );
    assert_eq!(store.container(&h("c1")).await.unwrap(), c1);
    assert!(matches!(
        store.create_container(&new).await,
        Err(StoreError::AlreadyExists {
            kind: "container",
            ..
        })
    ));

    store.container_created(&h("c1")).await.unwrap();
    store.container_created(&h("c1")).await.unwrap();
    assert_refused(
        store.container_failed(&h("c1")).await.unwrap_err(),
        "container",
        "created",
    );
    assert!(!store.container(&h("c1")).await.unwrap().hijacked());
    store
        .mark_container_hijacked(&h("c1"), Timestamp(50))
        .await
        .unwrap();
    assert_eq!(
        store.container(&h("c1")).await.unwrap().last_hijack,
        Some(Timestamp(50))
    );
    store.destroy_container(&h("c1")).await.unwrap();
    store.destroy_container(&h("c1")).await.unwrap();
    assert_eq!(
        store.container(&h("c1")).await.unwrap().state,
        ContainerState::Destroying
    );
    assert_refused(
        store.container_created(&h("c1")).await.unwrap_err(),
        "container",
        "destroying",
    );
    assert_refused(
        store
            .mark_container_hijacked(&h("c1"), Timestamp(51))
            .await
            .unwrap_err(),
        "container",
        "destroying",
    );

    // A creating container may fail, but not be destroyed: a node may still be creating it.
    store
        .create_container(&new_container("c2", "w", step(build.id, "plan-2")))
        .await
        .unwrap();
    assert_refused(
        store.destroy_container(&h("c2")).await.unwrap_err(),
        "container",
        "creating",
    );
    assert_refused(
        store
            .mark_container_hijacked(&h("c2"), Timestamp(52))
            .await
            .unwrap_err(),
        "container",
        "creating",
    );
    store.container_failed(&h("c2")).await.unwrap();
    assert_refused(
        store.container_created(&h("c2")).await.unwrap_err(),
        "container",
        "failed",
    );
    store.destroy_container(&h("c2")).await.unwrap();

    for res in [
        store.container(&h("nope")).await.map(drop),
        store.container_created(&h("nope")).await,
        store.destroy_container(&h("nope")).await,
        store
            .mark_container_hijacked(&h("nope"), Timestamp(1))
            .await,
    ] {
        assert!(
            matches!(
                res,
                Err(StoreError::NotFound {
                    kind: "container",
                    ..
                })
            ),
            "{res:?}"
        );
    }
    let unknown_worker = new_container("c3", "ghost", step(build.id, "plan-3"));
    assert!(matches!(
        store.create_container(&unknown_worker).await,
        Err(StoreError::NotFound { .. })
    ));
    let unknown_build = new_container("c3", "w", step(BuildId(999), "plan-3"));
    assert!(matches!(
        store.create_container(&unknown_build).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn owners_and_listings(db: &TestStore) {
    let store = &db.store;
    let (p, build) = unit_build(store).await;
    worker(store, "w1").await;
    worker(store, "w2").await;
    let image_get = ContainerOwner::ImageGet {
        build: build.id,
        plan_id: "plan-1".into(),
    };
    let image_check = ContainerOwner::ImageCheck {
        build: build.id,
        plan_id: "plan-1".into(),
    };
    store
        .create_container(&new_container("step", "w1", step(build.id, "plan-1")))
        .await
        .unwrap();
    store
        .create_container(&new_container("get", "w2", image_get.clone()))
        .await
        .unwrap();
    store
        .create_container(&new_container("check-image", "w2", image_check.clone()))
        .await
        .unwrap();
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let scope = store.find_or_create_scope(config, None).await.unwrap();
    let mut check = new_container("check", "w1", ContainerOwner::Check { scope });
    check.team = Some(build.team_id);
    check.check_expires = Some(Timestamp(1_000));
    store.create_container(&check).await.unwrap();

    let now = Timestamp(10);
    for (owner, handle) in [
        (step(build.id, "plan-1"), "step"),
        (image_get, "get"),
        (image_check, "check-image"),
    ] {
        let found = store
            .find_container_by_owner(&owner, now)
            .await
            .unwrap()
            .expect("live container of the owner");
        assert_eq!((found.handle, found.owner), (h(handle), Some(owner)));
    }
    assert!(
        store
            .find_container_by_owner(&step(build.id, "plan-9"), now)
            .await
            .unwrap()
            .is_none()
    );
    let check_owner = ContainerOwner::Check { scope };
    assert_eq!(
        store
            .find_container_by_owner(&check_owner, now)
            .await
            .unwrap()
            .map(|c| c.handle),
        Some(h("check"))
    );
    assert!(
        store
            .find_container_by_owner(&check_owner, Timestamp(1_000))
            .await
            .unwrap()
            .is_none(),
        "an expired check session is not reused"
    );

    let handles = |filter: ContainerFilter| async move {
        store
            .list_containers(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.handle.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        handles(ContainerFilter::default()).await,
        ["step", "get", "check-image", "check"]
    );
    assert_eq!(
        handles(ContainerFilter {
            worker: Some(WorkerName::new("w1")),
            ..ContainerFilter::default()
        })
        .await,
        ["step", "check"]
    );
    assert_eq!(
        handles(ContainerFilter {
            build: Some(build.id),
            ..ContainerFilter::default()
        })
        .await,
        ["step", "get", "check-image"]
    );
    assert_eq!(
        handles(ContainerFilter {
            pipeline: Some(p.id),
            ..ContainerFilter::default()
        })
        .await,
        ["step", "get", "check-image"]
    );
    assert_eq!(
        handles(ContainerFilter {
            team: Some(build.team_id),
            ..ContainerFilter::default()
        })
        .await
        .len(),
        4
    );
    let filter = ContainerFilter {
        team: Some(build.team_id),
        worker: Some(WorkerName::new("w2")),
        ..ContainerFilter::default()
    };
    assert_eq!(handles(filter).await, ["get", "check-image"]);
    assert!(
        handles(ContainerFilter {
            team: Some(concorde_store::TeamId(999)),
            ..ContainerFilter::default()
        })
        .await
        .is_empty()
    );

    // Deleting the pipeline deletes its builds; their containers keep their rows, ownerless.
    store.delete_pipeline(p.id).await.unwrap();
    let orphan = store.container(&h("step")).await.unwrap();
    assert_eq!((orphan.owner, orphan.pipeline_id), (None, None));
}

async fn report_deletes_marks_and_adopts(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    worker(store, "w").await;
    worker(store, "other").await;
    for handle in ["a", "b", "d", "e"] {
        store
            .create_container(&new_container(handle, "w", step(build.id, handle)))
            .await
            .unwrap();
    }
    for handle in ["a", "b", "d"] {
        store.container_created(&h(handle)).await.unwrap();
    }
    store.destroy_container(&h("d")).await.unwrap();
    store
        .create_container(&new_container("elsewhere", "other", step(build.id, "z")))
        .await
        .unwrap();
    let w = WorkerName::new("w");

    let outcome = store
        .report_containers(&w, &[h("a"), h("x"), h("elsewhere")], Timestamp(100))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReportOutcome {
            deleted: 1,
            marked_missing: 1,
            found_again: 0,
            unknown: 1
        }
    );
    assert!(
        matches!(
            store.container(&h("d")).await,
            Err(StoreError::NotFound { .. })
        ),
        "destroyed on the worker, row gone"
    );
    assert_eq!(
        store.container(&h("b")).await.unwrap().missing_since,
        Some(Timestamp(100))
    );
    assert_eq!(
        store.container(&h("e")).await.unwrap().missing_since,
        None,
        "creating containers are not missing"
    );
    let adopted = store.container(&h("x")).await.unwrap();
    assert_eq!(
        (adopted.state, adopted.owner, adopted.worker_name),
        (ContainerState::Destroying, None, w.clone())
    );
    assert_eq!(
        store.container(&h("elsewhere")).await.unwrap().worker_name,
        WorkerName::new("other"),
        "another worker's handle is not adopted"
    );
    assert_eq!(store.containers_to_destroy(&w).await.unwrap(), [h("x")]);
    assert!(
        store
            .containers_to_destroy(&WorkerName::new("other"))
            .await
            .unwrap()
            .is_empty()
    );

    let outcome = store
        .report_containers(&w, &[h("a"), h("b"), h("x")], Timestamp(200))
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
    assert_eq!(store.container(&h("b")).await.unwrap().missing_since, None);
    let outcome = store
        .report_containers(&w, &[], Timestamp(300))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReportOutcome {
            deleted: 1,
            marked_missing: 2,
            found_again: 0,
            unknown: 0
        }
    );
    assert!(store.containers_to_destroy(&w).await.unwrap().is_empty());

    let ghost = WorkerName::new("ghost");
    assert!(matches!(
        store
            .report_containers(&ghost, &[h("a")], Timestamp(1))
            .await,
        Err(StoreError::NotFound { kind: "worker", .. })
    ));
    assert!(matches!(
        store.containers_to_destroy(&ghost).await,
        Err(StoreError::NotFound { kind: "worker", .. })
    ));
}

async fn two_nodes_report_at_once(db: &TestStore) {
    let store = &db.store;
    let (_, build) = unit_build(store).await;
    let other = db.second_node().await;
    for name in ["w1", "w2"] {
        worker(store, name).await;
        for n in 0..30 {
            let handle = format!("{name}-{n}");
            store
                .create_container(&new_container(&handle, name, step(build.id, &handle)))
                .await
                .unwrap();
            store.container_created(&h(&handle)).await.unwrap();
            if n % 3 == 0 {
                store.destroy_container(&h(&handle)).await.unwrap();
            }
        }
    }
    // Each worker reports its live containers (not the destroyed third) plus five strangers.
    let report = |name: &str| -> Vec<ContainerHandle> {
        (0..30)
            .filter(|n| n % 3 != 0)
            .map(|n| h(&format!("{name}-{n}")))
            .chain((0..5).map(|n| h(&format!("{name}-new-{n}"))))
            .collect()
    };
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (node, name) in [
            (store.clone(), "w1"),
            (other.clone(), "w1"),
            (store.clone(), "w2"),
            (other.clone(), "w2"),
        ] {
            let handles = report(name);
            tasks.push(tokio::spawn(async move {
                node.report_containers(&WorkerName::new(name), &handles, Timestamp(100 + round))
                    .await
            }));
        }
    }
    let mut total = ReportOutcome::default();
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        total.deleted += outcome.deleted;
        total.unknown += outcome.unknown;
        total.marked_missing += outcome.marked_missing;
    }
    assert_eq!(
        (total.deleted, total.unknown, total.marked_missing),
        (20, 10, 0),
        "each row is deleted or adopted exactly once"
    );
    for name in ["w1", "w2"] {
        let to_destroy = store
            .containers_to_destroy(&WorkerName::new(name))
            .await
            .unwrap();
        let expected: Vec<_> = (0..5).map(|n| h(&format!("{name}-new-{n}"))).collect();
        assert_eq!(to_destroy, expected);
        let live = store
            .list_containers(&ContainerFilter {
                worker: Some(WorkerName::new(name)),
                ..ContainerFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(live.len(), 25);
    }
    other.close().await;
}
