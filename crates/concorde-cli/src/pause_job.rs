//! `concorde pause-job` and `unpause-job`: fly's pair.

use crate::fly::client::{ClientError, Method, Request};
use crate::fly::flags::{PipelineChild, job_arg};
use crate::fly::{Ctx, Toggle};

/// Arguments of `pause-job` and `unpause-job`.
#[derive(Debug, clap::Args)]
pub struct PauseJobArgs {
    /// The job.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: PipelineChild,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Pauses or unpauses the job.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &PauseJobArgs, toggle: Toggle) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let (action, done) = toggle.words();
    let path = format!(
        "{}/{action}",
        args.job.path(session.team_or(&args.team), "jobs")
    );
    match session
        .client
        .act(Request::new(Method::Put, &path).queries(args.job.pipeline.query()))
    {
        Err(ClientError::NotFound) => {
            anyhow::bail!("{} failed: job '{}' not found", action, args.job)
        }
        other => other?,
    };
    ctx.say(format_args!("{done} '{}'", args.job))?;
    Ok(0)
}
