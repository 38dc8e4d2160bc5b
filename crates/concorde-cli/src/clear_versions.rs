//! `concorde clear-versions`: fly's `clear-versions`. Deletes a resource's (or a resource
//! type's) version history after a confirmation; its next check starts from nothing. Admins
//! only.

use crate::fly::client::{ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, resource_arg, resource_type_arg};
use crate::fly::{Ctx, prompt};

/// Arguments of `clear-versions`.
#[derive(Debug, clap::Args)]
pub struct ClearVersionsArgs {
    /// The resource whose versions go.
    #[arg(long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg, required_unless_present = "resource_type", conflicts_with = "resource_type")]
    pub resource: Option<PipelineChild>,
    /// The resource type whose versions go.
    #[arg(long = "resource-type", value_name = "PIPELINE/RESOURCE-TYPE", value_parser = resource_type_arg)]
    pub resource_type: Option<PipelineChild>,
    /// Clear without confirmation.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Clears the versions.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ClearVersionsArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let (target, collection, what) = match (&args.resource, &args.resource_type) {
        (Some(resource), _) => (resource, "resources", "resource"),
        (None, Some(kind)) => (kind, "resource-types", "resource type"),
        (None, None) => anyhow::bail!("--resource or --resource-type must be given"),
    };
    ctx.say(format_args!(
        "!!! this will clear the version history of {what} '{}'\n",
        target.name
    ))?;
    if !args.non_interactive
        && !prompt::confirm(&mut *ctx.io.stdin, &mut *ctx.io.stdout, "are you sure?")?
    {
        ctx.say("bailing out")?;
        return Ok(0);
    }
    let path = format!(
        "{}/versions",
        target.path(session.team_or(&args.team), collection)
    );
    let reply = match session
        .client
        .act(Request::new(Method::Delete, &path).queries(target.pipeline.query()))
    {
        Err(ClientError::NotFound) => {
            anyhow::bail!(
                "pipeline '{}' or {what} '{}' not found",
                target.pipeline,
                target.name
            )
        }
        other => other?,
    };
    let removed: serde_json::Value = reply.json(&path)?;
    ctx.say(format_args!(
        "{} versions removed",
        removed["versions_removed"].as_u64().unwrap_or(0)
    ))?;
    Ok(0)
}
