//! `concorde order-instanced-pipelines`: fly's `order-instanced-pipelines`, the order of the
//! instances of one pipeline name (`-g group -p k:v -p k:v2`).

use crate::fly::Ctx;
use crate::fly::client::{Body, ClientError, Method, Request};
use crate::fly::flags::PipelineRef;

/// Arguments of `order-instanced-pipelines`.
#[derive(Debug, clap::Args)]
pub struct OrderInstancedPipelinesArgs {
    /// The pipeline name the instances share.
    #[arg(short = 'g', long)]
    pub group: String,
    /// Instance vars of one instance, `k:v[,k2:v2]` (repeat, in the wanted order).
    #[arg(short = 'p', long, value_name = "INSTANCE_VARS", required = true)]
    pub pipeline: Vec<String>,
    /// Team of the pipelines, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Saves the order.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &OrderInstancedPipelinesArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let instances: Vec<PipelineRef> = args
        .pipeline
        .iter()
        .map(|vars| PipelineRef::parse(&format!("{}/{vars}", args.group)))
        .collect::<Result<_, _>>()?;
    let group = PipelineRef {
        name: args.group.clone(),
        instance_vars: serde_json::Map::new(),
    };
    let path = format!("{}/ordering", group.path(session.team_or(&args.team)));
    let body: Vec<serde_json::Value> = instances
        .iter()
        .map(|instance| serde_json::Value::Object(instance.instance_vars.clone()))
        .collect();
    let sent = session
        .client
        .act(Request::new(Method::Put, &path).body(Body::json(&serde_json::Value::Array(body))));
    match sent {
        Err(ClientError::Unexpected { status: 400, body }) => anyhow::bail!("{}", body.trim()),
        other => other?,
    };
    ctx.say("ordered instanced pipelines")?;
    for instance in &instances {
        ctx.say(format_args!("  - {instance}"))?;
    }
    Ok(0)
}
