//! `concorde targets`: fly's `targets`, the saved targets with their token expiry.

use crate::fly::Ctx;
use crate::fly::table::{Cell, Table};
use crate::fly::targets::token_expiry;

/// Arguments of `targets`.
#[derive(Debug, clap::Args)]
pub struct TargetsArgs {}

/// Prints `name url team expiry`, sorted by name.
pub fn run(ctx: &mut Ctx<'_, '_>, _args: &TargetsArgs) -> anyhow::Result<u8> {
    let targets = ctx.targets()?;
    let mut table = Table::new(&["name", "url", "team", "expiry"]);
    for (name, target) in &targets.targets {
        let team = if target.team.is_empty() {
            "main"
        } else {
            &target.team
        };
        table.rows.push(vec![
            Cell::plain(name.as_str()),
            Cell::plain(target.api.as_str()),
            Cell::plain(team),
            Cell::plain(token_expiry(target.token.as_ref())),
        ]);
    }
    table.sort_by_first_column();
    ctx.render(&table)?;
    Ok(0)
}
