//! `concorde get-pipeline`: fly's `get-pipeline`, the pipeline's saved config as YAML or JSON.

use concorde_config::{json_to_yaml, sort_keys};
use concorde_proto::ConfigResponse;

use crate::fly::Ctx;
use crate::fly::client::ClientError;
use crate::fly::flags::{PipelineRef, pipeline_arg};

/// Arguments of `get-pipeline`.
#[derive(Debug, clap::Args)]
pub struct GetPipelineArgs {
    /// Get configuration of this pipeline.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Print config as JSON instead of YAML.
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints the config; YAML keys come out sorted, as fly writes them.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &GetPipelineArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!("{}/config", args.pipeline.path(session.team_or(&args.team)));
    let response: ConfigResponse = match session.client.get(&path, args.pipeline.query()) {
        Err(ClientError::NotFound) => anyhow::bail!("pipeline not found"),
        other => other?,
    };
    if args.json {
        ctx.print_json(&response.config)?;
    } else {
        ctx.io
            .stdout
            .write_all(json_to_yaml(&sort_keys(response.config))?.as_bytes())?;
    }
    Ok(0)
}
