//! Starting a web node: the store, the main team and local users, the local worker, the
//! components (`concorde-web`), and the HTTP API (`concorde-api`); and stopping it cleanly.
//! The binary wires them: neither crate knows the other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use concorde_api::{ApiConfig, ApiState, LocalUser, ensure_main_team};
use concorde_store::{Store, StoreConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use concorde_tsa::TsaConfig;
use concorde_web::components::checker::Checker;
use concorde_web::components::reaper::Reaper;
use concorde_web::components::scheduler::Scheduler;
use concorde_web::components::tracker::{Tracker, TrackerConfig};
use concorde_web::components::worker_lifecycle::WorkerLifecycle;
use concorde_web::components::{Component, Statuses, run_component};
use concorde_web::placement::{Compression, NodeWorkers, PlacementConfig, PlacementStrategy};
use concorde_web::worker::{KILL_GRACE, LocalWorker, Reclaimed, RuntimeChoice};

/// How long running builds get to finish when the node stops.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// How long builds stopped at the deadline get to wind down: their processes' kill grace, and
/// a little for their last events.
const STOP_DEADLINE: Duration = Duration::from_secs(KILL_GRACE.as_secs() + 5);

/// Flags of `concorde quickstart` and `concorde web`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Where the SQLite database and the worker's volumes live.
    #[arg(long, value_name = "DIR", default_value = "./concorde-data")]
    pub data_dir: PathBuf,
    /// Address the HTTP API listens on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Container runtime of the local worker.
    #[arg(long, value_enum, default_value = "auto")]
    pub runtime: RuntimeChoice,
    /// A local user, `NAME:PASSWORD` (repeatable); local users are owners of the main team.
    /// To keep passwords out of the process list, use `CONCORDE_ADD_LOCAL_USER`
    /// (`NAME:PASSWORD[,NAME:PASSWORD...]`) or `--local-users-file`.
    #[arg(long = "add-local-user", value_name = "NAME:PASSWORD")]
    pub add_local_user: Vec<String>,
    /// A file of local users, one `NAME:PASSWORD` per line (blank lines and `#` comments are
    /// skipped; a password may hold any character but a line break).
    #[arg(long = "local-users-file", value_name = "FILE")]
    pub local_users_file: Option<PathBuf>,
    /// Base resource types in Concourse's layout (`<type>/resource_metadata.json` + `rootfs/`),
    /// overriding the built-in ones.
    #[arg(long = "resource-types", value_name = "DIR")]
    pub resource_types: Option<PathBuf>,
    /// Use this PostgreSQL database instead of the embedded SQLite file.
    #[arg(
        long = "postgres-url",
        value_name = "URL",
        env = "CONCORDE_POSTGRES_URL"
    )]
    pub postgres_url: Option<String>,
    /// The URL users reach this node at (defaults to `http://<bind>`).
    #[arg(long = "external-url", value_name = "URL")]
    pub external_url: Option<String>,
    /// How steps are placed on workers (repeatable: a chain, the first the main key):
    /// volume-locality, fewest-build-containers, limit-active-tasks, random.
    #[arg(
        long = "container-placement-strategy",
        value_name = "STRATEGY",
        default_value = "volume-locality",
        value_parser = clap::builder::ValueParser::new(str::parse::<PlacementStrategy>)
    )]
    pub placement: Vec<PlacementStrategy>,
    /// With limit-active-tasks: most tasks a worker runs at once (0: no limit).
    #[arg(
        long = "max-active-tasks-per-worker",
        value_name = "N",
        default_value_t = 0
    )]
    pub max_active_tasks: u32,
    /// Stream volumes straight from worker to worker when the receiving one has a peer
    /// address (`concorde worker --p2p-bind`), instead of through this node's tunnels.
    #[arg(long = "enable-p2p-volume-streaming")]
    pub p2p_volume_streaming: bool,
    /// How volumes streamed between workers are compressed: raw, gzip or zstd.
    #[arg(
        long = "streaming-artifacts-compression",
        value_name = "COMPRESSION",
        default_value = "zstd",
        value_parser = clap::builder::ValueParser::new(str::parse::<Compression>)
    )]
    pub streaming_compression: Compression,
    #[command(flatten)]
    pub tsa: TsaArgs,
}

