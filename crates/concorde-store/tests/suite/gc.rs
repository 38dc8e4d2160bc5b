//! Garbage collection: which containers, volumes, caches, configs, task caches and
//! artifacts each collector takes, and what it must leave alone.

use concorde_store::testing::TestStore;
use concorde_store::{
    BuildStatus, CacheUser, ContainerHandle, ContainerOwner, ContainerState, GcPolicy, NewBuild,
    NewResourceCache, NewVersion, NewVolume, NextBuildInput, Store, Timestamp, VolumeHandle,
    VolumeOwner, WorkerName,
};

use crate::containers::{new_container, step};
use crate::fixtures::{set_simple, simple_pipeline, worker};
use crate::volumes::new_volume;

store_test!(
    orphaned_containers_follow_their_builds,
    failed_and_missing_containers,
    orphaned_failed_and_missing_volumes,
    caches_configs_task_caches_and_artifacts
);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn c(handle: &str) -> ContainerHandle {
    ContainerHandle::new(handle)
}

fn v(handle: &str) -> VolumeHandle {
    VolumeHandle::new(handle)
}

async fn created_container(
    store: &Store,
    handle: &str,
    worker: &str,
    owner: ContainerOwner,
) -> concorde_store::Container {
    let container = store
        .create_container(&new_container(handle, worker, owner))
        .await
        .unwrap();
    store.container_created(&c(handle)).await.unwrap();
    container
}

async fn finished_build(
    store: &Store,
    job: concorde_store::JobId,
    status: BuildStatus,
    at: i64,
) -> concorde_store::Build {
    let build = store
        .create_job_build(&NewBuild {
            job,
            manually_triggered: false,
            created_by: None,
            now: Timestamp(1),
        })
        .await
        .unwrap();
    store
        .finish_build(build.id, status, Timestamp(at))
        .await
        .unwrap();
    build
}

async fn orphaned_containers_follow_their_builds(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    worker(store, "w").await;
    let policy = GcPolicy::default();
    let now = 10 * HOUR;

    let succeeded = finished_build(store, unit.id, BuildStatus::Succeeded, HOUR).await;
    let failed = finished_build(store, unit.id, BuildStatus::Failed, 2 * HOUR).await;
    let running = store
        .create_job_build(&NewBuild {
            job: unit.id,
            manually_triggered: false,
            created_by: None,
            now: Timestamp(1),
        })
        .await
        .unwrap();
    let one_off = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(1)))
        .await
        .unwrap();
    store
        .finish_build(one_off.id, BuildStatus::Succeeded, Timestamp(now - MINUTE))
        .await
        .unwrap();
    created_container(store, "succeeded", "w", step(succeeded.id, "p")).await;
    store
        .create_container(&new_container(
            "still-creating",
            "w",
            step(succeeded.id, "q"),
        ))
        .await
        .unwrap();
    created_container(store, "hijacked", "w", step(succeeded.id, "r")).await;
    store
        .mark_container_hijacked(&c("hijacked"), Timestamp(now - MINUTE))
        .await
        .unwrap();
    created_container(store, "failed", "w", step(failed.id, "p")).await;
    created_container(store, "running", "w", step(running.id, "p")).await;
    created_container(store, "one-off", "w", step(one_off.id, "p")).await;
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let scope = store.find_or_create_scope(config, None).await.unwrap();
    for (handle, expires) in [("check-expired", now - 1), ("check-live", 1_000 * HOUR)] {
        let mut new = new_container(handle, "w", ContainerOwner::Check { scope });
        new.check_expires = Some(Timestamp(expires));
        store.create_container(&new).await.unwrap();
        store.container_created(&c(handle)).await.unwrap();
    }
    let other = set_simple(store, &team, "other").await;
    let other_job = store.job_by_name(other.id, "unit").await.unwrap();
    let doomed = store
        .create_job_build(&NewBuild {
            job: other_job.id,
            manually_triggered: false,
            created_by: None,
            now: Timestamp(1),
        })
        .await
        .unwrap();
    created_container(store, "ownerless", "w", step(doomed.id, "p")).await;
    store.delete_pipeline(other.id).await.unwrap();

    let collected = store
        .collect_orphaned_containers(Timestamp(now), &policy)
        .await
        .unwrap();
    assert_eq!(
        collected.destroying,
        [c("check-expired"), c("ownerless"), c("succeeded")]
    );
    assert_eq!(
        collected.discontinued,
        [c("hijacked")],
        "a recent hijack keeps an orphan"
    );
    let hijacked = store.container(&c("hijacked")).await.unwrap();
    assert_eq!(
        (hijacked.state, hijacked.discontinued),
        (ContainerState::Created, true)
    );
    assert_eq!(
        store.container(&c("still-creating")).await.unwrap().state,
        ContainerState::Creating,
        "creating containers are never taken"
    );
    let again = store
        .collect_orphaned_containers(Timestamp(now), &policy)
        .await
        .unwrap();
    assert!(again.destroying.is_empty() && again.discontinued.is_empty());

    let later = store
        .collect_orphaned_containers(Timestamp(now + 10 * MINUTE), &policy)
        .await
        .unwrap();
    assert_eq!(
        later.destroying,
        [c("hijacked"), c("one-off")],
        "grace periods passed"
    );
    let much_later = store
        .collect_orphaned_containers(Timestamp(2 * HOUR + 120 * HOUR + 1), &policy)
        .await
        .unwrap();
    assert_eq!(
        much_later.destroying,
        [c("failed")],
        "the latest failed build keeps its containers for the failed grace"
    );

    store
        .finish_build(running.id, BuildStatus::Errored, Timestamp(now))
        .await
        .unwrap();
    let collected = store
        .collect_orphaned_containers(Timestamp(now + 1), &policy)
        .await
        .unwrap();
    assert!(
        collected.destroying.is_empty(),
        "a just-finished failing build is the job's latest: kept"
    );
    finished_build(store, unit.id, BuildStatus::Succeeded, now + 2).await;
    let collected = store
        .collect_orphaned_containers(Timestamp(now + 3), &policy)
        .await
        .unwrap();
    assert_eq!(
        collected.destroying,
        [c("running")],
        "superseded by a newer build"
    );
    assert_eq!(
        store.container(&c("check-live")).await.unwrap().state,
        ContainerState::Created
    );
}

