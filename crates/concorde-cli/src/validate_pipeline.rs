//! `concorde validate-pipeline`: fly's `validate-pipeline`, with YAML locations added.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use concorde_config::{
    Severity, UnknownKeys, json_to_yaml, load_pipeline, node_to_json, render_fly_report,
    validate_pipeline,
};

use crate::static_vars::StaticVarFlags;

/// Arguments of `validate-pipeline`.
#[derive(Debug, clap::Args)]
#[command(visible_alias = "vp")]
pub struct ValidatePipelineArgs {
    /// The pipeline config file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,
    /// Treat warnings as errors, and reject unknown keys.
    #[arg(short = 's', long)]
    pub strict: bool,
    /// Print the config after applying static vars.
    #[arg(short = 'o', long)]
    pub output: bool,
    /// Accepted for compatibility with fly; the across step is always enabled.
    #[arg(long, hide = true)]
    pub enable_across_step: bool,
    /// Static vars.
    #[command(flatten)]
    pub vars: StaticVarFlags,
}

/// Validates; exit 0 when valid, 1 with the problems on stderr otherwise.
pub fn run(args: &ValidatePipelineArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("could not read {}", args.config.display()))?;
    let vars = args.vars.to_static_vars()?;
    let unknown_keys = if args.strict {
        UnknownKeys::Reject
    } else {
        UnknownKeys::Ignore
    };
    let loaded = match load_pipeline(&bytes, &vars, unknown_keys) {
        Ok(loaded) => loaded,
        Err(err) => {
            for line in err.lines() {
                eprintln!("error: {line}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let diagnostics = validate_pipeline(&loaded.pipeline);
    eprint!("{}", render_fly_report(&diagnostics));
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let has_warnings = diagnostics.iter().any(|d| d.severity == Severity::Warning);
    if has_errors || (args.strict && has_warnings) {
        eprintln!("error: configuration invalid");
        return Ok(ExitCode::FAILURE);
    }
    let mut stdout = std::io::stdout().lock();
    if args.output {
        stdout.write_all(json_to_yaml(&node_to_json(&loaded.evaluated))?.as_bytes())?;
    } else {
        writeln!(stdout, "looks good")?;
    }
    Ok(ExitCode::SUCCESS)
}
