//! `concorde workers`: fly's `workers`. On a terminal, running workers first, then those whose
//! version is behind the server's, then stalled ones, each in its own table.

use concorde_proto::{Info, Worker};

use crate::fly::Ctx;
use crate::fly::style::Style;
use crate::fly::table::{Cell, Table};
use crate::fly::times::age;

/// Arguments of `workers`.
#[derive(Debug, clap::Args)]
pub struct WorkersArgs {
    /// Print additional information for each worker.
    #[arg(short = 'd', long)]
    pub details: bool,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Lists workers.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &WorkersArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let raw: serde_json::Value = session.client.get("/api/v1/workers", Vec::new())?;
    if args.json {
        ctx.print_json(&raw)?;
        return Ok(0);
    }
    let mut workers: Vec<Worker> = serde_json::from_value(raw)?;
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    let info: Info = session.client.get("/api/v1/info", Vec::new())?;
    let expected = info.worker_version;
    let (mut running, mut outdated, mut stalled) = (Vec::new(), Vec::new(), Vec::new());
    for worker in &workers {
        if worker.state == "stalled" {
            stalled.push(worker);
        } else if !compatible(&worker.version, &expected) {
            outdated.push(worker);
        } else {
            running.push(worker);
        }
    }
    let color = ctx.color();
    let headers = ctx.headers();
    if !ctx.io.stdout_tty {
        let all: Vec<&Worker> = running.into_iter().chain(outdated).chain(stalled).collect();
        return render(ctx, &all, args.details, &expected, headers).map(|()| 0);
    }
    render(ctx, &running, args.details, &expected, headers)?;
    if !outdated.is_empty() {
        writeln!(ctx.io.stdout)?;
        let line = format!("the following workers need to be updated to version {expected}:");
        writeln!(ctx.io.stdout, "{}", Style::Bold.paint(&line, color))?;
        writeln!(ctx.io.stdout)?;
        render(ctx, &outdated, args.details, &expected, headers)?;
    }
    if !stalled.is_empty() {
        writeln!(ctx.io.stdout)?;
        writeln!(
            ctx.io.stdout,
            "{}",
            Style::Bold.paint("the following workers have not checked in recently:", color)
        )?;
        writeln!(ctx.io.stdout)?;
        render(ctx, &stalled, args.details, &expected, headers)?;
        writeln!(ctx.io.stdout)?;
        writeln!(
            ctx.io.stdout,
            "these stalled workers can be cleaned up by running:"
        )?;
        writeln!(ctx.io.stdout)?;
        let target = ctx.global.target.clone().unwrap_or_default();
        writeln!(
            ctx.io.stdout,
            "    {}",
            Style::Bold.paint(
                &format!("concorde -t {target} prune-worker -w (name)"),
                color
            )
        )?;
        writeln!(ctx.io.stdout)?;
    }
    Ok(0)
}

/// Whether a worker's `major.minor` matches the server's and its minor is not behind.
fn compatible(version: &str, expected: &str) -> bool {
    if expected.is_empty() {
        return true;
    }
    let parse = |text: &str| -> Option<(u64, u64)> {
        let mut parts = text.split('.');
        Some((
            parts.next()?.parse().ok()?,
            parts.next().unwrap_or("0").parse().ok()?,
        ))
    };
    match (parse(version), parse(expected)) {
        (Some((major, minor)), Some((want_major, want_minor))) => {
            major == want_major && minor >= want_minor
        }
        _ => false,
    }
}

fn render(
    ctx: &mut Ctx<'_, '_>,
    workers: &[&Worker],
    details: bool,
    expected: &str,
    headers: bool,
) -> anyhow::Result<()> {
    let mut columns = vec![
        "name",
        "containers",
        "platform",
        "tags",
        "team",
        "state",
        "version",
        "age",
    ];
    if details {
        columns.extend([
            "garden address",
            "baggageclaim url",
            "active tasks",
            "resource types",
        ]);
    }
    let mut table = Table::new(&columns);
    let none = || Cell::styled("none", Style::Faint);
    for worker in workers {
        let tags = if worker.tags.is_empty() {
            none()
        } else {
            Cell::plain(worker.tags.join(", "))
        };
        let team = if worker.team.is_empty() {
            none()
        } else {
            Cell::plain(worker.team.as_str())
        };
        let version = match (
            worker.version.is_empty(),
            compatible(&worker.version, expected),
        ) {
            (true, _) => Cell::styled("none", Style::Red),
            (false, true) => Cell::plain(worker.version.as_str()),
            (false, false) => Cell::styled(worker.version.as_str(), Style::Red),
        };
        let mut row = vec![
            Cell::plain(worker.name.as_str()),
            Cell::plain(worker.active_containers.to_string()),
            Cell::plain(worker.platform.as_str()),
            tags,
            team,
            Cell::plain(worker.state.as_str()),
            version,
            Cell::plain(age(worker.start_time, ctx.io.now)),
        ];
        if details {
            let types: Vec<&str> = worker
                .resource_types
                .iter()
                .map(|kind| kind.type_name.as_str())
                .collect();
            row.extend([
                Cell::plain(worker.addr.as_str()),
                Cell::plain(worker.baggageclaim_url.as_str()),
                Cell::plain(worker.active_tasks.to_string()),
                Cell::plain(types.join(", ")),
            ]);
        }
        table.rows.push(row);
    }
    let color = ctx.color();
    table.render(&mut *ctx.io.stdout, headers, color)?;
    Ok(())
}
