//! `concorde worker`: a worker on its own machine. It serves its containers and volumes on
//! loopback only and reaches the web node solely through a TSA, which it keeps dialling (with
//! backoff) while the TSA is away; what runs on it is untouched by that. It exits 0 once the
//! web node says it has landed (or deleted it).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use concorde_proto::Worker as WorkerJson;
use concorde_tsa::{Beacon, BeaconConfig};
use concorde_web::worker::{
    RuntimeChoice, WORKER_VERSION, advertised_types, hostname, prepare_runtime,
};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// The flags that reach a TSA.
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
    /// Time between heartbeats, in seconds or as `30s`, `1m`.
    #[arg(long = "heartbeat-interval", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    /// Remove the worker rather than stall it when its heartbeats stop.
    #[arg(long)]
    pub ephemeral: bool,
    /// Base resource types in Concourse's layout, overriding the built-in ones.
    #[arg(long = "resource-types", value_name = "DIR")]
    pub resource_types: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |at| text.split_at(at));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 30s or 1m"))?;
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "ms" => Ok(Duration::from_millis(value)),
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

/// Runs a worker until SIGTERM/Ctrl-C or until it lands.
pub async fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let (runtime, base_types) =
        prepare_runtime(&args.work_dir, args.runtime, args.resource_types.as_deref())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not listen on loopback")?;
    let port = listener.local_addr()?.port();
    let stop = CancellationToken::new();
    let service = tokio::spawn(concorde_worker_http::serve(
        listener,
        runtime.clone(),
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
    let ended = beacon.forward(stop.clone()).await;
    stop.cancel();
    let _ = service.await;
    match ended? {
        concorde_tsa::Ended::ByTsa => info!("the web node ended the registration (landed)"),
        concorde_tsa::Ended::Stopped => info!("worker stopped"),
    }
    Ok(())
}
