//! The recording client against a real host runtime and a real store, on SQLite and on
//! PostgreSQL: every container and volume is on record before the worker has it, owned by what
//! it is for, and its row goes only once the worker destroyed it; caches are found again by a
//! later build through their records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use concorde_config::UnknownKeys;
use concorde_config::vars::StaticVars;
use concorde_engine::{
    CacheIdentity, ContainerPurpose, ContainerRole, ContainerVolume, MetadataField, PlanId,
    WorkerClient,
};
use concorde_store::testing::TestStore;
use concorde_store::{
    BuildId, ContainerFilter, ContainerOwner, ContainerState, JobId, NewBuild, SetBy, SetPipeline,
    Store, TeamId, Timestamp, VolumeFilter, VolumeState, WorkerName, WorkerSpec,
};
use concorde_worker::{
    ContainerHandle, ContainerSpec, HostRuntime, ImageSpec, Limits, Mount, Runtime, VolumeHandle,
    VolumeStrategy,
};
use concorde_workers::{BuildClient, BuildOwner, RecordedWorker};

concorde_store::store_test!(
    a_container_and_its_volumes_are_recorded_then_forgotten,
    a_resource_cache_is_found_by_a_later_build,
    a_task_cache_is_one_volume_per_job_step_and_path,
    a_worker_refusal_leaves_failed_records,
    reclaiming_keeps_only_the_caches,
);

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    worker: RecordedWorker,
    team: TeamId,
    job: JobId,
}

impl Fixture {
    async fn new(db: &TestStore) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = db.store.clone();
        let team = store
            .create_team("main", true, &serde_json::json!({}))
            .await
            .unwrap();
        let config = concorde_config::load_pipeline(
            b"jobs:\n- name: unit\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: \"true\"}}\n",
            &StaticVars::default(),
            UnknownKeys::Reject,
        )
        .unwrap()
        .pipeline;
        let set = store
            .set_pipeline(&SetPipeline {
                team: team.id,
                name: "p",
                instance_vars: None,
                config: &config,
                set_by: SetBy::User {
                    expected_version: 0,
                },
                now: Timestamp(1_000),
            })
            .await
            .unwrap();
        let job = store.job_by_name(set.pipeline.id, "unit").await.unwrap().id;
        let name = WorkerName::new("w1");
        let spec = WorkerSpec {
            name: name.clone(),
            addr: None,
            baggageclaim_url: None,
            team: None,
            platform: "linux".to_owned(),
            tags: Vec::new(),
            resource_types: Vec::new(),
            version: "2.5".to_owned(),
            ephemeral: false,
            start_time: Timestamp::now(),
            active_containers: 0,
            active_volumes: 0,
            state: None,
        };
        store
            .register_worker(&spec, None, Timestamp::now())
            .await
            .unwrap();
        let runtime: Arc<dyn Runtime> = Arc::new(HostRuntime::new(dir.path()).unwrap());
        Fixture {
            _dir: dir,
            worker: RecordedWorker::new(store.clone(), name, runtime),
            store,
            team: team.id,
            job,
        }
    }

    /// A client for a new build of the job.
    async fn build_client(&self) -> (BuildId, BuildClient) {
        let build = self
            .store
            .create_job_build(&NewBuild {
                job: self.job,
                manually_triggered: true,
                created_by: None,
                now: Timestamp::now(),
            })
            .await
            .unwrap();
        let client = self.worker.for_build(BuildOwner {
            build: build.id,
            team: self.team,
            pipeline: build.pipeline_id,
            job: Some(self.job),
            pipeline_name: Some("p".to_owned()),
            job_name: Some("unit".to_owned()),
            build_name: build.name.clone(),
            check_scope: None,
        });
        (build.id, client)
    }

    fn transport(&self) -> &Arc<dyn Runtime> {
        self.worker.transport()
    }
}

fn task_purpose(plan: &str) -> ContainerPurpose {
    ContainerPurpose {
        plan_id: PlanId(plan.to_owned()),
        role: ContainerRole::Step,
        step_type: "task",
        step_name: "t".to_owned(),
        working_directory: "/tmp/build/x".to_owned(),
        user: String::new(),
    }
}

fn spec(handle: &str, mounts: &[&ContainerVolume]) -> ContainerSpec {
    ContainerSpec {
        handle: ContainerHandle(handle.to_owned()),
        image: ImageSpec::None,
        mounts: mounts
            .iter()
            .map(|volume| Mount {
                volume: volume.handle.clone(),
                path: volume.path.clone(),
                read_only: false,
            })
            .collect(),
        env: Vec::new(),
        privileged: false,
        limits: Limits::default(),
    }
}

