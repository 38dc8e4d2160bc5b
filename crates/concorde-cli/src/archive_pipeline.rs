//! `concorde archive-pipeline`: fly's `archive-pipeline`. An archived pipeline keeps its build
//! history but loses its configuration: nothing runs in it until it is set again.

use concorde_proto::Pipeline;

use crate::fly::client::{Method, Request};
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::{Ctx, prompt};

/// Arguments of `archive-pipeline`.
#[derive(Debug, clap::Args)]
pub struct ArchivePipelineArgs {
    /// Pipeline to archive.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg, required_unless_present = "all", conflicts_with = "all")]
    pub pipeline: Option<PipelineRef>,
    /// Archive every pipeline of the team.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Archive without confirmation.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// Team of the pipelines, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Archives the pipeline (or all of them).
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ArchivePipelineArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let team = session.team_or(&args.team).to_owned();
    let targets: Vec<PipelineRef> = match &args.pipeline {
        Some(pipeline) => vec![pipeline.clone()],
        None => {
            let pipelines: Vec<Pipeline> = session
                .client
                .get(&format!("/api/v1/teams/{team}/pipelines"), Vec::new())?;
            pipelines
                .into_iter()
                .filter(|pipeline| !pipeline.archived)
                .map(|pipeline| PipelineRef {
                    name: pipeline.name,
                    instance_vars: pipeline.instance_vars.unwrap_or_default(),
                })
                .collect()
        }
    };
    if targets.is_empty() {
        ctx.say("there are no unarchived pipelines")?;
        return Ok(0);
    }
    ctx.say(
        "!!! archiving the pipeline will remove its configuration. Build history will be retained.\n",
    )?;
    let question = match targets.as_slice() {
        [one] => format!("archive pipeline '{one}'?"),
        many => format!("archive {} pipelines?", many.len()),
    };
    if !args.non_interactive
        && !prompt::confirm(&mut *ctx.io.stdin, &mut *ctx.io.stdout, &question)?
    {
        ctx.say("bailing out")?;
        return Ok(0);
    }
    for pipeline in &targets {
        let path = format!("{}/archive", pipeline.path(&team));
        let reply = session
            .client
            .send(Request::new(Method::Put, &path).queries(pipeline.query()))?;
        if reply.status == 404 {
            ctx.say(format_args!("pipeline '{pipeline}' not found"))?;
            return Ok(1);
        }
        reply.ok()?;
        ctx.say(format_args!("archived '{pipeline}'"))?;
    }
    Ok(0)
}
