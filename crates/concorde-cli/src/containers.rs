//! `concorde containers`: fly's `containers`, the team's containers sorted by handle.

use concorde_proto::Container;

use crate::fly::Ctx;
use crate::fly::client::percent;
use crate::fly::style::Style;
use crate::fly::table::{Cell, Table};

/// Arguments of `containers`.
#[derive(Debug, clap::Args)]
pub struct ContainersArgs {
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team to list, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints `handle worker pipeline job build # build id type name attempt`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ContainersArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!(
        "/api/v1/teams/{}/containers",
        percent(session.team_or(&args.team))
    );
    let raw: serde_json::Value = session.client.get(&path, Vec::new())?;
    if args.json {
        ctx.print_json(&raw)?;
        return Ok(0);
    }
    let containers: Vec<Container> = serde_json::from_value(raw)?;
    let text = |value: Option<&String>| match value.filter(|value| !value.is_empty()) {
        Some(value) => Cell::plain(value.as_str()),
        None => Cell::styled("none", Style::Faint),
    };
    let mut table = Table::new(&[
        "handle", "worker", "pipeline", "job", "build #", "build id", "type", "name", "attempt",
    ]);
    for container in &containers {
        let build_id = match container.build_id.filter(|id| id.0 != 0) {
            Some(id) => Cell::plain(id.to_string()),
            None => Cell::styled("none", Style::Faint),
        };
        let name = container
            .step_name
            .as_ref()
            .or(container.resource_name.as_ref());
        let attempt = container
            .attempt
            .clone()
            .filter(|attempt| !attempt.is_empty())
            .unwrap_or_else(|| "n/a".to_owned());
        table.rows.push(vec![
            Cell::plain(container.id.as_str()),
            Cell::plain(container.worker_name.as_str()),
            text(container.pipeline_name.as_ref()),
            text(container.job_name.as_ref()),
            text(container.build_name.as_ref()),
            build_id,
            text(container.kind.as_ref()),
            text(name),
            Cell::plain(attempt),
        ]);
    }
    table.sort_by_first_column();
    ctx.render(&table)?;
    Ok(0)
}
