//! `concorde rerun-build`: fly's `rerun-build`, a new build `<n>.<k>` with the same inputs.

use concorde_proto::Build;

use crate::fly::Ctx;
use crate::fly::client::{Method, Request, percent};
use crate::fly::flags::{PipelineChild, job_arg};

/// Arguments of `rerun-build`.
#[derive(Debug, clap::Args)]
pub struct RerunBuildArgs {
    /// Job to rerun.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: PipelineChild,
    /// The name of the build to rerun.
    #[arg(short = 'b', long)]
    pub build: String,
    /// Start watching the build output.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Reruns the build.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &RerunBuildArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!(
        "{}/builds/{}",
        args.job.path(session.team_or(&args.team), "jobs"),
        percent(&args.build)
    );
    let reply = session
        .client
        .act(Request::new(Method::Post, &path).queries(args.job.pipeline.query()))?;
    let build: Build = reply.json(&path)?;
    ctx.started_build(&session.client, &args.job, &build, args.watch)
}