/// The TSA's flags: workers on other machines register through it.
#[derive(Debug, Clone, clap::Args)]
pub struct TsaArgs {
    /// Run the TSA, the SSH server workers register through, on this address (off unless
    /// given; `0.0.0.0:2222` when given without a value).
    #[arg(
        long = "tsa-bind",
        value_name = "ADDR:PORT",
        num_args = 0..=1,
        default_missing_value = "0.0.0.0:2222"
    )]
    pub tsa_bind: Option<SocketAddr>,
    /// The TSA's SSH host key (a private key file).
    #[arg(long = "tsa-host-key", value_name = "FILE")]
    pub tsa_host_key: Option<PathBuf>,
    /// Public keys of workers that may register (one `authorized_keys` line each).
    #[arg(long = "tsa-authorized-keys", value_name = "FILE")]
    pub tsa_authorized_keys: Option<PathBuf>,
    /// Public keys of a team's workers, which may register only workers of that team
    /// (repeatable).
    #[arg(long = "tsa-team-authorized-keys", value_name = "TEAM:FILE")]
    pub tsa_team_authorized_keys: Vec<String>,
    /// The address other web nodes reach this node's forwarded worker ports at.
    #[arg(
        long = "tsa-peer-address",
        value_name = "ADDR",
        default_value = "127.0.0.1"
    )]
    pub tsa_peer_address: String,
}

impl TsaArgs {
    /// The TSA's configuration, or `None` when it is off.
    fn config(&self) -> anyhow::Result<Option<(SocketAddr, TsaConfig)>> {
        let Some(bind) = self.tsa_bind else {
            return Ok(None);
        };
        let host_key = self
            .tsa_host_key
            .as_deref()
            .context("--tsa-host-key is required with --tsa-bind")?;
        let host_key = concorde_tsa::load_private_key(host_key)?;
        let authorized_keys = match &self.tsa_authorized_keys {
            Some(path) => concorde_tsa::load_public_keys(path)?,
            None => Vec::new(),
        };
        let mut team_keys = Vec::new();
        for entry in &self.tsa_team_authorized_keys {
            let (team, path) = entry.split_once(':').with_context(|| {
                format!("--tsa-team-authorized-keys {entry:?}: expected TEAM:FILE")
            })?;
            team_keys.push((
                team.to_owned(),
                concorde_tsa::load_public_keys(std::path::Path::new(path))?,
            ));
        }
        Ok(Some((
            bind,
            TsaConfig {
                host_key,
                authorized_keys,
                team_keys,
                peer_address: self.tsa_peer_address.clone(),
            },
        )))
    }
}

/// Which node: `quickstart` runs a worker of its own, `web` only the workers that register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeMode {
    /// A web node with its own in-process worker.
    Quickstart,
    /// A web node whose workers register through the TSA.
    Web,
}

/// Runs a node until Ctrl-C or SIGTERM.
pub async fn run_node(args: NodeArgs, mode: NodeMode) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signal.cancel();
    });
    run_node_until(args, mode, shutdown).await
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// Runs a node until `shutdown` is cancelled.
pub async fn run_node_until(
    args: NodeArgs,
    mode: NodeMode,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tsa = args.tsa.config()?;
    let store_config = match &args.postgres_url {
        Some(url) => StoreConfig::Postgres { url: url.clone() },
        None => StoreConfig::Sqlite {
            data_dir: args.data_dir.clone(),
        },
    };
    let store = Store::open(&store_config)
        .await
        .context("could not open the database")?;
    let local_users = local_users(&args)?;
    ensure_main_team(&store, &local_users)
        .await
        .context("could not set up the main team")?;
    let local = match mode {
        NodeMode::Quickstart => Some(LocalWorker::start(
            &store,
            &args.data_dir.join("worker"),
            args.runtime,
            args.resource_types.as_deref(),
        )?),
        NodeMode::Web => None,
    };
    if let Some(worker) = &local {
        reclaim(worker, "left by an earlier run").await;
    }
    let placement = PlacementConfig {
        strategies: args.placement.clone(),
        max_active_tasks: i64::from(args.max_active_tasks),
    };
    let workers = NodeWorkers::new(&store, local.as_ref(), placement)
        .with_streaming(args.p2p_volume_streaming, args.streaming_compression);
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("could not listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let external_url = args
        .external_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let tasks = TaskTracker::new();
    let stop_builds = CancellationToken::new();
    let setter = concorde_web::pipeline_setter(store.clone());
    let components: Vec<Arc<dyn Component>> = vec![
        Arc::new(Checker::new(
            store.clone(),
            workers.clone(),
            shutdown.clone(),
            tasks.clone(),
        )),
        Arc::new(Scheduler::new(store.clone())),
        Arc::new(Tracker::new(
            store.clone(),
            workers.clone(),
            TrackerConfig {
                external_url: external_url.clone(),
                stop_builds: stop_builds.clone(),
            },
            Some(setter),
            tasks.clone(),
        )),
        Arc::new(Reaper::new(store.clone())),
        Arc::new(WorkerLifecycle::new(store.clone())),
    ];
    if let Some(worker) = &local {
        concorde_web::components::heartbeat::register_local_worker(&store, worker)
            .await
            .context("could not register the local worker")?;
        tasks.spawn(concorde_web::components::heartbeat::run_heartbeat(
            store.clone(),
            worker.clone(),
            shutdown.clone(),
        ));
    }
    if let Some((bind, config)) = tsa {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("the TSA could not listen on {bind}"))?;
        info!(address = %listener.local_addr()?, "TSA listening");
        let (store, stop) = (store.clone(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(err) = concorde_tsa::run_tsa(listener, config, store, stop).await {
                warn!(error = %err, "the TSA stopped");
            }
        });
    }
    let statuses = Statuses::default();
    for component in components {
        tasks.spawn(run_component(
            store.clone(),
            component,
            statuses.clone(),
            shutdown.clone(),
        ));
    }
    let config = ApiConfig {
        local_users: local_users.clone(),
        external_url: external_url.clone(),
        workers: Some(workers.pool.clone()),
        ..ApiConfig::default()
    };
    let api_shutdown = shutdown.clone();
    let server = tokio::spawn(concorde_api::serve(
        listener,
        ApiState::new(store.clone(), config),
        async move {
            api_shutdown.cancelled().await;
        },
    ));
    announce(&external_url, &local_users, local.as_ref());
    shutdown.cancelled().await;
    info!("shutting down");
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, tasks.wait())
        .await
        .is_err()
    {
        warn!("stopping the builds that did not finish before the shutdown deadline");
        stop_builds.cancel();
        if tokio::time::timeout(STOP_DEADLINE, tasks.wait())
            .await
            .is_err()
        {
            warn!("some builds did not stop; their processes are killed");
        }
    }
    // Nothing runs on the local worker once its builds and checks are done; whatever a stuck
    // one still holds goes now rather than outliving the node.
    if let Some(worker) = &local {
        reclaim(worker, "at shutdown").await;
    }
    // Event streams stay open until their clients leave, so the server gets a deadline too.
    let server_abort = server.abort_handle();
    match tokio::time::timeout(SHUTDOWN_DEADLINE, server).await {
        Ok(Ok(Err(err))) => warn!(error = %err, "http server stopped with an error"),
        Ok(Err(err)) if !err.is_cancelled() => warn!(error = %err, "http server task failed"),
        Err(_) => server_abort.abort(),
        Ok(_) => {}
    }
    store.close().await;
    Ok(())
}

