//! `concorde order-pipelines`: fly's `order-pipelines`, by the given list or alphabetically.

use concorde_proto::Pipeline;

use crate::fly::Ctx;
use crate::fly::client::{Body, Method, Request, percent};

/// Arguments of `order-pipelines`.
#[derive(Debug, clap::Args)]
pub struct OrderPipelinesArgs {
    /// Order all pipelines alphabetically.
    #[arg(short = 'a', long, conflicts_with = "pipeline")]
    pub alphabetical: bool,
    /// Name of pipeline (can be specified multiple times to provide relative ordering).
    #[arg(
        short = 'p',
        long,
        value_name = "PIPELINE",
        required_unless_present = "alphabetical"
    )]
    pub pipeline: Vec<String>,
    /// Team of the pipelines, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Saves the order.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &OrderPipelinesArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let team_path = format!(
        "/api/v1/teams/{}/pipelines",
        percent(session.team_or(&args.team))
    );
    let names: Vec<String> = if args.alphabetical {
        let listed: Vec<Pipeline> = session.client.get(&team_path, Vec::new())?;
        let mut names: Vec<String> = listed.into_iter().map(|pipeline| pipeline.name).collect();
        names.sort();
        names.dedup();
        names
    } else {
        if let Some(bad) = args.pipeline.iter().find(|name| name.contains('/')) {
            anyhow::bail!("pipeline name '{bad}' cannot contain '/'");
        }
        args.pipeline.clone()
    };
    let body = Body::json(&serde_json::json!(names));
    session
        .client
        .act(Request::new(Method::Put, &format!("{team_path}/ordering")).body(body))?;
    ctx.say("ordered pipelines")?;
    for name in &names {
        ctx.say(format_args!("  - {name}"))?;
    }
    Ok(0)
}
