//! Workers: registration with a TTL, heartbeats, stalling, landing, retiring, pruning,
//! advertised base resource types, team ownership and placement candidates.

use std::time::Duration;

use concorde_store::testing::TestStore;
use concorde_store::{
    BuildStatus, ContainerHandle, ContainerMeta, ContainerOwner, Heartbeat, NewBuild, NewContainer,
    PlacementQuery, StoreError, Timestamp, WorkerName, WorkerSpec, WorkerState,
};

use crate::fixtures::{resource_type, set_by_user, simple_config, team, worker, worker_spec};

store_test!(
    register_heartbeat_and_stall,
    land_retire_prune_delete,
    draining_waits_for_non_interruptible_builds,
    advertised_types_and_team_ownership,
    placement_candidates_follow_the_rules
);

const MINUTE: Option<Duration> = Some(Duration::from_secs(60));

fn beat(now: i64) -> Heartbeat {
    Heartbeat {
        ttl: MINUTE,
        active_containers: 3,
        active_volumes: 4,
        now: Timestamp(now),
    }
}

fn name(text: &str) -> WorkerName {
    WorkerName::new(text)
}

async fn register_heartbeat_and_stall(db: &TestStore) {
    let store = &db.store;
    let mut spec = worker_spec("w1");
    spec.tags = vec!["gpu".into(), String::new()];
    let w1 = store
        .register_worker(&spec, MINUTE, Timestamp(1_000))
        .await
        .unwrap();
    assert_eq!(
        (w1.state, w1.expires, w1.tags.as_slice()),
        (
            WorkerState::Running,
            Some(Timestamp(61_000)),
            ["gpu".to_owned()].as_slice()
        )
    );
    assert_eq!(w1.resource_types.len(), 2);
    assert_eq!(store.worker(&name("w1")).await.unwrap(), w1);

    let beaten = store
        .heartbeat_worker(&name("w1"), &beat(30_000))
        .await
        .unwrap();
    assert_eq!(
        (
            beaten.expires,
            beaten.active_containers,
            beaten.active_volumes
        ),
        (Some(Timestamp(90_000)), 3, 4)
    );
    assert_eq!(
        store
            .stall_expired_workers(Timestamp(89_999))
            .await
            .unwrap()
            .stalled,
        Vec::<WorkerName>::new()
    );
    let expired = store
        .stall_expired_workers(Timestamp(90_001))
        .await
        .unwrap();
    assert_eq!(expired.stalled, [name("w1")]);
    let stalled = store.worker(&name("w1")).await.unwrap();
    assert_eq!(
        (stalled.state, stalled.expires, stalled.stalled_since),
        (WorkerState::Stalled, None, Some(Timestamp(90_001)))
    );
    assert!(
        store
            .stall_expired_workers(Timestamp(200_000))
            .await
            .unwrap()
            .stalled
            .is_empty(),
        "stalled only once"
    );

    // A heartbeat revives a stalled worker.
    let revived = store
        .heartbeat_worker(&name("w1"), &beat(100_000))
        .await
        .unwrap();
    assert_eq!(
        (revived.state, revived.stalled_since),
        (WorkerState::Running, None)
    );

    // Ephemeral workers are deleted instead, whatever their state; no TTL never expires.
    let mut ephemeral = worker_spec("eph");
    ephemeral.ephemeral = true;
    store
        .register_worker(&ephemeral, MINUTE, Timestamp(1_000))
        .await
        .unwrap();
    store.land_worker(&name("eph")).await.unwrap();
    store
        .register_worker(&worker_spec("forever"), None, Timestamp(1_000))
        .await
        .unwrap();
    let expired = store
        .stall_expired_workers(Timestamp(1_000_000))
        .await
        .unwrap();
    assert_eq!(
        (expired.deleted_ephemeral, expired.stalled),
        (vec![name("eph")], vec![name("w1")])
    );
    assert!(matches!(
        store.worker(&name("eph")).await,
        Err(StoreError::NotFound { kind: "worker", .. })
    ));
    assert_eq!(
        store.worker(&name("forever")).await.unwrap().state,
        WorkerState::Running
    );

    // The stalled-worker timeout.
    assert!(
        store
            .delete_stalled_workers(Timestamp(1_000_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .delete_stalled_workers(Timestamp(1_000_001))
            .await
            .unwrap(),
        [name("w1")]
    );
    let names: Vec<_> = store
        .list_workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, [name("forever")]);
    assert!(matches!(
        store.heartbeat_worker(&name("w1"), &beat(1)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn land_retire_prune_delete(db: &TestStore) {
    let store = &db.store;
    worker(store, "w").await;
    let landing = store.land_worker(&name("w")).await.unwrap();
    assert_eq!(landing.state, WorkerState::Landing);
    assert_eq!(
        store
            .heartbeat_worker(&name("w"), &beat(2_000))
            .await
            .unwrap()
            .state,
        WorkerState::Landing,
        "heartbeats keep draining states"
    );
    let drained = store.finish_draining_workers().await.unwrap();
    assert_eq!((drained.landed, drained.retired), (vec![name("w")], vec![]));
    let landed = store.worker(&name("w")).await.unwrap();
    assert_eq!(
        (landed.state, landed.addr, landed.baggageclaim_url),
        (WorkerState::Landed, None, None)
    );
    assert_eq!(
        store.land_worker(&name("w")).await.unwrap().state,
        WorkerState::Landed,
        "landed stays landed"
    );
    let err = store.retire_worker(&name("w")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidTransition { ref from, ref to, .. } if from == "landed" && to == "retiring"),
        "{err}"
    );

    // Re-registering a landed worker makes it running again.
    assert_eq!(worker(store, "w").await.state, WorkerState::Running);
    let err = store.prune_worker(&name("w")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidTransition { ref from, .. } if from == "running"),
        "{err}"
    );
    assert_eq!(
        store.retire_worker(&name("w")).await.unwrap().state,
        WorkerState::Retiring
    );
    assert_eq!(
        store.land_worker(&name("w")).await.unwrap().state,
        WorkerState::Landing,
        "retiring may become landing"
    );
    store.prune_worker(&name("w")).await.unwrap();
    assert!(matches!(
        store.worker(&name("w")).await,
        Err(StoreError::NotFound { .. })
    ));

    worker(store, "x").await;
    store.delete_worker(&name("x")).await.unwrap();
    for res in [
        store.delete_worker(&name("x")).await,
        store.prune_worker(&name("x")).await,
        store.land_worker(&name("x")).await.map(drop),
        store.retire_worker(&name("x")).await.map(drop),
    ] {
        assert!(
            matches!(res, Err(StoreError::NotFound { kind: "worker", .. })),
            "{res:?}"
        );
    }
}

fn step_container(handle: &str, worker: &str, build: concorde_store::BuildId) -> NewContainer {
    NewContainer {
        handle: ContainerHandle::new(handle),
        worker: WorkerName::new(worker),
        owner: ContainerOwner::BuildStep {
            build,
            plan_id: "p1".into(),
        },
        team: None,
        pipeline: None,
        check_expires: None,
        meta: ContainerMeta::default(),
        now: Timestamp(5),
    }
}

async fn draining_waits_for_non_interruptible_builds(db: &TestStore) {
    let store = &db.store;
    let main = team(store, "main").await;
    let config = simple_config("interruptible: true");
    let p = set_by_user(store, &main, "p", &config, 0).await.unwrap();
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let deploy = store.job_by_name(p.id, "deploy").await.unwrap();
    for name in ["retiring", "landing", "interruptible"] {
        worker(store, name).await;
    }
    let new_build = |job| NewBuild {
        job,
        manually_triggered: false,
        created_by: None,
        now: Timestamp(2),
    };
    let one_off = store
        .create_one_off_build(&crate::fixtures::one_off(main.id, Timestamp(2)))
        .await
        .unwrap();
    let deploy_build = store.create_job_build(&new_build(deploy.id)).await.unwrap();
    let unit_build = store.create_job_build(&new_build(unit.id)).await.unwrap();
    store
        .create_container(&step_container("c1", "retiring", one_off.id))
        .await
        .unwrap();
    store
        .create_container(&step_container("c2", "landing", deploy_build.id))
        .await
        .unwrap();
    store
        .create_container(&step_container("c3", "interruptible", unit_build.id))
        .await
        .unwrap();
    store.retire_worker(&name("retiring")).await.unwrap();
    store.land_worker(&name("landing")).await.unwrap();
    store.retire_worker(&name("interruptible")).await.unwrap();

    let drained = store.finish_draining_workers().await.unwrap();
    assert_eq!(
        (drained.landed, drained.retired),
        (vec![], vec![name("interruptible")]),
        "an interruptible job does not hold a worker"
    );
    store
        .finish_build(one_off.id, BuildStatus::Succeeded, Timestamp(3))
        .await
        .unwrap();
    store
        .finish_build(deploy_build.id, BuildStatus::Failed, Timestamp(3))
        .await
        .unwrap();
    let drained = store.finish_draining_workers().await.unwrap();
    assert_eq!(
        (drained.landed, drained.retired),
        (vec![name("landing")], vec![name("retiring")])
    );
    let left: Vec<_> = store
        .list_workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.name, w.state))
        .collect();
    assert_eq!(left, [(name("landing"), WorkerState::Landed)]);
}

async fn advertised_types_and_team_ownership(db: &TestStore) {
    let store = &db.store;
    let a = team(store, "a").await;
    let mut spec = worker_spec("w");
    spec.team = Some(a.id);
    store
        .register_worker(&spec, MINUTE, Timestamp(1))
        .await
        .unwrap();
    spec.resource_types = vec![resource_type("git", "2.0"), resource_type("s3", "1.0")];
    let updated = store
        .register_worker(&spec, MINUTE, Timestamp(2))
        .await
        .unwrap();
    let types: Vec<_> = updated
        .resource_types
        .iter()
        .map(|t| (t.type_name.as_str(), t.version.as_str()))
        .collect();
    assert_eq!(types, [("git", "2.0"), ("s3", "1.0")]);

    let global = WorkerSpec {
        team: None,
        ..spec.clone()
    };
    let err = store
        .register_worker(&global, MINUTE, Timestamp(3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    assert_eq!(
        store.worker(&name("w")).await.unwrap().team_id,
        Some(a.id),
        "the refused registration changed nothing"
    );
    let unknown_team = WorkerSpec {
        name: name("v"),
        team: Some(concorde_store::TeamId(999)),
        ..spec
    };
    let err = store
        .register_worker(&unknown_team, MINUTE, Timestamp(3))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "team", .. }),
        "{err}"
    );
    store.delete_team(a.id).await.unwrap();
    assert!(
        store.list_workers().await.unwrap().is_empty(),
        "a team's workers go with it"
    );
}

