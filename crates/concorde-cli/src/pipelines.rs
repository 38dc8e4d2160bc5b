//! `concorde pipelines`: fly's `pipelines`, the team's (or every visible) pipeline as a table
//! or JSON.

use concorde_proto::Pipeline;

use crate::fly::Ctx;
use crate::fly::flags::PipelineRef;
use crate::fly::style::Style;
use crate::fly::table::{Cell, Table};
use crate::fly::times::go_time;

/// Arguments of `pipelines`.
#[derive(Debug, clap::Args)]
pub struct PipelinesArgs {
    /// Show pipelines of every team you can see.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Include archived pipelines.
    #[arg(long = "include-archived")]
    pub include_archived: bool,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team to list, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Lists pipelines.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &PipelinesArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = if args.all {
        "/api/v1/pipelines".to_owned()
    } else {
        format!(
            "/api/v1/teams/{}/pipelines",
            crate::fly::client::percent(session.team_or(&args.team))
        )
    };
    let raw: Vec<serde_json::Value> = session.client.get(&path, Vec::new())?;
    let mut listed = Vec::new();
    for value in raw {
        let pipeline: Pipeline = serde_json::from_value(value.clone())?;
        if args.include_archived || !pipeline.archived {
            listed.push((value, pipeline));
        }
    }
    if args.json {
        ctx.print_json(&serde_json::Value::Array(
            listed.into_iter().map(|(value, _)| value).collect(),
        ))?;
        return Ok(0);
    }
    let mut headers = vec!["id", "name"];
    if args.all {
        headers.push("team");
    }
    headers.extend(["paused", "public"]);
    if args.include_archived {
        headers.push("archived");
    }
    headers.push("last updated");
    let mut table = Table::new(&headers);
    for (_, pipeline) in &listed {
        let name = PipelineRef {
            name: pipeline.name.clone(),
            instance_vars: pipeline.instance_vars.clone().unwrap_or_default(),
        };
        let mut row = vec![
            Cell::plain(pipeline.id.to_string()),
            Cell::plain(name.to_string()),
        ];
        if args.all {
            row.push(Cell::plain(pipeline.team_name.as_str()));
        }
        row.push(switch(pipeline.paused));
        row.push(switch(pipeline.public));
        if args.include_archived {
            row.push(switch(pipeline.archived));
        }
        row.push(Cell::plain(go_time(
            pipeline.last_updated,
            &ctx.io.time_zone,
        )));
        table.rows.push(row);
    }
    ctx.render(&table)?;
    Ok(0)
}

/// `yes` in cyan or a plain `no`.
fn switch(value: bool) -> Cell {
    if value {
        Cell::styled("yes", Style::Cyan)
    } else {
        Cell::plain("no")
    }
}
