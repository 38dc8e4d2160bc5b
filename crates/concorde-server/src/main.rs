//! The `concorde` binary: parses the command line and hands each command to the crate that owns it.

mod node;
mod observability;
mod worker_node;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// jemalloc instead of glibc's allocator: glibc keeps an arena per thread (and sqlx gives each
/// SQLite connection its own thread), so a node streaming a large log grew by tens of MiB it
/// never used again. The huge-log e2e (a 40 MB log, eight followers) peaked at 165-185 MiB
/// with glibc, 209 with mimalloc, 114-129 with jemalloc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Concorde: a continuous-integration system that runs Concourse pipelines.
#[derive(Debug, Parser)]
#[command(name = "concorde", version, about)]
struct Cli {
    #[command(flatten)]
    global: concorde_cli::GlobalArgs,
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopCommand {
    /// Run a web node, a local worker and an embedded database in one process.
    Quickstart(node::NodeArgs),
    /// Run a web node (use --postgres-url to share a database with other nodes); its builds
    /// run on the workers that register through its TSA (--tsa-bind).
    Web(node::NodeArgs),
    /// Run a worker that registers with a web node through its TSA.
    Worker(worker_node::WorkerArgs),
    /// Land a worker: it takes no new work, and lands once its builds are done. `-w NAME`
    /// through the API; on the worker's machine, with its `--name` and TSA flags, through the TSA.
    #[command(visible_alias = "lw")]
    LandWorker(worker_node::LandWorkerArgs),
    /// Retire this worker through its TSA (run on the worker's machine, with its flags).
    RetireWorker(worker_node::TsaClientArgs),
    /// Generate a key pair, as Concourse's `generate-key`.
    GenerateKey(GenerateKeyArgs),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
    #[command(flatten)]
    Client(concorde_cli::Command),
}

#[derive(Debug, clap::Args)]
struct GenerateKeyArgs {
    /// `ssh` (OpenSSH private key and FILE.pub, for the TSA and workers) or `rsa` (PKCS#1 PEM).
    /// Long form only: `-t` names the target of every command.
    #[arg(long = "type", value_enum)]
    kind: concorde_tsa::KeyType,
    /// Where to write the private key.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: std::path::PathBuf,
    /// Key size in bits.
    #[arg(short = 'b', long = "bits", default_value_t = 4096)]
    bits: usize,
}

#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The data directory of an embedded SQLite database.
    #[arg(long, value_name = "DIR", conflicts_with = "postgres_url")]
    data_dir: Option<std::path::PathBuf>,
    /// A PostgreSQL database URL.
    #[arg(long = "postgres-url", value_name = "URL")]
    postgres_url: Option<String>,
}

fn main() -> ExitCode {
    observability::init();
    let cli = Cli::parse();
    let result = match cli.command {
        TopCommand::Quickstart(args) => {
            block_on(node::run_node(args, node::NodeMode::Quickstart)).map(|()| ExitCode::SUCCESS)
        }
        TopCommand::Web(args) => {
            block_on(node::run_node(args, node::NodeMode::Web)).map(|()| ExitCode::SUCCESS)
        }
        TopCommand::Worker(args) => {
            block_on(worker_node::run_worker(args)).map(|()| ExitCode::SUCCESS)
        }
        TopCommand::LandWorker(args) => match args.through_tsa() {
            Ok(tsa) => block_on(worker_node::land_worker(tsa)).map(|()| ExitCode::SUCCESS),
            Err(fly) => {
                concorde_cli::run_with_globals(&cli.global, concorde_cli::Command::LandWorker(fly))
            }
        },
        TopCommand::RetireWorker(args) => {
            block_on(worker_node::retire_worker(args)).map(|()| ExitCode::SUCCESS)
        }
        TopCommand::GenerateKey(args) => {
            concorde_tsa::generate_key(args.kind, args.bits, &args.file)
                .map(|()| {
                    println!("wrote private key to {}", args.file.display());
                    ExitCode::SUCCESS
                })
                .map_err(anyhow::Error::from)
        }
        TopCommand::Migrate(args) => block_on(migrate(args)),
        TopCommand::Client(command) => concorde_cli::run_with_globals(&cli.global, command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(future)
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let target = match (args.postgres_url, args.data_dir) {
        (Some(url), _) => concorde_store::MigrateTarget::PostgresUrl(url),
        (None, Some(dir)) => concorde_store::MigrateTarget::DataDir(dir),
        (None, None) => concorde_store::MigrateTarget::DataDir("./concorde-data".into()),
    };
    let report = concorde_store::migrate_command(target).await?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
