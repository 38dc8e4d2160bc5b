//! `concorde rename-pipeline`: fly's `rename-pipeline`.

use crate::fly::Ctx;
use crate::fly::client::{Body, ClientError, Method, Request};
use crate::fly::flags::{PipelineRef, pipeline_arg};

/// Arguments of `rename-pipeline`.
#[derive(Debug, clap::Args)]
pub struct RenamePipelineArgs {
    /// Pipeline to rename.
    #[arg(short = 'o', long = "old-name", value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub old_name: PipelineRef,
    /// Name to set as pipeline name.
    #[arg(short = 'n', long = "new-name")]
    pub new_name: String,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Renames the pipeline (its whole instance group).
pub fn run(ctx: &mut Ctx<'_, '_>, args: &RenamePipelineArgs) -> anyhow::Result<u8> {
    if args.new_name.contains('/') {
        anyhow::bail!("pipeline name cannot contain '/'");
    }
    let session = ctx.session()?;
    let path = format!("{}/rename", args.old_name.path(session.team_or(&args.team)));
    let body = Body::json(&serde_json::json!({ "name": args.new_name }));
    match session
        .client
        .act(Request::new(Method::Put, &path).body(body))
    {
        Err(ClientError::NotFound) => anyhow::bail!("pipeline '{}' not found", args.old_name),
        other => other?,
    };
    ctx.say(format_args!(
        "pipeline successfully renamed to '{}'",
        args.new_name
    ))?;
    Ok(0)
}
