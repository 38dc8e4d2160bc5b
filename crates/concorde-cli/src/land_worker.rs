//! `concorde land-worker` and `prune-worker`: fly's commands that drain and remove workers.

use concorde_proto::Worker;

use crate::fly::Ctx;
use crate::fly::client::{Body, ClientError, Method, Request, percent};

/// Arguments of `land-worker`.
#[derive(Debug, clap::Args)]
pub struct LandWorkerArgs {
    /// The worker to land.
    #[arg(short = 'w', long = "worker", value_name = "NAME")]
    pub worker: String,
}

/// Arguments of `prune-worker`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct PruneWorkerArgs {
    /// The worker to prune.
    #[arg(short = 'w', long = "worker", value_name = "NAME")]
    pub worker: Option<String>,
    /// Prune every stalled worker.
    #[arg(short = 'a', long = "all-stalled")]
    pub all_stalled: bool,
}

/// Lands the worker: `landed '<name>'`.
pub fn land(ctx: &mut Ctx<'_, '_>, args: &LandWorkerArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let workers: Vec<Worker> = session.client.get("/api/v1/workers", Vec::new())?;
    let Some(worker) = workers.iter().find(|worker| worker.name == args.worker) else {
        anyhow::bail!("worker '{}' not found", args.worker);
    };
    let path = format!("/api/v1/workers/{}/land", percent(&args.worker));
    let body = Body::json(&serde_json::json!({"team": worker.team}));
    session
        .client
        .act(Request::new(Method::Put, &path).body(body))?;
    ctx.say(format_args!("landed '{}'", args.worker))?;
    Ok(0)
}

/// Prunes one worker, or every stalled one: `pruned '<name>'` each.
pub fn prune(ctx: &mut Ctx<'_, '_>, args: &PruneWorkerArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let names: Vec<String> = match &args.worker {
        Some(name) => vec![name.clone()],
        None => {
            let workers: Vec<Worker> = session.client.get("/api/v1/workers", Vec::new())?;
            workers
                .into_iter()
                .filter(|worker| worker.state == "stalled")
                .map(|worker| worker.name)
                .collect()
        }
    };
    for name in names {
        let path = format!("/api/v1/workers/{}/prune", percent(&name));
        match session.client.act(Request::new(Method::Put, &path)) {
            Ok(_) => ctx.say(format_args!("pruned '{name}'"))?,
            Err(ClientError::NotFound) => anyhow::bail!("worker '{name}' not found"),
            Err(ClientError::Unexpected { status: 400, body }) => {
                let message = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|json| json["stderr"].as_str().map(str::to_owned))
                    .unwrap_or(body);
                anyhow::bail!("{message}");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(0)
}