/// The environment variable holding local users, comma-separated.
const LOCAL_USERS_ENV: &str = "CONCORDE_ADD_LOCAL_USER";

/// The local users of `--add-local-user`, `CONCORDE_ADD_LOCAL_USER` and `--local-users-file`,
/// in that order.
fn local_users(args: &NodeArgs) -> anyhow::Result<Vec<LocalUser>> {
    let mut entries: Vec<(String, String)> = args
        .add_local_user
        .iter()
        .map(|flag| ("--add-local-user".to_owned(), flag.clone()))
        .collect();
    if let Ok(list) = std::env::var(LOCAL_USERS_ENV) {
        entries.extend(
            list.split(',')
                .filter(|entry| !entry.trim().is_empty())
                .map(|entry| (LOCAL_USERS_ENV.to_owned(), entry.trim().to_owned())),
        );
    }
    if let Some(file) = &args.local_users_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("could not read {}", file.display()))?;
        entries.extend(
            text.lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
                .map(|(index, line)| {
                    (format!("{}:{}", file.display(), index + 1), line.to_owned())
                }),
        );
    }
    entries
        .into_iter()
        .map(|(from, entry)| LocalUser::parse(&entry).with_context(|| from.clone()))
        .collect()
}

/// Destroys the local worker's leftover containers (and their processes) and volumes.
async fn reclaim(worker: &LocalWorker, when: &str) {
    match worker.reclaim_leftovers().await {
        Ok(reclaimed) if reclaimed == Reclaimed::default() => {}
        Ok(reclaimed) => info!(
            containers = reclaimed.containers,
            volumes = reclaimed.volumes,
            "destroyed containers and volumes {when}"
        ),
        Err(err) => {
            warn!(error = %format!("{err:#}"), "could not list the local worker's containers and volumes")
        }
    }
}

fn announce(url: &str, users: &[LocalUser], worker: Option<&LocalWorker>) {
    println!("concorde is listening on {url}");
    match worker {
        Some(worker) => println!(
            "worker '{}' runs builds with the {} runtime",
            worker.name,
            worker.runtime.name()
        ),
        None => println!("builds run on the workers that register through the TSA"),
    }
    match users.first() {
        Some(user) => println!(
            "log in with: concorde -t local login -c {url} -u {} -p <password>",
            user.name
        ),
        None => println!("no local users: start with --add-local-user NAME:PASSWORD to log in"),
    }
}
