//! `concorde jobs`: fly's `jobs`, a pipeline's jobs with their latest statuses.

use concorde_proto::{BuildSummary, JobSummary};

use crate::fly::Ctx;
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::style::Style;
use crate::fly::table::{Cell, Table};

/// Arguments of `jobs`.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Get jobs in this pipeline.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints `name paused status next`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &JobsArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let raw = session.pipeline_list(&args.pipeline, &args.team, "jobs")?;
    if args.json {
        ctx.print_json(&raw)?;
        return Ok(0);
    }
    let jobs: Vec<JobSummary> = serde_json::from_value(raw)?;
    let mut table = Table::new(&["name", "paused", "status", "next"]);
    for job in &jobs {
        let paused = if job.paused {
            Cell::styled("yes", Style::Cyan)
        } else {
            Cell::plain("no")
        };
        table.rows.push(vec![
            Cell::plain(job.name.as_str()),
            paused,
            status_cell(job.finished_build.as_ref()),
            status_cell(job.next_build.as_ref()),
        ]);
    }
    ctx.render(&table)?;
    Ok(0)
}

fn status_cell(build: Option<&BuildSummary>) -> Cell {
    build.map_or_else(
        || Cell::plain("n/a"),
        |build| Cell::status(build.status.as_str()),
    )
}
