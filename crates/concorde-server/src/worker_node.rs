//! `concorde worker`: a worker on its own machine. It serves its containers and volumes on
//! loopback only and reaches the web node solely through a TSA, which it keeps dialling (with
//! backoff) while the TSA is away; what runs on it is untouched by that. It exits 0 once the
//! web node says it has landed (or deleted it). Every sweep interval it reports what it holds
//! and destroys what the web node marked for destruction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use concorde_proto::Worker as WorkerJson;
use concorde_tsa::{Beacon, BeaconConfig};
use concorde_web::worker::{
    RuntimeChoice, WORKER_VERSION, advertised_types, hostname, prepare_runtime,
};
use concorde_worker::{ContainerHandle, Runtime, VolumeHandle};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The flags that reach a TSA (`worker`, and `retire-worker` on the worker's side).
#[derive(Debug, Clone, clap::Args)]
pub struct TsaClientArgs {
    /// The worker's name (defaults to the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A TSA to register with, `HOST:PORT` (repeatable; tried in turn).
    #[arg(
        long = "tsa-host",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:2222"
    )]
    pub tsa_hosts: Vec<String>,
    /// The TSA's public host key(s), one `authorized_keys` line each.
    #[arg(long = "tsa-public-key", value_name = "FILE")]
    pub tsa_public_key: PathBuf,
    /// The worker's private key, which the TSA must authorize.
    #[arg(long = "tsa-worker-private-key", value_name = "FILE")]
    pub worker_private_key: PathBuf,
    /// The team the worker belongs to (a global worker otherwise).
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
}

/// Flags of `concorde land-worker`: fly's `-w NAME` (through the API), or, on the worker's
/// machine, its name and TSA flags (through the TSA, as Concourse's worker command).
#[derive(Debug, Clone, clap::Args)]
pub struct LandWorkerArgs {
    /// The worker to land, through the API.
    #[arg(
        short = 'w',
        long = "worker",
        value_name = "NAME",
        required_unless_present = "tsa_public_key",
        conflicts_with = "tsa_public_key"
    )]
    pub worker: Option<String>,
    /// On the worker's machine: its name (defaults to the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// On the worker's machine: a TSA to reach, `HOST:PORT` (repeatable; tried in turn).
    #[arg(
        long = "tsa-host",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:2222"
    )]
    pub tsa_hosts: Vec<String>,
    /// On the worker's machine: the TSA's public host key(s).
    #[arg(
        long = "tsa-public-key",
        value_name = "FILE",
        requires = "worker_private_key"
    )]
    pub tsa_public_key: Option<PathBuf>,
    /// On the worker's machine: the worker's private key.
    #[arg(long = "tsa-worker-private-key", value_name = "FILE")]
    pub worker_private_key: Option<PathBuf>,
    /// On the worker's machine: the team the worker belongs to.
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
}

impl LandWorkerArgs {
    /// The TSA flags, when the command runs on the worker's machine; else fly's arguments.
    pub fn through_tsa(self) -> Result<TsaClientArgs, concorde_cli::LandWorkerArgs> {
        match (self.tsa_public_key, self.worker_private_key, self.worker) {
            (Some(tsa_public_key), Some(worker_private_key), _) => Ok(TsaClientArgs {
                name: self.name,
                tsa_hosts: self.tsa_hosts,
                tsa_public_key,
                worker_private_key,
                team: self.team,
            }),
            (_, _, worker) => Err(concorde_cli::LandWorkerArgs {
                worker: worker.unwrap_or_default(),
            }),
        }
    }
}

