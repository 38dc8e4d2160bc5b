//! `concorde login`: fly's `login`. Gets a token with the OAuth password grant (`-u`/`-p`) or
//! a pasted `TYPE VALUE` token, and saves the target in `~/.concorderc`.

use anyhow::Context as _;
use base64::Engine as _;
use concorde_proto::TokenResponse;

use crate::fly::Ctx;
use crate::fly::client::{Body, Client, ClientError, Method, Request};
use crate::fly::targets::{Target, Token};

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Concorde URL to authenticate with.
    #[arg(short = 'c', long = "concourse-url", value_name = "URL")]
    pub concourse_url: Option<String>,
    /// Skip verification of the endpoint's SSL certificate.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Username for local users.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password for local users.
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Team to authenticate with.
    #[arg(short = 'n', long = "team-name")]
    pub team_name: Option<String>,
    /// Path to Concorde's PEM-encoded CA certificate file.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
}

/// The OAuth client fly registers as: id `fly`, secret `Zmx5`.
const CLIENT_CREDENTIALS: &str = "fly:Zmx5";
const SCOPES: &str = "openid profile email federated:id groups";

/// Logs in and saves the target.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &LoginArgs) -> anyhow::Result<u8> {
    let name = ctx
        .target_name()
        .map_err(|_| anyhow::anyhow!("name for the target must be specified (--target/-t)"))?;
    let mut targets = ctx.targets()?;
    let previous = targets.get(&name).cloned();
    let mut target = match (&args.concourse_url, previous) {
        (Some(url), previous) => Target {
            api: url.trim_end_matches('/').to_owned(),
            team: args.team_name.clone().unwrap_or_else(|| "main".to_owned()),
            ca_cert: previous.and_then(|previous| previous.ca_cert),
            ..Target::default()
        },
        (None, Some(previous)) => {
            let team = args.team_name.clone().unwrap_or(previous.team.clone());
            Target {
                team,
                token: None,
                ..previous
            }
        }
        (None, None) => return Err(ClientError::UnknownTarget(name).into()),
    };
    if target.team.is_empty() {
        "main".clone_into(&mut target.team);
    }
    target.insecure = args.insecure || target.insecure;
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        target.ca_cert = Some(pem);
    }
    ctx.say(format_args!("logging in to team '{}'\n", target.team))?;

    let client = Client::new(&name, &target.api, target.insecure, None)?;
    let token = match (&args.username, &args.password) {
        (Some(username), Some(password)) => password_grant(&client, username, password)?,
        _ => pasted_token(ctx, &client.url)?,
    };
    ctx.say("")?;
    target.token = Some(token);
    targets.targets.insert(name.0.clone(), target);
    targets
        .save(ctx.io.home.as_deref())
        .context("could not save the target")?;
    ctx.say("target saved")?;
    Ok(0)
}

/// `POST /sky/issuer/token` with `grant_type=password`, as fly's OAuth client sends it.
fn password_grant(client: &Client, username: &str, password: &str) -> anyhow::Result<Token> {
    let form = [
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
        ("scope", SCOPES),
    ];
    let body: Vec<String> = form
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                crate::fly::client::percent(key),
                crate::fly::client::percent(value)
            )
        })
        .collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(CLIENT_CREDENTIALS);
    let request = Request::new(Method::Post, "/sky/issuer/token")
        .header("Authorization", format!("Basic {basic}"))
        .body(Body {
            content_type: "application/x-www-form-urlencoded",
            bytes: body.join("&").into_bytes(),
        });
    let reply = match client.send(request) {
        Err(ClientError::Unauthorized(_)) => {
            anyhow::bail!("oauth2: cannot fetch token: 401 Unauthorized")
        }
        other => other?,
    };
    if !(200..300).contains(&reply.status) {
        anyhow::bail!(
            "oauth2: cannot fetch token: {}\nresponse: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body).trim()
        );
    }
    let token: TokenResponse = reply.json("/sky/issuer/token")?;
    Ok(Token {
        token_type: token.token_type,
        value: token.access_token,
    })
}

/// Without `-u`/`-p`: the user logs in with a browser and pastes the `TYPE VALUE` token.
fn pasted_token(ctx: &mut Ctx<'_, '_>, url: &str) -> anyhow::Result<Token> {
    ctx.say("navigate to the following URL in your browser:\n")?;
    ctx.say(format_args!("  {url}/login\n"))?;
    loop {
        write!(ctx.io.stdout, "or enter token manually: ")?;
        ctx.io.stdout.flush()?;
        let mut line = String::new();
        if ctx.io.stdin.read_line(&mut line)? == 0 {
            anyhow::bail!("no token was entered");
        }
        let mut words = line.split_whitespace();
        if let (Some(token_type), Some(value), None) = (words.next(), words.next(), words.next()) {
            return Ok(Token {
                token_type: token_type.to_owned(),
                value: value.to_owned(),
            });
        }
        ctx.say("token must be of the format 'TYPE VALUE', e.g. 'Bearer ...'")?;
    }
}