fn empty_volume(handle: &str, path: &str) -> ContainerVolume {
    ContainerVolume {
        handle: VolumeHandle(handle.to_owned()),
        strategy: VolumeStrategy::Empty,
        path: path.to_owned(),
    }
}

async fn volume_state(store: &Store, handle: &str) -> Option<VolumeState> {
    store
        .volume(&concorde_store::VolumeHandle::new(handle))
        .await
        .ok()
        .map(|volume| volume.state)
}

async fn a_container_and_its_volumes_are_recorded_then_forgotten(db: &TestStore) {
    let fixture = Fixture::new(db).await;
    let (build, client) = fixture.build_client().await;
    let output = empty_volume("out", "/tmp/build/x/out");
    let copy = ContainerVolume {
        handle: VolumeHandle("copy".to_owned()),
        strategy: VolumeStrategy::CopyOnWrite(VolumeHandle("out".to_owned())),
        path: "/tmp/build/x/copy".to_owned(),
    };
    client
        .create_container(
            &task_purpose("1"),
            spec("c1", &[&output]),
            vec![output.clone()],
        )
        .await
        .unwrap();
    client
        .create_container(&task_purpose("2"), spec("c2", &[&copy]), vec![copy.clone()])
        .await
        .unwrap();

    let containers = fixture
        .store
        .list_containers(&ContainerFilter::default())
        .await
        .unwrap();
    assert_eq!(containers.len(), 2);
    let first = &containers[0];
    assert_eq!(first.handle.as_str(), "c1");
    assert_eq!(first.state, ContainerState::Created);
    assert_eq!(first.worker_name.as_str(), "w1");
    assert_eq!(
        first.owner,
        Some(ContainerOwner::BuildStep {
            build,
            plan_id: "1".to_owned()
        })
    );
    assert_eq!(first.team_id, Some(fixture.team));
    assert_eq!(first.meta.step_type, "task");
    assert_eq!(first.meta.job_name.as_deref(), Some("unit"));
    let volumes = fixture
        .store
        .list_volumes(&VolumeFilter::default())
        .await
        .unwrap();
    assert_eq!(volumes.len(), 2);
    assert!(volumes.iter().all(|v| v.state == VolumeState::Created));
    assert_eq!(volumes[0].container_id, Some(first.id));
    assert_eq!(
        volumes[1].parent_id,
        Some(volumes[0].id),
        "the copy's parent is on record"
    );
    assert!(
        fixture
            .transport()
            .lookup_volume(&copy.handle)
            .await
            .unwrap()
            .is_some()
    );

    // A parent with a live child is refused; the child first, then the parent.
    assert!(client.destroy_volume(&output.handle).await.is_err());
    client
        .destroy_container(&ContainerHandle("c1".to_owned()))
        .await
        .unwrap();
    client
        .destroy_container(&ContainerHandle("c2".to_owned()))
        .await
        .unwrap();
    client.destroy_volume(&copy.handle).await.unwrap();
    client.destroy_volume(&output.handle).await.unwrap();
    assert!(
        fixture
            .store
            .list_containers(&ContainerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        fixture
            .store
            .list_volumes(&VolumeFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        fixture
            .transport()
            .list_containers()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(fixture.transport().list_volumes().await.unwrap().is_empty());
}

fn identity(version: &str) -> CacheIdentity {
    CacheIdentity {
        type_name: "git".to_owned(),
        base_type: Some("git".to_owned()),
        type_image: None,
        source: serde_json::json!({"uri": "https://example.com/repo"}),
        version: serde_json::from_value(serde_json::json!({"ref": version})).unwrap(),
        params: serde_json::json!({}),
    }
}

async fn a_resource_cache_is_found_by_a_later_build(db: &TestStore) {
    let fixture = Fixture::new(db).await;
    let (_, first) = fixture.build_client().await;
    assert!(
        first
            .find_resource_cache(&identity("a"))
            .await
            .unwrap()
            .is_none()
    );
    let fetched = empty_volume("fetched", "/tmp/build/get");
    first
        .create_container(
            &task_purpose("get"),
            spec("in", &[&fetched]),
            vec![fetched.clone()],
        )
        .await
        .unwrap();
    let metadata = vec![MetadataField {
        name: "author".to_owned(),
        value: "someone".to_owned(),
    }];
    first
        .init_resource_cache(
            &fetched.handle,
            &identity("a"),
            &identity("a").version,
            &metadata,
        )
        .await
        .unwrap();
    first
        .destroy_container(&ContainerHandle("in".to_owned()))
        .await
        .unwrap();

    let (_, later) = fixture.build_client().await;
    let found = later
        .find_resource_cache(&identity("a"))
        .await
        .unwrap()
        .expect("the cache is found by another build");
    assert_eq!(found.volume, fetched.handle);
    assert_eq!(found.version, identity("a").version);
    assert_eq!(found.metadata, metadata);
    assert!(
        later
            .find_resource_cache(&identity("b"))
            .await
            .unwrap()
            .is_none()
    );
    let row = fixture
        .store
        .volume(&concorde_store::VolumeHandle::new("fetched"))
        .await
        .unwrap();
    assert!(row.resource_cache_id.is_some());
    assert_eq!(
        row.container_id, None,
        "the container went; the cache keeps the volume"
    );

    // A record whose volume is gone is dropped, not handed out.
    fixture
        .transport()
        .destroy_volume(&fetched.handle)
        .await
        .unwrap();
    assert!(
        later
            .find_resource_cache(&identity("a"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(volume_state(&fixture.store, "fetched").await, None);
}

async fn a_task_cache_is_one_volume_per_job_step_and_path(db: &TestStore) {
    let fixture = Fixture::new(db).await;
    let (_, first) = fixture.build_client().await;
    let (second_build, second) = fixture.build_client().await;
    let (a, b) = futures::join!(
        first.task_cache("t", "deps"),
        second.task_cache("t", "deps")
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(a, b, "concurrent builds share one volume");
    let other = first.task_cache("t", "other").await.unwrap().unwrap();
    assert_ne!(a, other);
    let row = fixture
        .store
        .volume(&concorde_store::VolumeHandle(a.0.clone()))
        .await
        .unwrap();
    assert_eq!(row.state, VolumeState::Created);
    assert!(row.task_cache_id.is_some());
    assert!(
        fixture
            .transport()
            .lookup_volume(&a)
            .await
            .unwrap()
            .is_some()
    );

    let one_off = fixture.worker.for_build(BuildOwner {
        build: second_build,
        team: fixture.team,
        pipeline: None,
        job: None,
        pipeline_name: None,
        job_name: None,
        build_name: "2".to_owned(),
        check_scope: None,
    });
    assert_eq!(one_off.task_cache("t", "deps").await.unwrap(), None);
}

async fn a_worker_refusal_leaves_failed_records(db: &TestStore) {
    let fixture = Fixture::new(db).await;
    let (_, client) = fixture.build_client().await;
    // The runtime refuses a handle it cannot name a directory after.
    let bad = empty_volume("bad..handle/x", "/tmp/x");
    let err = client
        .create_container(&task_purpose("1"), spec("c1", &[&bad]), vec![bad.clone()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid handle"), "{err}");
    assert_eq!(
        volume_state(&fixture.store, "bad..handle/x").await,
        Some(VolumeState::Failed)
    );
    let container = fixture
        .store
        .container(&concorde_store::ContainerHandle::new("c1"))
        .await
        .unwrap();
    assert_eq!(container.state, ContainerState::Failed);
    assert!(
        fixture
            .transport()
            .list_containers()
            .await
            .unwrap()
            .is_empty()
    );
}

async fn reclaiming_keeps_only_the_caches(db: &TestStore) {
    let fixture = Fixture::new(db).await;
    let (_, client) = fixture.build_client().await;
    let fetched = empty_volume("fetched", "/tmp/build/get");
    let scratch = empty_volume("scratch", "/tmp/build/x/out");
    client
        .create_container(
            &task_purpose("1"),
            spec("c1", &[&fetched, &scratch]),
            vec![fetched.clone(), scratch.clone()],
        )
        .await
        .unwrap();
    client
        .init_resource_cache(&fetched.handle, &identity("a"), &identity("a").version, &[])
        .await
        .unwrap();
    let task_cache = client.task_cache("t", "deps").await.unwrap().unwrap();
    // Something the records never knew, as a crash between a worker call and its record
    // could leave.
    fixture
        .transport()
        .create_volume(&VolumeHandle("stray".to_owned()), VolumeStrategy::Empty)
        .await
        .unwrap();

    let reclaimed = fixture.worker.reclaim_leftovers().await.unwrap();
    assert_eq!((reclaimed.containers, reclaimed.volumes), (1, 2));
    let mut on_disk = fixture.transport().list_volumes().await.unwrap();
    on_disk.sort();
    let mut expected = vec![fetched.handle.clone(), task_cache.clone()];
    expected.sort();
    assert_eq!(on_disk, expected);
    let mut recorded: Vec<String> = fixture
        .store
        .list_volumes(&VolumeFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|volume| volume.handle.0)
        .collect();
    recorded.sort();
    let expected: Vec<String> = expected.into_iter().map(|volume| volume.0).collect();
    assert_eq!(recorded, expected);
    assert!(
        fixture
            .store
            .list_containers(&ContainerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}
