//! Workers, containers and volumes as the store records them.

use axum::http::StatusCode;
use concorde_store::{
    ContainerHandle, ContainerMeta, ContainerOwner, NewContainer, NewVolume, Timestamp,
    VolumeHandle, VolumeOwner, WorkerName, WorkerSpec,
};

use crate::both_backends;
use crate::builds::new_build;
use crate::support::Harness;

both_backends!(workers_containers_volumes);

async fn workers_containers_volumes(h: &Harness) {
    h.pipeline().await;
    let store = h.store();
    let now = Timestamp::now();
    let spec = WorkerSpec {
        name: WorkerName::new("w1"),
        addr: Some("127.0.0.1:7777".into()),
        baggageclaim_url: Some("http://127.0.0.1:7788".into()),
        platform: "linux".into(),
        tags: vec!["gpu".into()],
        version: "2.5".into(),
        start_time: now,
        ..WorkerSpec::default()
    };
    store.register_worker(&spec, None, now).await.unwrap();
    let build = new_build(h).await;
    let team = store.team_by_name("main").await.unwrap();
    let pipeline = h.pipeline_ref().await;
    let container = store
        .create_container(&NewContainer {
            handle: ContainerHandle::new("c-1"),
            worker: WorkerName::new("w1"),
            owner: ContainerOwner::BuildStep {
                build: build.id,
                plan_id: "6f".into(),
            },
            team: Some(team.id),
            pipeline: Some(pipeline.id),
            check_expires: None,
            meta: ContainerMeta {
                step_type: "task".into(),
                step_name: "unit".into(),
                pipeline_name: Some("p".into()),
                job_name: Some("build".into()),
                build_name: Some(build.name.clone()),
                ..ContainerMeta::default()
            },
            now,
        })
        .await
        .unwrap();
    store
        .create_volume(&NewVolume {
            handle: VolumeHandle::new("v-1"),
            worker: WorkerName::new("w1"),
            owner: VolumeOwner::Container(container.id),
            team: Some(team.id),
            path: "/tmp/build/unit".into(),
            parent: None,
            now,
        })
        .await
        .unwrap();

    let workers = h.get("/api/v1/workers", Some(&h.admin)).await.json();
    assert_eq!(workers[0]["name"], "w1");
    assert_eq!(workers[0]["addr"], "127.0.0.1:7777");
    assert_eq!(workers[0]["tags"], serde_json::json!(["gpu"]));
    assert_eq!(workers[0]["team"], "");
    assert_eq!(
        h.get("/api/v1/workers", Some(&h.bob))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "global worker"
    );
    assert_eq!(
        h.get("/api/v1/workers", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let containers = h
        .get("/api/v1/teams/main/containers", Some(&h.admin))
        .await
        .json();
    assert_eq!(containers[0]["id"], "c-1");
    assert_eq!(containers[0]["type"], "task");
    assert_eq!(containers[0]["build_id"], build.id.0);
    assert_eq!(containers[0]["job_name"], "build");
    let filtered = h
        .get("/api/v1/teams/main/containers?type=check", Some(&h.admin))
        .await
        .json();
    assert_eq!(filtered, serde_json::json!([]));
    assert_eq!(
        h.get("/api/v1/teams/main/containers/c-1", Some(&h.admin))
            .await
            .json()["step_name"],
        "unit"
    );
    assert_eq!(
        h.get("/api/v1/teams/main/containers/nope", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/teams/main/containers", Some(&h.bob))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let volumes = h
        .get("/api/v1/teams/main/volumes", Some(&h.admin))
        .await
        .json();
    assert_eq!(volumes[0]["id"], "v-1");
    assert_eq!(volumes[0]["type"], "container");
    assert_eq!(volumes[0]["path"], "/tmp/build/unit");
}
