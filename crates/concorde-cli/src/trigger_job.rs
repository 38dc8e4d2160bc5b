//! `concorde trigger-job`: fly's `trigger-job`; with `-w` it streams the build and exits with
//! the build's exit code.

use concorde_proto::Build;

use crate::fly::Ctx;
use crate::fly::client::{Method, Request};
use crate::fly::flags::{PipelineChild, job_arg};

/// Arguments of `trigger-job`.
#[derive(Debug, clap::Args)]
pub struct TriggerJobArgs {
    /// Name of a job to trigger.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: PipelineChild,
    /// Start watching the build output.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Creates a manual build of the job.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &TriggerJobArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!(
        "{}/builds",
        args.job.path(session.team_or(&args.team), "jobs")
    );
    let reply = session
        .client
        .act(Request::new(Method::Post, &path).queries(args.job.pipeline.query()))?;
    let build: Build = reply.json(&path)?;
    ctx.started_build(&session.client, &args.job, &build, args.watch)
}
