//! `concorde enable-resource-version` and `disable-resource-version`: fly's pair, acting on the
//! newest version matching `-v`.

use crate::fly::Ctx;
use crate::fly::client::{ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, parse_version, resource_arg};
use crate::resource_versions::latest_matching;

/// Arguments of `enable-resource-version` and `disable-resource-version`.
#[derive(Debug, clap::Args)]
pub struct ResourceVersionArgs {
    /// Name of the resource.
    #[arg(short = 'r', long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg)]
    pub resource: PipelineChild,
    /// Version of the resource, as `k:v` pairs that must match exactly.
    #[arg(short = 'v', long, required = true)]
    pub version: Vec<String>,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Which way to switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `enable-resource-version`.
    Enable,
    /// `disable-resource-version`.
    Disable,
}

/// Enables or disables the version.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ResourceVersionArgs, state: State) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let wanted = parse_version(&args.version)?;
    let version = latest_matching(&session, &args.resource, args.team.as_ref(), &wanted)?;
    let (action, done) = match state {
        State::Enable => ("enable", "enabled"),
        State::Disable => ("disable", "disabled"),
    };
    let path = format!(
        "{}/versions/{}/{action}",
        args.resource.path(session.team_or(&args.team), "resources"),
        version.id
    );
    let version_json = serde_json::to_string(&version.version)?;
    match session
        .client
        .act(Request::new(Method::Put, &path).queries(args.resource.pipeline.query()))
    {
        Err(ClientError::NotFound) => {
            anyhow::bail!(
                "could not {action} '{}' with version {version_json}, make sure the resource exists",
                args.resource
            )
        }
        other => other?,
    };
    ctx.say(format_args!(
        "{done} '{}' with version {version_json}",
        args.resource
    ))?;
    Ok(0)
}
