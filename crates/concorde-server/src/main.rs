//! The `concorde` binary: parses the command line and hands each command to the crate that owns it.

mod observability;

use clap::Parser;

/// Concorde: a continuous-integration system that runs Concourse pipelines.
#[derive(Debug, Parser)]
#[command(name = "concorde", version, about)]
struct Cli {
    #[command(subcommand)]
    command: concorde_cli::Command,
}

fn main() -> std::process::ExitCode {
    observability::init();
    let cli = Cli::parse();
    match concorde_cli::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
