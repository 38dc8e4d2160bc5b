//! Worker reports at scale (`cargo bench -p concorde-store --bench reports`): 20 workers with
//! 200 containers and 200 volumes each on record, a quarter of the containers marked for
//! destruction; one pass does what every worker's sweeper does once (report its containers and
//! volumes, read what to destroy), timed on SQLite and on PostgreSQL (target: a pass under
//! 200 ms on PostgreSQL).

use std::time::{Duration, Instant};

use concorde_store::testing::{Flavour, TestStore, postgres_store, sqlite_store};
use concorde_store::{
    ContainerHandle, ContainerMeta, ContainerOwner, NewContainer, NewOneOffBuild, NewVolume,
    Timestamp, VolumeHandle, VolumeOwner, WorkerName, WorkerSpec,
};

const WORKERS: usize = 20;
const PER_WORKER: usize = 200;
const PASSES: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sqlite = sqlite_store().await;
        bench("SQLite", &sqlite).await;
        sqlite.cleanup().await;
        let postgres = postgres_store(Flavour::Fast).await;
        bench("PostgreSQL", &postgres).await;
        postgres.cleanup().await;
    });
}

/// Every worker's container and volume handles, as its sweeper reports them.
struct Fleet {
    workers: Vec<(WorkerName, Vec<ContainerHandle>, Vec<VolumeHandle>)>,
}

async fn setup(db: &TestStore) -> Fleet {
    let store = &db.store;
    let team = store
        .create_team("bench", false, &serde_json::json!({}))
        .await
        .expect("team");
    let build = store
        .create_one_off_build(&NewOneOffBuild {
            team: team.id,
            pipeline: None,
            plan: &serde_json::json!({}),
            private_plan: &serde_json::json!({}),
            created_by: None,
            now: Timestamp::now(),
        })
        .await
        .expect("build");
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let name = WorkerName::new(format!("worker-{w}"));
        let spec = WorkerSpec {
            name: name.clone(),
            addr: Some(format!("127.0.0.1:{}", 7000 + w)),
            platform: "linux".to_owned(),
            version: "2.5".to_owned(),
            start_time: Timestamp::now(),
            ..WorkerSpec::default()
        };
        store
            .register_worker(&spec, None, Timestamp::now())
            .await
            .expect("worker");
        let (mut containers, mut volumes) = (Vec::new(), Vec::new());
        for c in 0..PER_WORKER {
            let handle = ContainerHandle::new(format!("c-{w}-{c}"));
            let container = store
                .create_container(&NewContainer {
                    handle: handle.clone(),
                    worker: name.clone(),
                    owner: ContainerOwner::BuildStep {
                        build: build.id,
                        plan_id: format!("{c}"),
                    },
                    team: Some(team.id),
                    pipeline: None,
                    check_expires: None,
                    meta: ContainerMeta::default(),
                    now: Timestamp::now(),
                })
                .await
                .expect("container");
            store.container_created(&handle).await.expect("created");
            let volume = VolumeHandle::new(format!("v-{w}-{c}"));
            store
                .create_volume(&NewVolume {
                    handle: volume.clone(),
                    worker: name.clone(),
                    owner: VolumeOwner::Container(container.id),
                    team: Some(team.id),
                    path: "/tmp/build/x".to_owned(),
                    parent: None,
                    now: Timestamp::now(),
                })
                .await
                .expect("volume");
            store.volume_created(&volume).await.expect("volume created");
            if c % 4 == 0 {
                store.destroy_container(&handle).await.expect("destroying");
            }
            containers.push(handle);
            volumes.push(volume);
        }
        workers.push((name, containers, volumes));
    }
    Fleet { workers }
}

async fn bench(backend: &str, db: &TestStore) {
    let started = Instant::now();
    let fleet = setup(db).await;
    println!(
        "{backend}: {WORKERS} workers × {PER_WORKER} containers and volumes on record in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = &db.store;
    let mut passes: Vec<Duration> = Vec::new();
    for _ in 0..PASSES {
        let pass = Instant::now();
        for (name, containers, volumes) in &fleet.workers {
            let to_destroy = store.containers_to_destroy(name).await.expect("sweep");
            store.volumes_to_destroy(name).await.expect("sweep volumes");
            store
                .report_containers(name, containers, Timestamp::now())
                .await
                .expect("report");
            store
                .report_volumes(name, volumes, Timestamp::now())
                .await
                .expect("report volumes");
            assert_eq!(to_destroy.len(), PER_WORKER / 4);
        }
        passes.push(pass.elapsed());
    }
    passes.sort();
    println!(
        "{backend}: one pass of every worker reporting and sweeping: median {:.0} ms, fastest {:.0} ms ({PASSES} passes)",
        passes[PASSES / 2].as_secs_f64() * 1e3,
        passes[0].as_secs_f64() * 1e3
    );
}
