//! `concorde pause-pipeline` and `unpause-pipeline`: fly's pair, one pipeline or all (`-a`).

use concorde_proto::Pipeline;

use crate::fly::client::{ClientError, Method, Request, percent};
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::{Ctx, Toggle};

/// Arguments of `pause-pipeline` and `unpause-pipeline`.
#[derive(Debug, clap::Args)]
pub struct PausePipelineArgs {
    /// The pipeline.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg, required_unless_present = "all", conflicts_with = "all")]
    pub pipeline: Option<PipelineRef>,
    /// Every pipeline of the team.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Pauses or unpauses.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &PausePipelineArgs, toggle: Toggle) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let team = session.team_or(&args.team).to_owned();
    let pipelines = match &args.pipeline {
        Some(pipeline) => vec![pipeline.clone()],
        None => {
            let listed: Vec<Pipeline> = session.client.get(
                &format!("/api/v1/teams/{}/pipelines", percent(&team)),
                Vec::new(),
            )?;
            listed
                .into_iter()
                .map(|pipeline| PipelineRef {
                    name: pipeline.name,
                    instance_vars: pipeline.instance_vars.unwrap_or_default(),
                })
                .collect()
        }
    };
    let (action, done) = toggle.words();
    for pipeline in pipelines {
        let path = format!("{}/{action}", pipeline.path(&team));
        match session
            .client
            .act(Request::new(Method::Put, &path).queries(pipeline.query()))
        {
            Err(ClientError::NotFound) => anyhow::bail!("pipeline '{pipeline}' not found"),
            other => other?,
        };
        ctx.say(format_args!("{done} '{pipeline}'"))?;
    }
    Ok(0)
}