async fn failed_and_missing_containers(db: &TestStore) {
    let store = &db.store;
    let (team, _) = simple_pipeline(store).await;
    let build = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(1)))
        .await
        .unwrap();
    store
        .register_worker(&crate::fixtures::worker_spec("w"), None, Timestamp(1))
        .await
        .unwrap();
    worker(store, "stalls").await;
    let policy = GcPolicy::default();
    store
        .create_container(&new_container("broken", "w", step(build.id, "a")))
        .await
        .unwrap();
    store.container_failed(&c("broken")).await.unwrap();
    assert_eq!(store.collect_failed_containers().await.unwrap(), 1);
    assert_eq!(
        store.container(&c("broken")).await.unwrap().state,
        ContainerState::Destroying
    );
    assert_eq!(store.collect_failed_containers().await.unwrap(), 0);

    created_container(store, "vanished", "w", step(build.id, "b")).await;
    created_container(store, "kept", "w", step(build.id, "c")).await;
    created_container(store, "on-stalled", "stalls", step(build.id, "d")).await;
    store
        .report_containers(
            &WorkerName::new("w"),
            &[c("kept"), c("broken")],
            Timestamp(1_000),
        )
        .await
        .unwrap();
    store
        .report_containers(&WorkerName::new("stalls"), &[], Timestamp(1_000))
        .await
        .unwrap();
    store
        .stall_expired_workers(Timestamp(1_000_000))
        .await
        .unwrap();
    assert_eq!(
        store
            .collect_missing_containers(Timestamp(1_000 + 4 * MINUTE), &policy)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .collect_missing_containers(Timestamp(1_000 + 6 * MINUTE), &policy)
            .await
            .unwrap(),
        1
    );
    assert!(store.container(&c("vanished")).await.is_err());
    assert!(
        store.container(&c("on-stalled")).await.is_ok(),
        "a stalled worker's containers are not forgotten"
    );
    assert!(store.container(&c("kept")).await.is_ok());
}

