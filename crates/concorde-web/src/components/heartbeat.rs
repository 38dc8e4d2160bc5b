//! The local worker's presence in the workers table: registered at start-up and kept alive
//! by a heartbeat, so `concorde workers` shows it and a node that dies leaves it stalled.

use std::time::Duration;

use concorde_store::{Heartbeat, Store, WorkerName, WorkerSpec};

use crate::worker::LocalWorker;

/// How long the worker stays `running` without a heartbeat.
const TTL: Duration = Duration::from_secs(60);

/// Registers the local worker as `running`.
pub async fn register_local_worker(store: &Store, worker: &LocalWorker) -> anyhow::Result<()> {
    let resource_types = crate::worker::advertised_types(&worker.base_types);
    let spec = WorkerSpec {
        name: WorkerName(worker.name.clone()),
        addr: None,
        baggageclaim_url: None,
        team: None,
        platform: "linux".to_owned(),
        tags: Vec::new(),
        resource_types,
        version: crate::worker::WORKER_VERSION.to_owned(),
        ephemeral: false,
        start_time: crate::now(),
        active_containers: 0,
        active_volumes: 0,
        state: None,
    };
    store
        .register_worker(&spec, Some(TTL), crate::now())
        .await?;
    Ok(())
}

/// Keeps the local worker's registration alive until `shutdown`, with its container and
/// volume counts. Not a cluster component: every node beats for its own worker.
pub async fn run_heartbeat(
    store: Store,
    worker: LocalWorker,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(TTL / 4) => {}
        }
        if let Err(err) = beat(&store, &worker).await {
            tracing::warn!(worker = %worker.name, error = %format!("{err:#}"), "worker heartbeat failed");
        }
    }
}

async fn beat(store: &Store, worker: &LocalWorker) -> anyhow::Result<()> {
    let containers = worker.runtime.list_containers().await?.len();
    let volumes = worker.runtime.list_volumes().await?.len();
    let beat = Heartbeat {
        ttl: Some(TTL),
        active_containers: i64::try_from(containers).unwrap_or(i64::MAX),
        active_volumes: i64::try_from(volumes).unwrap_or(i64::MAX),
        now: crate::now(),
    };
    match store
        .heartbeat_worker(&WorkerName(worker.name.clone()), &beat)
        .await
    {
        Ok(_) => Ok(()),
        // Pruned while alive: come back.
        Err(concorde_store::StoreError::NotFound { .. }) => {
            register_local_worker(store, worker).await
        }
        Err(err) => Err(err.into()),
    }
}