/// Flags of `concorde worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub tsa: TsaClientArgs,
    /// Where containers and volumes live.
    #[arg(
        long = "work-dir",
        value_name = "DIR",
        default_value = "./concorde-worker"
    )]
    pub work_dir: PathBuf,
    /// The container runtime.
    #[arg(long, value_enum, default_value = "auto")]
    pub runtime: RuntimeChoice,
    /// A tag: a tagged worker runs only steps that ask for all its tags (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Time between heartbeats, a duration such as `30s` or `1m`.
    #[arg(long = "heartbeat-interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    /// Remove the worker rather than stall it when its heartbeats stop.
    #[arg(long)]
    pub ephemeral: bool,
    /// Base resource types in Concourse's layout, overriding the built-in ones.
    #[arg(long = "resource-types", value_name = "DIR")]
    pub resource_types: Option<PathBuf>,
    /// Time between reporting what the worker holds and destroying what the web node marked
    /// for destruction.
    #[arg(long = "sweep-interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Take volumes pushed straight from other workers on this address (the one they reach this
    /// worker at), each with a one-time ticket from the web node; off unless given.
    #[arg(long = "p2p-bind", value_name = "ADDR:PORT")]
    pub p2p_bind: Option<std::net::SocketAddr>,
}

/// Containers destroyed at once by a sweep, as Concourse's sweeper.
const CONTAINERS_IN_FLIGHT: usize = 5;
/// Volumes destroyed at once by a sweep.
const VOLUMES_IN_FLIGHT: usize = 3;

/// Every `interval` until `stop`: reports every container and volume the worker has, then
/// destroys those the web node marked `destroying` (their rows go with the next report).
async fn sweep(
    beacon: Beacon,
    runtime: Arc<dyn Runtime>,
    interval: Duration,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(err) = sweep_once(&beacon, &runtime).await {
            warn!(error = %format!("{err:#}"), "sweeping failed; trying again at the next interval");
        }
    }
}

async fn sweep_once(beacon: &Beacon, runtime: &Arc<dyn Runtime>) -> anyhow::Result<()> {
    let containers: Vec<String> = runtime
        .list_containers()
        .await?
        .into_iter()
        .map(|handle| handle.0)
        .collect();
    beacon
        .run_command(&format!("report-containers {}", containers.join(" ")))
        .await?;
    let volumes: Vec<String> = runtime
        .list_volumes()
        .await?
        .into_iter()
        .map(|handle| handle.0)
        .collect();
    beacon
        .run_command(&format!("report-volumes {}", volumes.join(" ")))
        .await?;
    let doomed: Vec<String> = serde_json::from_str(&beacon.run_command("sweep-containers").await?)?;
    destroy_all(doomed, CONTAINERS_IN_FLIGHT, "container", |handle| {
        let runtime = runtime.clone();
        async move { runtime.destroy_container(&ContainerHandle(handle)).await }
    })
    .await;
    let doomed: Vec<String> = serde_json::from_str(&beacon.run_command("sweep-volumes").await?)?;
    destroy_all(doomed, VOLUMES_IN_FLIGHT, "volume", |handle| {
        let runtime = runtime.clone();
        async move { runtime.destroy_volume(&VolumeHandle(handle)).await }
    })
    .await;
    Ok(())
}

/// Destroys every handle of `doomed`, `in_flight` at a time; a failure is logged and the rest
/// carry on (the next sweep tries it again).
async fn destroy_all<F, Fut>(doomed: Vec<String>, in_flight: usize, what: &str, destroy: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), concorde_worker::WorkerError>> + Send + 'static,
{
    for chunk in doomed.chunks(in_flight) {
        let mut destroying = tokio::task::JoinSet::new();
        for handle in chunk {
            destroying.spawn(destroy(handle.clone()));
        }
        while let Some(done) = destroying.join_next().await {
            if let Ok(Err(err)) = done {
                warn!(error = %err, "could not destroy a {what}");
            }
        }
    }
}

/// A positive Go duration (`30s`, `1m30s`), as Concourse's flags take them.
fn parse_duration(text: &str) -> Result<Duration, String> {
    match concorde_config::parse_duration(text) {
        Ok(parsed) if !parsed.negative && !parsed.magnitude.is_zero() => Ok(parsed.magnitude),
        _ => Err(format!("{text:?} is not a duration such as 30s or 1m")),
    }
}

impl TsaClientArgs {
    fn beacon(
        &self,
        worker: WorkerJson,
        service_port: u16,
        heartbeat: Duration,
    ) -> anyhow::Result<Beacon> {
        Ok(Beacon::new(BeaconConfig {
            hosts: self.tsa_hosts.clone(),
            tsa_public_keys: concorde_tsa::load_public_keys(&self.tsa_public_key)?,
            worker_key: concorde_tsa::load_private_key(&self.worker_private_key)?,
            worker,
            service_port,
            heartbeat,
        }))
    }

