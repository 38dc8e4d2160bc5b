//! `concorde expose-pipeline` and `hide-pipeline`: fly's pair, switching public visibility.

use crate::fly::Ctx;
use crate::fly::client::{ClientError, Method, Request};
use crate::fly::flags::{PipelineRef, pipeline_arg};

/// Arguments of `expose-pipeline` and `hide-pipeline`.
#[derive(Debug, clap::Args)]
pub struct ExposePipelineArgs {
    /// The pipeline.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Which way to switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// `expose-pipeline`.
    Expose,
    /// `hide-pipeline`.
    Hide,
}

/// Exposes or hides.
pub fn run(
    ctx: &mut Ctx<'_, '_>,
    args: &ExposePipelineArgs,
    visibility: Visibility,
) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let (action, done) = match visibility {
        Visibility::Expose => ("expose", "exposed"),
        Visibility::Hide => ("hide", "hid"),
    };
    let path = format!(
        "{}/{action}",
        args.pipeline.path(session.team_or(&args.team))
    );
    match session
        .client
        .act(Request::new(Method::Put, &path).queries(args.pipeline.query()))
    {
        Err(ClientError::NotFound) => anyhow::bail!("pipeline '{}' not found", args.pipeline),
        other => other?,
    };
    ctx.say(format_args!("{done} '{}'", args.pipeline))?;
    Ok(0)
}
