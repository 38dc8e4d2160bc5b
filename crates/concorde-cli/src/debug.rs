//! `concorde debug ...`: tools for looking inside Concorde's machinery.

mod resolve_inputs;

use std::process::ExitCode;

pub use resolve_inputs::ResolveInputsArgs;

/// Subcommands of `concorde debug`.
#[derive(Debug, clap::Subcommand)]
pub enum DebugCommand {
    /// Run the scheduling conformance cases (or one case) through the input resolver and
    /// print one JSON line per case, as the shared suite's runner contract asks.
    ResolveInputs(ResolveInputsArgs),
}

/// Runs one `debug` subcommand.
pub fn run(command: DebugCommand) -> anyhow::Result<ExitCode> {
    match command {
        DebugCommand::ResolveInputs(args) => resolve_inputs::run(&args),
    }
}
