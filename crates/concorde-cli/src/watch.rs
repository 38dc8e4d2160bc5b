//! `concorde watch`: fly's `watch`, a build's output streamed live; exits with the build's
//! exit code.

use concorde_proto::{Build, Job};

use crate::fly::client::{ClientError, percent};
use crate::fly::flags::{PipelineChild, job_arg};
use crate::fly::{Ctx, Session, StreamOptions};

/// How often `watch -j` looks for the first build of a job that has none.
const FIRST_BUILD_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Arguments of `watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Watches builds of the given job.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: Option<PipelineChild>,
    /// Watches a specific build (a job's build name with `-j`, else a build id).
    #[arg(short = 'b', long)]
    pub build: Option<String>,
    /// Print with local timestamp (`-t` is the target flag here).
    #[arg(long)]
    pub timestamps: bool,
    /// Ignore event parsing errors.
    #[arg(long = "ignore-event-parsing-errors")]
    pub ignore_event_parsing_errors: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Picks the build and streams it.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &WatchArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let build_id = pick_build(&session, args)?;
    let options = StreamOptions {
        timestamps: args.timestamps,
        ignore_parse_errors: args.ignore_event_parsing_errors,
    };
    ctx.stream_build(&session.client, build_id, options)
}

/// `-j -b`: the job's build by name; `-j`: its next build, else its finished one (waiting for
/// the first build of a job that has none); `-b`: a build id; neither: the most recent one-off
/// build.
fn pick_build(session: &Session, args: &WatchArgs) -> anyhow::Result<i64> {
    let team = session.team_or(&args.team);
    match (&args.job, &args.build) {
        (Some(job), Some(name)) => {
            let path = format!("{}/builds/{}", job.path(team, "jobs"), percent(name));
            let build: Build = match session.client.get(&path, job.pipeline.query()) {
                Err(ClientError::NotFound) => anyhow::bail!("build not found"),
                other => other?,
            };
            Ok(build.id.0)
        }
        (Some(job), None) => loop {
            let found: Job = match session
                .client
                .get(&job.path(team, "jobs"), job.pipeline.query())
            {
                Err(ClientError::NotFound) => anyhow::bail!("job not found"),
                other => other?,
            };
            // A job without a build yet: wait for its first one, as fly does.
            match found.next_build.or(found.finished_build) {
                Some(build) => break Ok(build.id.0),
                None => std::thread::sleep(FIRST_BUILD_POLL),
            }
        },
        (None, Some(id)) => id
            .parse()
            .map_err(|_| anyhow::anyhow!("build id must be a number, got '{id}'")),
        (None, None) => {
            let builds: Vec<Build> = session.client.get(
                "/api/v1/builds",
                vec![("limit".to_owned(), "100".to_owned())],
            )?;
            let one_off = builds
                .into_iter()
                .find(|build| build.job_name.is_none() && build.resource_name.is_none());
            Ok(one_off
                .ok_or_else(|| anyhow::anyhow!("no builds match job"))?
                .id
                .0)
        }
    }
}
