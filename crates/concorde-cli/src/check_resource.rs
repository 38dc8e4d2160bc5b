//! `concorde check-resource`: fly's `check-resource`. Starts a check build and, unless
//! `--async`, renders it and exits with its exit code.

use concorde_proto::Build;

use crate::fly::client::{Body, ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, parse_version, resource_arg};
use crate::fly::style::Style;
use crate::fly::{Ctx, StreamOptions};

/// Arguments of `check-resource`.
#[derive(Debug, clap::Args)]
pub struct CheckResourceArgs {
    /// Name of a resource to check version for.
    #[arg(short = 'r', long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg)]
    pub resource: PipelineChild,
    /// Version of the resource to check from, e.g. ref:abcd or path:thing-1.2.3.tgz.
    #[arg(short = 'f', long = "from", value_name = "VERSION")]
    pub from: Vec<String>,
    /// Return the check without waiting for its result.
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,
    /// Check the resource itself only.
    #[arg(long)]
    pub shallow: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Checks the resource.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &CheckResourceArgs) -> anyhow::Result<u8> {
    let check = Check {
        target: &args.resource,
        collection: "resources",
        from: &args.from,
        run_async: args.run_async,
        shallow: args.shallow,
        team: &args.team,
    };
    run_check(ctx, &check, "resource")
}

/// A check of a resource or a resource type.
#[derive(Debug)]
pub struct Check<'a> {
    /// `PIPELINE/NAME`.
    pub target: &'a PipelineChild,
    /// `resources` or `resource-types`.
    pub collection: &'static str,
    /// `--from` pairs.
    pub from: &'a [String],
    /// `--async`.
    pub run_async: bool,
    /// `--shallow`.
    pub shallow: bool,
    /// `--team`.
    pub team: &'a Option<String>,
}

/// `POST .../<collection>/NAME/check`, then the check build's events.
pub fn run_check(ctx: &mut Ctx<'_, '_>, check: &Check<'_>, what: &str) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let from = if check.from.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(parse_version(check.from)?)?
    };
    let path = format!(
        "{}/check",
        check
            .target
            .path(session.team_or(check.team), check.collection)
    );
    let body = Body::json(&serde_json::json!({ "from": from, "shallow": check.shallow }));
    let request = Request::new(Method::Post, &path)
        .queries(check.target.pipeline.query())
        .body(body);
    let reply = match session.client.act(request) {
        Err(ClientError::NotFound) => {
            anyhow::bail!(
                "pipeline '{}' or {what} '{}' not found",
                check.target.pipeline,
                check.target.name
            )
        }
        other => other?,
    };
    let build: Build = reply.json(&path)?;
    let name = Style::Bold.paint(&check.target.to_string(), ctx.color());
    ctx.say(format_args!("checking {name} in build {}", build.id))?;
    if check.run_async {
        return Ok(0);
    }
    ctx.stream_build(&session.client, build.id.0, StreamOptions::default())
}
