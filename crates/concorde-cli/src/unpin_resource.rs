//! `concorde unpin-resource`: fly's `unpin-resource`.

use crate::fly::Ctx;
use crate::fly::client::{ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, resource_arg};

/// Arguments of `unpin-resource`.
#[derive(Debug, clap::Args)]
pub struct UnpinResourceArgs {
    /// Name of the resource.
    #[arg(short = 'r', long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg)]
    pub resource: PipelineChild,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Removes the API pin.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &UnpinResourceArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!(
        "{}/unpin",
        args.resource.path(session.team_or(&args.team), "resources")
    );
    match session
        .client
        .act(Request::new(Method::Put, &path).queries(args.resource.pipeline.query()))
    {
        Err(ClientError::NotFound) => anyhow::bail!(
            "could not unpin '{}', make sure the resource exists",
            args.resource
        ),
        other => other?,
    };
    ctx.say(format_args!("unpinned '{}'", args.resource))?;
    Ok(0)
}
