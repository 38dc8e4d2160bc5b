//! `concorde volumes`: fly's `volumes`, sorted by worker then handle, with an identifier that
//! depends on the volume's type.

use concorde_proto::{Volume, VolumeResourceType};

use crate::fly::Ctx;
use crate::fly::client::percent;
use crate::fly::table::{Cell, Table};

/// Arguments of `volumes`.
#[derive(Debug, clap::Args)]
pub struct VolumesArgs {
    /// Print additional information for each volume.
    #[arg(short = 'd', long)]
    pub details: bool,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Team to list, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Prints `handle worker type identifier`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &VolumesArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let path = format!(
        "/api/v1/teams/{}/volumes",
        percent(session.team_or(&args.team))
    );
    let raw: serde_json::Value = session.client.get(&path, Vec::new())?;
    if args.json {
        ctx.print_json(&raw)?;
        return Ok(0);
    }
    let mut volumes: Vec<Volume> = serde_json::from_value(raw)?;
    volumes.sort_by(|a, b| (&a.worker_name, &a.id).cmp(&(&b.worker_name, &b.id)));
    let mut table = Table::new(&["handle", "worker", "type", "identifier"]);
    for volume in &volumes {
        table.rows.push(vec![
            Cell::plain(volume.id.as_str()),
            Cell::plain(volume.worker_name.as_str()),
            Cell::plain(volume.kind.as_str()),
            Cell::plain(identifier(volume, args.details)),
        ]);
    }
    ctx.render(&table)?;
    Ok(0)
}

fn identifier(volume: &Volume, details: bool) -> String {
    match volume.kind.as_str() {
        "container" if details => {
            let mut text = format!("container:{},path:{}", volume.container_handle, volume.path);
            if !volume.parent_handle.is_empty() {
                text.push_str(&format!(",parent:{}", volume.parent_handle));
            }
            text
        }
        "container" => volume.container_handle.clone(),
        "task-cache" => format!(
            "{}/{}/{}",
            volume.pipeline_name, volume.job_name, volume.step_name
        ),
        "resource" => match &volume.resource_type {
            Some(kind) if details => {
                format!("type:{},version:{}", type_chain(kind), pairs(&kind.version))
            }
            Some(kind) => pairs(&kind.version),
            None => "n/a".to_owned(),
        },
        "resource-type" => match &volume.base_resource_type {
            Some(base) if details => format!("name:{},version:{}", base.name, base.version),
            Some(base) => base.name.clone(),
            None => "n/a".to_owned(),
        },
        _ => "n/a".to_owned(),
    }
}

/// `resource(name:git,version:1)` for a base type, nested for custom types.
fn type_chain(kind: &VolumeResourceType) -> String {
    if let Some(base) = &kind.base_resource_type {
        return format!("resource(name:{},version:{})", base.name, base.version);
    }
    match &kind.resource_type {
        Some(inner) => format!(
            "resource-type({}),version:{}",
            type_chain(inner),
            pairs(&inner.version)
        ),
        None => "n/a".to_owned(),
    }
}

fn pairs(version: &std::collections::BTreeMap<String, String>) -> String {
    version
        .iter()
        .map(|(key, value)| format!("{key}:{value}"))
        .collect::<Vec<_>>()
        .join(",")
}