async fn orphaned_failed_and_missing_volumes(db: &TestStore) {
    let store = &db.store;
    let (team, _) = simple_pipeline(store).await;
    let build = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(1)))
        .await
        .unwrap();
    worker(store, "w").await;
    worker(store, "lands").await;
    let container = created_container(store, "c", "w", step(build.id, "a")).await;
    let owner = VolumeOwner::Container(container.id);
    let created = |handle: &'static str,
                   worker: &'static str,
                   owner: VolumeOwner,
                   parent: Option<&'static str>| async move {
        let new = NewVolume {
            parent: parent.map(v),
            ..new_volume(handle, worker, owner)
        };
        store.create_volume(&new).await.unwrap();
        store.volume_created(&v(handle)).await.unwrap();
    };
    created("plain", "w", owner.clone(), None).await;
    created("parent", "w", owner.clone(), None).await;
    created("child", "w", owner.clone(), Some("parent")).await;
    created(
        "image",
        "lands",
        VolumeOwner::ResourceType("git".into()),
        None,
    )
    .await;
    created(
        "git-image",
        "w",
        VolumeOwner::ResourceType("git".into()),
        None,
    )
    .await;
    assert!(
        store.collect_orphaned_volumes().await.unwrap().is_empty(),
        "every volume has an owner"
    );

    // The container goes (destroyed, then reported gone): its volumes lose their owner.
    store.destroy_container(&c("c")).await.unwrap();
    store
        .report_containers(&WorkerName::new("w"), &[], Timestamp(10))
        .await
        .unwrap();
    let mut spec = crate::fixtures::worker_spec("lands");
    spec.resource_types.clear();
    store
        .register_worker(&spec, None, Timestamp(11))
        .await
        .unwrap();
    store.land_worker(&WorkerName::new("lands")).await.unwrap();
    store.finish_draining_workers().await.unwrap();
    assert_eq!(
        store.collect_orphaned_volumes().await.unwrap(),
        [v("child"), v("plain")],
        "parents wait for their children; landed workers are left alone"
    );
    assert_eq!(
        store.volume(&v("parent")).await.unwrap().state,
        concorde_store::VolumeState::Created
    );
    store
        .report_volumes(
            &WorkerName::new("w"),
            &[v("parent"), v("git-image")],
            Timestamp(20),
        )
        .await
        .unwrap();
    assert_eq!(
        store.collect_orphaned_volumes().await.unwrap(),
        [v("parent")]
    );

    // Failed rows are deleted outright.
    let fresh = created_container(store, "c2", "w", step(build.id, "b")).await;
    store
        .create_volume(&new_volume("broken", "w", VolumeOwner::Container(fresh.id)))
        .await
        .unwrap();
    store.volume_failed(&v("broken")).await.unwrap();
    assert_eq!(store.collect_failed_volumes().await.unwrap(), 1);
    assert!(store.volume(&v("broken")).await.is_err());

    // Missing volumes go with all their descendants.
    let owner = VolumeOwner::Container(fresh.id);
    created("root", "w", owner.clone(), None).await;
    created("mid", "w", owner.clone(), Some("root")).await;
    created("leaf", "w", owner.clone(), Some("mid")).await;
    created("survivor", "w", owner, None).await;
    let reported = [
        v("mid"),
        v("leaf"),
        v("survivor"),
        v("git-image"),
        v("parent"),
    ];
    store
        .report_volumes(&WorkerName::new("w"), &reported, Timestamp(100))
        .await
        .unwrap();
    let policy = GcPolicy::default();
    assert_eq!(
        store
            .collect_missing_volumes(Timestamp(100 + 4 * MINUTE), &policy)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .collect_missing_volumes(Timestamp(100 + 6 * MINUTE), &policy)
            .await
            .unwrap(),
        3
    );
    for gone in ["root", "mid", "leaf"] {
        assert!(store.volume(&v(gone)).await.is_err(), "{gone}");
    }
    assert!(store.volume(&v("survivor")).await.is_ok());
}

