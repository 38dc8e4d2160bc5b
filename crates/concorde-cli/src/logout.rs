//! `concorde logout`: fly's `logout`. Revokes the token on the server (`GET /sky/logout` with
//! the `skymarshal_auth` cookie), then keeps the target with an empty token.

use anyhow::Context as _;

use crate::fly::Ctx;
use crate::fly::client::{Client, Method, Request};
use crate::fly::targets::{TargetName, Token};

/// Arguments of `logout`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Logout of all targets.
    #[arg(short = 'a', long)]
    pub all: bool,
}

/// Logs out of the `-t` target, or of every target with `-a`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &LogoutArgs) -> anyhow::Result<u8> {
    let given = ctx
        .global
        .target
        .as_deref()
        .is_some_and(|name| !name.is_empty());
    if given == args.all {
        anyhow::bail!("must specify either --target or --all");
    }
    let mut targets = ctx.targets()?;
    let names: Vec<String> = if args.all {
        targets.targets.keys().cloned().collect()
    } else {
        let name = ctx.target_name()?;
        if targets.get(&name).is_none() {
            anyhow::bail!("unknown target: {name}");
        }
        vec![name.0]
    };
    for name in &names {
        let Some(target) = targets.targets.get_mut(name) else {
            continue;
        };
        if let Some(token) = target.token.as_ref().filter(|token| token.is_set()) {
            // Revoking is best effort: the local token is dropped even if the server is gone.
            let client = Client::new(
                &TargetName(name.clone()),
                &target.api,
                target.insecure,
                None,
            )?;
            let request = Request::new(Method::Get, "/sky/logout")
                .header("Cookie", format!("skymarshal_auth={}", token.header()));
            let _ = client.send(request);
        }
        target.token = Some(Token::default());
    }
    targets
        .save(ctx.io.home.as_deref())
        .context("could not save the targets file")?;
    if args.all {
        ctx.say("logged out of all targets")?;
    } else {
        ctx.say(format_args!("logged out of target: {}", names.join("")))?;
    }
    Ok(0)
}
