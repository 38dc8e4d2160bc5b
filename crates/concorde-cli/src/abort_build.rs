//! `concorde abort-build`: fly's `abort-build`, by a job's build name or a build id.

use concorde_proto::Build;

use crate::fly::Ctx;
use crate::fly::client::{ClientError, Method, Request, percent};
use crate::fly::flags::{PipelineChild, job_arg};

/// Arguments of `abort-build`.
#[derive(Debug, clap::Args)]
pub struct AbortBuildArgs {
    /// Name of a job to cancel.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: Option<PipelineChild>,
    /// If job is specified: build number to cancel. Otherwise: build id to cancel.
    #[arg(short = 'b', long)]
    pub build: String,
    /// Mark the build aborted at once, without waiting for its containers.
    #[arg(long)]
    pub force: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Aborts the build.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &AbortBuildArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let build_id: i64 = match &args.job {
        Some(job) => {
            let path = format!(
                "{}/builds/{}",
                job.path(session.team_or(&args.team), "jobs"),
                percent(&args.build)
            );
            let build: Build = match session.client.get(&path, job.pipeline.query()) {
                Err(ClientError::NotFound) => anyhow::bail!("job build does not exist"),
                other => other?,
            };
            build.id.0
        }
        None => args
            .build
            .parse()
            .map_err(|_| anyhow::anyhow!("build id must be a number, got '{}'", args.build))?,
    };
    let path = format!("/api/v1/builds/{build_id}/abort");
    let mut request = Request::new(Method::Put, &path);
    if args.force {
        request = request.query("force", "true");
    }
    match session.client.act(request) {
        Err(ClientError::NotFound) => anyhow::bail!("build does not exist"),
        other => other?,
    };
    ctx.say(if args.force {
        "build forcefully aborted"
    } else {
        "build successfully aborted"
    })?;
    Ok(0)
}
