//! `concorde resource-versions`: fly's `resource-versions`, newest first.

use std::collections::BTreeMap;

use concorde_proto::{Resource, ResourceVersion};

use crate::fly::client::ClientError;
use crate::fly::flags::{PipelineChild, resource_arg};
use crate::fly::table::{Cell, Table};
use crate::fly::{Ctx, Session};

/// Arguments of `resource-versions`.
#[derive(Debug, clap::Args)]
pub struct ResourceVersionsArgs {
    /// Name of a resource to get versions for.
    #[arg(short = 'r', long, value_name = "PIPELINE/RESOURCE", value_parser = resource_arg)]
    pub resource: PipelineChild,
    /// Number of versions you want to limit the return to.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub count: usize,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints `id version enabled`, then on stderr why the last check failed, if it did.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ResourceVersionsArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let raw = list_versions(
        &session,
        &args.resource,
        args.team.as_ref(),
        args.count,
        &BTreeMap::new(),
    )?;
    if args.json {
        ctx.print_json(&serde_json::Value::Array(raw))?;
        return Ok(0);
    }
    let mut table = Table::new(&["id", "version", "enabled"]);
    for value in raw {
        let version: ResourceVersion = serde_json::from_value(value)?;
        let text = version
            .version
            .iter()
            .map(|(key, value)| format!("{key}:{value}"))
            .collect::<Vec<_>>()
            .join(",");
        table.rows.push(vec![
            Cell::plain(version.id.to_string()),
            Cell::plain(text),
            Cell::yes_no(version.enabled),
        ]);
    }
    ctx.render(&table)?;
    // Versions that stopped coming usually mean a failing check: say why, on stderr.
    let path = args.resource.path(session.team_or(&args.team), "resources");
    if let Ok(raw) = session.client.get(&path, args.resource.pipeline.query())
        && let Ok(resource) = serde_json::from_value::<Resource>(raw)
    {
        ctx.note_check_error(&resource)?;
    }
    Ok(0)
}

/// `GET .../resources/R/versions?limit=N[&filter=k:v...]`, as raw JSON objects.
pub fn list_versions(
    session: &Session,
    resource: &PipelineChild,
    team: Option<&String>,
    limit: usize,
    filter: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let path = format!(
        "{}/versions",
        resource.path(session.team_or(&team.cloned()), "resources")
    );
    let mut query = vec![("limit".to_owned(), limit.to_string())];
    query.extend(
        filter
            .iter()
            .map(|(key, value)| ("filter".to_owned(), format!("{key}:{value}"))),
    );
    query.extend(resource.pipeline.query());
    match session.client.get(&path, query) {
        Err(ClientError::NotFound) => anyhow::bail!(
            "pipeline '{}' or resource '{}' not found",
            resource.pipeline,
            resource.name
        ),
        other => Ok(other?),
    }
}

/// The newest version of the resource matching every `k:v` of `filter`.
pub fn latest_matching(
    session: &Session,
    resource: &PipelineChild,
    team: Option<&String>,
    filter: &BTreeMap<String, String>,
) -> anyhow::Result<ResourceVersion> {
    let raw = list_versions(session, resource, team, 1, filter)?;
    let first = raw.into_iter().next().ok_or_else(|| {
        let wanted = serde_json::to_string(filter).unwrap_or_default();
        anyhow::anyhow!("could not find version matching {wanted}")
    })?;
    Ok(serde_json::from_value(first)?)
}
