//! `concorde status`: fly's `status`, whether the target's token is still accepted.

use concorde_proto::UserInfo;

use crate::fly::Ctx;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

/// Asks `GET /api/v1/user` with the saved token.
pub fn run(ctx: &mut Ctx<'_, '_>, _args: &StatusArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let targets = ctx.targets()?;
    let logged_in = targets
        .get(&session.name)
        .and_then(|target| target.token.as_ref())
        .is_some_and(|token| token.is_set());
    if !logged_in {
        writeln!(ctx.io.stderr, "logged out")?;
        return Ok(1);
    }
    match session.client.get::<UserInfo>("/api/v1/user", Vec::new()) {
        Ok(_) => {
            ctx.say("logged in successfully")?;
            Ok(0)
        }
        Err(err) => {
            writeln!(
                ctx.io.stderr,
                "please login again.\n\ntoken validation failed with error: {err}"
            )?;
            Ok(1)
        }
    }
}