async fn placement_candidates_follow_the_rules(db: &TestStore) {
    let store = &db.store;
    let a = team(store, "a").await;
    let b = team(store, "b").await;
    worker(store, "global").await;
    let mut tagged = worker_spec("tagged");
    tagged.tags = vec!["gpu".into(), "big".into()];
    store
        .register_worker(&tagged, MINUTE, Timestamp(1))
        .await
        .unwrap();
    let mut owned = worker_spec("team-a");
    owned.team = Some(a.id);
    owned.resource_types = vec![resource_type("time", "1.0")];
    store
        .register_worker(&owned, MINUTE, Timestamp(1))
        .await
        .unwrap();
    let mut windows = worker_spec("windows");
    windows.platform = "windows".into();
    store
        .register_worker(&windows, MINUTE, Timestamp(1))
        .await
        .unwrap();
    worker(store, "landing").await;
    store.land_worker(&name("landing")).await.unwrap();

    let names = |workers: Vec<concorde_store::Worker>| {
        workers.into_iter().map(|w| w.name.0).collect::<Vec<_>>()
    };
    let query =
        |team, resource_type: Option<&str>, platform: Option<&str>, tags: &[&str]| PlacementQuery {
            team,
            resource_type: resource_type.map(str::to_owned),
            platform: platform.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        };
    let candidates = store
        .placement_candidates(&query(Some(b.id), Some("git"), None, &[]))
        .await
        .unwrap();
    assert_eq!(
        names(candidates),
        ["global", "windows"],
        "untagged steps avoid tagged workers; other teams' workers are excluded"
    );
    let candidates = store
        .placement_candidates(&query(Some(a.id), None, Some("linux"), &[]))
        .await
        .unwrap();
    assert_eq!(names(candidates), ["team-a"], "a team's own workers win");
    let candidates = store
        .placement_candidates(&query(Some(a.id), Some("git"), Some("linux"), &[]))
        .await
        .unwrap();
    assert_eq!(
        names(candidates),
        ["global"],
        "the team worker lacks git, so global workers serve"
    );
    let candidates = store
        .placement_candidates(&query(None, None, None, &["gpu"]))
        .await
        .unwrap();
    assert_eq!(names(candidates), ["tagged"]);
    let candidates = store
        .placement_candidates(&query(None, None, None, &["gpu", "huge"]))
        .await
        .unwrap();
    assert!(candidates.is_empty());
    let candidates = store
        .placement_candidates(&query(None, Some("s3"), None, &[]))
        .await
        .unwrap();
    assert!(candidates.is_empty());
}
