//! The commands a user types after `concorde`: fly's command set and local tools.
//!
//! Each command lives in its own module and returns the process exit code, so that commands
//! such as `validate-pipeline` can report "invalid" (exit 1) without it being an internal error.

mod debug;
mod format_pipeline;
mod static_vars;
mod validate_pipeline;

use std::process::ExitCode;

pub use debug::DebugCommand;
pub use format_pipeline::FormatPipelineArgs;
pub use validate_pipeline::ValidatePipelineArgs;

/// Every subcommand of the `concorde` binary that the CLI crate owns.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a pipeline config file, as `fly validate-pipeline` does.
    ValidatePipeline(ValidatePipelineArgs),
    /// Rewrite a pipeline config in fly's canonical key order.
    FormatPipeline(FormatPipelineArgs),
    /// Tools for looking inside Concorde's machinery.
    #[command(subcommand)]
    Debug(DebugCommand),
    /// Run a built-in resource type's check, in or out script.
    Resource(concorde_resource::cli::ResourceArgs),
}

/// Runs one command to completion.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::ValidatePipeline(args) => validate_pipeline::run(&args),
        Command::FormatPipeline(args) => format_pipeline::run(&args),
        Command::Debug(command) => debug::run(command),
        Command::Resource(args) => Ok(concorde_resource::cli::run_cli(args)),
    }
}
