//! `concorde destroy-pipeline`: fly's `destroy-pipeline`, after a confirmation unless `-n`.

use crate::fly::client::{Method, Request};
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::{Ctx, prompt};

/// Arguments of `destroy-pipeline`.
#[derive(Debug, clap::Args)]
pub struct DestroyPipelineArgs {
    /// Pipeline to destroy.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Destroy the pipeline without confirmation.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Deletes the pipeline and everything in it.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &DestroyPipelineArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    ctx.say(format_args!(
        "!!! this will remove all data for pipeline `{}`\n",
        args.pipeline
    ))?;
    if !args.non_interactive
        && !prompt::confirm(&mut *ctx.io.stdin, &mut *ctx.io.stdout, "are you sure?")?
    {
        ctx.say("bailing out")?;
        return Ok(0);
    }
    let path = args.pipeline.path(session.team_or(&args.team));
    let reply = session
        .client
        .send(Request::new(Method::Delete, &path).queries(args.pipeline.query()))?;
    if reply.status == 404 {
        ctx.say(format_args!("`{}` does not exist", args.pipeline))?;
        return Ok(0);
    }
    reply.ok()?;
    ctx.say(format_args!("`{}` deleted", args.pipeline))?;
    Ok(0)
}
