//! `concorde format-pipeline`: rewrites a pipeline in fly's canonical form.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, format_pipeline, load_pipeline};

/// Arguments of `format-pipeline`.
#[derive(Debug, clap::Args)]
#[command(visible_alias = "fp")]
pub struct FormatPipelineArgs {
    /// The pipeline config file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,
    /// Rewrite the file in place instead of printing.
    #[arg(short = 'w', long)]
    pub write: bool,
}

/// Formats; prints the result or writes it back to the file.
pub fn run(args: &FormatPipelineArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("could not read {}", args.config.display()))?;
    let loaded = match load_pipeline(&bytes, &StaticVars::default(), UnknownKeys::Ignore) {
        Ok(loaded) => loaded,
        Err(err) => {
            for line in err.lines() {
                eprintln!("error: {line}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let formatted = format_pipeline(&loaded.pipeline)?;
    if args.write {
        // Write beside the file and rename, so a crash never leaves a half-written config.
        let temporary = args.config.with_extension("concorde-format.tmp");
        std::fs::write(&temporary, &formatted)
            .with_context(|| format!("could not write {}", temporary.display()))?;
        std::fs::rename(&temporary, &args.config)
            .with_context(|| format!("could not replace {}", args.config.display()))?;
    } else {
        std::io::stdout().lock().write_all(formatted.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
