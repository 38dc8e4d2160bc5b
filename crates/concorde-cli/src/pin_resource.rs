//! `concorde pin-resource`: fly's `pin-resource`, pinning the newest version matching `-v` and
//! saving a pin comment.

use crate::fly::Ctx;
use crate::fly::client::{Body, ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, parse_version, resource_arg};
use crate::resource_versions::latest_matching;

/// Arguments of `pin-resource`.
#[derive(Debug, clap::Args)]
pub struct PinResourceArgs {
    /// Name of the resource.
    #[arg(short = 'r', long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg)]
    pub resource: PipelineChild,
    /// Version to pin: the given `k:v` pairs must match exactly, other fields are ignored; the
    /// latest matching version is pinned.
    #[arg(short = 'v', long)]
    pub version: Vec<String>,
    /// Message to be saved to the pinned resource.
    #[arg(short = 'c', long)]
    pub comment: Option<String>,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Pins and/or comments.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &PinResourceArgs) -> anyhow::Result<u8> {
    if args.version.is_empty() && args.comment.is_none() {
        anyhow::bail!("the required flag `-v, --version' was not specified");
    }
    let session = ctx.session()?;
    let resource_path = args.resource.path(session.team_or(&args.team), "resources");
    if !args.version.is_empty() {
        let wanted = parse_version(&args.version)?;
        let version = latest_matching(&session, &args.resource, args.team.as_ref(), &wanted)?;
        let path = format!("{resource_path}/versions/{}/pin", version.id);
        match session
            .client
            .act(Request::new(Method::Put, &path).queries(args.resource.pipeline.query()))
        {
            Err(ClientError::NotFound) => anyhow::bail!(
                "could not pin '{}', make sure the resource exists",
                args.resource
            ),
            other => other?,
        };
        ctx.say(format_args!(
            "pinned '{}' with version {}",
            args.resource,
            serde_json::to_string(&version.version)?
        ))?;
    }
    if let Some(comment) = &args.comment {
        let body = Body::json(&serde_json::json!({ "pin_comment": comment }));
        let path = format!("{resource_path}/pin_comment");
        let request = Request::new(Method::Put, &path).queries(args.resource.pipeline.query());
        match session.client.act(request.body(body)) {
            Err(ClientError::NotFound) => anyhow::bail!(
                "could not save comment, make sure '{}' is pinned",
                args.resource
            ),
            other => other?,
        };
        ctx.say(format_args!("pin comment '{comment}' is saved"))?;
    }
    Ok(0)
}
