//! `concorde resources`: fly's `resources`, a pipeline's resources with pin and check status.

use concorde_proto::Resource;

use crate::fly::Ctx;
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::table::{Cell, Table};

/// Arguments of `resources`.
#[derive(Debug, clap::Args)]
pub struct ResourcesArgs {
    /// Get resources in this pipeline.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints `name type pinned check status`, then on stderr why failed checks failed.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ResourcesArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let raw = session.pipeline_list(&args.pipeline, &args.team, "resources")?;
    if args.json {
        ctx.print_json(&raw)?;
        return Ok(0);
    }
    let resources: Vec<Resource> = serde_json::from_value(raw)?;
    let mut table = Table::new(&["name", "type", "pinned", "check status"]);
    for resource in &resources {
        let pinned = resource.pinned_version.as_ref().map_or_else(
            || "n/a".to_owned(),
            |version| {
                version
                    .iter()
                    .map(|(key, value)| format!("{key}:{value}"))
                    .collect::<Vec<_>>()
                    .join(",")
            },
        );
        let status = resource.build.as_ref().map_or_else(
            || Cell::plain("n/a"),
            |build| Cell::status(build.status.as_str()),
        );
        table.rows.push(vec![
            Cell::plain(resource.name.as_str()),
            Cell::plain(resource.type_name.as_str()),
            Cell::plain(pinned),
            status,
        ]);
    }
    ctx.render(&table)?;
    for resource in &resources {
        ctx.note_check_error(resource)?;
    }
    Ok(0)
}