    fn worker_json(&self) -> WorkerJson {
        WorkerJson {
            name: self.name.clone().unwrap_or_else(hostname),
            team: self.team.clone().unwrap_or_default(),
            platform: "linux".to_owned(),
            version: WORKER_VERSION.to_owned(),
            ..WorkerJson::default()
        }
    }
}

/// Listens for streams from peer workers on `address`, which must be one they can reach.
async fn serve_peers(
    address: std::net::SocketAddr,
    runtime: std::sync::Arc<dyn concorde_worker::Runtime>,
    stop: CancellationToken,
) -> anyhow::Result<concorde_worker_http::P2p> {
    if address.ip().is_unspecified() {
        anyhow::bail!(
            "--p2p-bind {address}: give the address other workers reach this one at, not a wildcard"
        );
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("could not listen on {address} for peer workers"))?;
    let address = listener.local_addr()?;
    let p2p = concorde_worker_http::P2p::new(&format!("http://{address}"));
    tokio::spawn(concorde_worker_http::serve_peers(
        listener,
        runtime,
        p2p.clone(),
        stop,
    ));
    info!(%address, "taking volumes from peer workers");
    Ok(p2p)
}

/// Runs a worker until SIGTERM/Ctrl-C or until it lands.
pub async fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let (runtime, base_types) =
        prepare_runtime(&args.work_dir, args.runtime, args.resource_types.as_deref())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on loopback")?;
    let port = listener.local_addr()?.port();
    let stop = CancellationToken::new();
    let p2p = match args.p2p_bind {
        Some(address) => Some(serve_peers(address, runtime.clone(), stop.clone()).await?),
        None => None,
    };
    let service = tokio::spawn(concorde_worker_http::serve(
        listener,
        runtime.clone(),
        p2p,
        stop.clone(),
    ));
    let resource_types = advertised_types(&base_types);
    let worker = WorkerJson {
        tags: args.tags.clone(),
        resource_types,
        ephemeral: args.ephemeral,
        start_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0)),
        ..args.tsa.worker_json()
    };
    info!(name = %worker.name, runtime = runtime.name(), port, "worker serving on loopback");
    let beacon = args.tsa.beacon(worker, port, args.heartbeat_interval)?;
    let signal = stop.clone();
    tokio::spawn(async move {
        crate::node::wait_for_signal().await;
        signal.cancel();
    });
    let sweeper = tokio::spawn(sweep(
        beacon.clone(),
        runtime.clone(),
        args.sweep_interval,
        stop.clone(),
    ));
    let ended = beacon.forward(stop.clone()).await;
    stop.cancel();
    let _ = service.await;
    let _ = sweeper.await;
    match ended? {
        concorde_tsa::Ended::ByTsa => info!("the web node ended the registration (landed)"),
        concorde_tsa::Ended::Stopped => info!("worker stopped"),
    }
    Ok(())
}

/// `concorde land-worker`, on the worker's side: asks the TSA to land this worker. The web node
/// takes no new work to it and lands it once its builds that may not be interrupted are done;
/// the worker's process then exits 0, and registers again when started again.
pub async fn land_worker(args: TsaClientArgs) -> anyhow::Result<()> {
    let beacon = args.beacon(args.worker_json(), 0, concorde_tsa::DEFAULT_HEARTBEAT)?;
    beacon.run_command("land-worker").await?;
    Ok(())
}

/// `concorde retire-worker`, on the worker's side: asks the TSA to retire this worker. The web
/// node takes no new work to it and removes it once its builds that may not be interrupted are
/// done; the worker's process then exits 0.
pub async fn retire_worker(args: TsaClientArgs) -> anyhow::Result<()> {
    let beacon = args.beacon(args.worker_json(), 0, concorde_tsa::DEFAULT_HEARTBEAT)?;
    beacon.run_command("retire-worker").await?;
    Ok(())
}