async fn caches_configs_task_caches_and_artifacts(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    store
        .set_pipeline_paused(p.id, None, Timestamp(1))
        .await
        .unwrap();
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    worker(store, "w").await;
    let policy = GcPolicy::default();
    let now = Timestamp(10 * HOUR);
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
    let cache = |version: &str| NewResourceCache {
        config,
        version: crate::fixtures::version(&format!(r#"{{"ref":"{version}"}}"#)),
        params: serde_json::json!({}),
    };

    let running = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(1)))
        .await
        .unwrap();
    let by_build = store
        .find_or_create_resource_cache(&cache("a"), CacheUser::Build(running.id))
        .await
        .unwrap();
    let container = created_container(store, "c", "w", step(running.id, "p")).await;
    let by_container = store
        .find_or_create_resource_cache(&cache("b"), CacheUser::Container(container.id))
        .await
        .unwrap();
    let upcoming = store
        .find_or_create_resource_cache(&cache("c"), CacheUser::Build(running.id))
        .await
        .unwrap();
    let image = store
        .find_or_create_resource_cache(&cache("d"), CacheUser::Build(running.id))
        .await
        .unwrap();
    store
        .find_or_create_custom_resource_config(image.id, "custom", Timestamp(1))
        .await
        .unwrap();
    store
        .save_next_build_inputs(
            unit.id,
            &[NextBuildInput {
                input_name: "repo".into(),
                resource_id: Some(repo.id),
                version_digest: Some(upcoming.version_digest.clone()),
                first_occurrence: true,
                passed_build_ids: vec![],
                resolve_error: None,
            }],
        )
        .await
        .unwrap();
    store
        .create_volume(&new_volume(
            "cache-volume",
            "w",
            VolumeOwner::ResourceCache(by_build.id),
        ))
        .await
        .unwrap();

    assert_eq!(
        store
            .collect_resource_cache_uses(now, &policy)
            .await
            .unwrap(),
        0,
        "the build still runs"
    );
    assert_eq!(store.collect_resource_caches().await.unwrap(), 0);
    store
        .finish_build(running.id, BuildStatus::Succeeded, Timestamp(HOUR))
        .await
        .unwrap();
    assert_eq!(
        store
            .collect_resource_cache_uses(now, &policy)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store.collect_resource_caches().await.unwrap(),
        1,
        "only the cache nothing needs"
    );
    assert!(store.resource_cache(by_build.id).await.is_err());
    assert_eq!(
        store.volume(&v("cache-volume")).await.unwrap().kind(),
        None,
        "its volume lost its owner"
    );
    store
        .set_pipeline_paused(p.id, Some("ann"), Timestamp(2))
        .await
        .unwrap();
    assert_eq!(
        store.collect_resource_caches().await.unwrap(),
        1,
        "a paused pipeline's next inputs do not keep caches"
    );
    assert!(store.resource_cache(upcoming.id).await.is_err());
    store.destroy_container(&c("c")).await.unwrap();
    store
        .report_containers(&WorkerName::new("w"), &[], Timestamp(3))
        .await
        .unwrap();
    assert_eq!(
        store.collect_resource_caches().await.unwrap(),
        1,
        "the container that used it is gone"
    );
    assert!(store.resource_cache(by_container.id).await.is_err());
    assert!(
        store.resource_cache(image.id).await.is_ok(),
        "a custom type built from it keeps it"
    );

    // Resource configs: unreferenced and past the grace period.
    let stale = store
        .find_or_create_resource_config(
            "git",
            "git",
            &crate::fixtures::source("stale"),
            Timestamp(1),
        )
        .await
        .unwrap();
    store
        .find_or_create_resource_config(
            "git",
            "git",
            &crate::fixtures::source("recent"),
            Timestamp(10 * HOUR - MINUTE),
        )
        .await
        .unwrap();
    let stale_scope = store.find_or_create_scope(stale, None).await.unwrap();
    store
        .save_check_versions(
            stale_scope,
            &[NewVersion {
                version: crate::fixtures::version(r#"{"v":"1"}"#),
                metadata: serde_json::Value::Null,
            }],
            Timestamp(1),
        )
        .await
        .unwrap();
    assert_eq!(
        store.collect_resource_configs(now, &policy).await.unwrap(),
        2,
        "the stale config and the custom one"
    );
    assert!(
        store
            .list_versions(stale_scope, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "its scope and versions went with it"
    );
    assert_eq!(
        store.collect_resource_configs(now, &policy).await.unwrap(),
        0
    );

    // Task caches: kept while the job may run, collected once paused with nothing pending.
    store
        .find_or_create_task_cache(unit.id, "test", "cache", Timestamp(1))
        .await
        .unwrap();
    let pending = store
        .create_job_build(&NewBuild {
            job: unit.id,
            manually_triggered: false,
            created_by: None,
            now: Timestamp(5),
        })
        .await
        .unwrap();
    assert_eq!(
        store.collect_task_caches().await.unwrap(),
        0,
        "a pending build will use it"
    );
    store
        .finish_build(pending.id, BuildStatus::Aborted, Timestamp(6))
        .await
        .unwrap();
    assert_eq!(store.collect_task_caches().await.unwrap(), 1);

    // Artifacts: kept for twelve hours.
    let artifact = store
        .create_artifact(team.id, "upload", None, "artifact-volume", Timestamp(HOUR))
        .await
        .unwrap()
        .id;
    store
        .create_volume(&new_volume(
            "artifact-volume",
            "w",
            VolumeOwner::Artifact(artifact),
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .collect_artifacts(Timestamp(12 * HOUR), &policy)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .collect_artifacts(Timestamp(13 * HOUR + 1), &policy)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .volume(&v("artifact-volume"))
            .await
            .unwrap()
            .artifact_id,
        None
    );
}
