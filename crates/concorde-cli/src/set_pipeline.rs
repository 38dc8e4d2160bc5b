//! `concorde set-pipeline`: fly's `set-pipeline`. Applies static vars, validates locally, shows
//! the diff against the server's config, asks, and saves with the version it diffed against so
//! that a concurrent change is refused instead of overwritten.

use std::path::PathBuf;

use anyhow::Context as _;
use concorde_config::{
    Severity, UnknownKeys, json_to_yaml, load_pipeline, node_to_json, pipeline_to_json,
    render_fly_report, sort_keys, validate_pipeline,
};
use concorde_proto::{CONFIG_VERSION_HEADER, ConfigResponse, Pipeline, SaveConfigResponse};
use serde_json::Value;

use crate::fly::client::{Body, ClientError, Method, Request};
use crate::fly::flags::{PipelineRef, pipeline_arg};
use crate::fly::style::Style;
use crate::fly::{Ctx, Session, prompt};
use crate::pipeline_diff;
use crate::static_vars::StaticVarFlags;

/// Arguments of `set-pipeline`.
#[derive(Debug, clap::Args)]
pub struct SetPipelineArgs {
    /// Pipeline to configure.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: PipelineRef,
    /// Pipeline configuration file, `-` for stdin.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,
    /// Skip the confirmation.
    #[arg(short = 'n', long = "non-interactive")]
    pub non_interactive: bool,
    /// Accepted for compatibility; colors follow the terminal.
    #[arg(long = "no-color")]
    pub no_color: bool,
    /// Show the diff and stop.
    #[arg(short = 'd', long = "dry-run")]
    pub dry_run: bool,
    /// Ask the server to check that credentials resolve.
    #[arg(long = "check-creds")]
    pub check_creds: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
    /// Static vars.
    #[command(flatten)]
    pub vars: StaticVarFlags,
}

/// Sets the pipeline.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &SetPipelineArgs) -> anyhow::Result<u8> {
    let bytes = if args.config.as_os_str() == "-" {
        let mut bytes = Vec::new();
        ctx.io
            .stdin
            .read_to_end(&mut bytes)
            .context("could not read the config from stdin")?;
        bytes
    } else {
        std::fs::read(&args.config)
            .with_context(|| format!("could not read {}", args.config.display()))?
    };
    let vars = args.vars.to_static_vars()?;
    let loaded = match load_pipeline(&bytes, &vars, UnknownKeys::Ignore) {
        Ok(loaded) => loaded,
        Err(err) => {
            for line in err.lines() {
                writeln!(ctx.io.stderr, "error: {line}")?;
            }
            return Ok(1);
        }
    };
    let diagnostics = validate_pipeline(&loaded.pipeline);
    write!(ctx.io.stderr, "{}", render_fly_report(&diagnostics))?;
    if diagnostics
        .iter()
        .any(|diagnostic| diagnostic.severity == Severity::Error)
    {
        writeln!(ctx.io.stderr, "error: configuration invalid")?;
        return Ok(1);
    }

    // `-i` vars make the pipeline an instance, beside those given with `-p name/k:v`.
    let mut pipeline = args.pipeline.clone();
    pipeline.instance_vars.extend(args.vars.instance_vars()?);
    let session = ctx.session()?;
    let team = session.team_or(&args.team).to_owned();
    let pipeline_path = pipeline.path(&team);
    let config_path = format!("{pipeline_path}/config");
    let existing = session
        .client
        .send(Request::new(Method::Get, &config_path).queries(pipeline.query()))?;
    let (old_config, version) = match existing.status {
        404 => (Value::Null, None),
        _ => {
            let existing = existing.ok()?;
            let response: ConfigResponse = existing.json(&config_path)?;
            (
                pipeline_diff::normalize_remote(&response.config),
                existing.config_version,
            )
        }
    };
    let new_config = sort_keys(pipeline_to_json(&loaded.pipeline));
    let color = ctx.color() && !args.no_color;
    if !pipeline_diff::write_diff(&old_config, &new_config, &mut *ctx.io.stdout, color)? {
        ctx.say("no changes to apply")?;
        return Ok(0);
    }
    ctx.say(format_args!(
        "{}{}",
        Style::Bold.paint("pipeline name: ", color),
        pipeline.name
    ))?;
    if !pipeline.instance_vars.is_empty() {
        ctx.say(Style::Bold.paint("pipeline instance vars:", color))?;
        let yaml = json_to_yaml(&Value::Object(pipeline.instance_vars.clone()))?;
        for line in yaml.lines() {
            ctx.say(format_args!("  {line}"))?;
        }
    }
    ctx.say("")?;
    if args.dry_run {
        ctx.say("Dry-run mode was set, exiting.")?;
        return Ok(0);
    }
    if let Some(pipeline) = fetch_pipeline(&session, &pipeline_path, &pipeline)?
        && pipeline.parent_job_id.is_some()
        && pipeline.parent_build_id.is_some()
    {
        let warning = "WARNING: pipeline has been configured through the 'set_pipeline' step, your changes may be overwritten on the next 'set_pipeline' step execution";
        ctx.say(format_args!("{}\n", Style::Yellow.paint(warning, color)))?;
    }
    if !args.non_interactive
        && !prompt::confirm(
            &mut *ctx.io.stdin,
            &mut *ctx.io.stdout,
            "apply configuration?",
        )?
    {
        ctx.say("bailing out")?;
        return Ok(0);
    }

    let yaml = json_to_yaml(&node_to_json(&loaded.evaluated))?;
    let mut request = Request::new(Method::Put, &config_path)
        .queries(pipeline.query())
        .body(Body {
            content_type: "application/x-yaml",
            bytes: yaml.into_bytes(),
        });
    if let Some(version) = version {
        request = request.header(CONFIG_VERSION_HEADER, version);
    }
    if args.check_creds {
        request = request.query("check_creds", "");
    }
    let reply = session.client.send(request)?;
    if reply.status == 400 {
        let response: SaveConfigResponse = reply.json(&config_path).unwrap_or_default();
        let errors: Vec<String> = response
            .errors
            .iter()
            .map(|error| format!("  - {error}"))
            .collect();
        anyhow::bail!("invalid pipeline config:\n{}", errors.join("\n"));
    }
    let created = reply.status == 201;
    let reply = reply.ok()?;
    let response: SaveConfigResponse = reply.json(&config_path).unwrap_or_default();
    if !response.warnings.is_empty() {
        writeln!(ctx.io.stderr)?;
        writeln!(
            ctx.io.stderr,
            "{}",
            Style::Yellow.paint("DEPRECATION WARNING:", color)
        )?;
        for warning in &response.warnings {
            writeln!(ctx.io.stderr, "  - {}", warning.message)?;
        }
        writeln!(ctx.io.stderr)?;
    }
    if created {
        ctx.say("pipeline created!")?;
        let query = crate::fly::client::encode_query(&pipeline.query());
        let url = format!(
            "{}/teams/{team}/pipelines/{}{query}",
            session.client.url, pipeline.name
        );
        ctx.say(format_args!("you can view your pipeline here: {url}"))?;
    } else {
        ctx.say("configuration updated")?;
    }
    let paused = fetch_pipeline(&session, &pipeline_path, &pipeline)?
        .is_some_and(|pipeline| pipeline.paused);
    if paused {
        ctx.say("")?;
        ctx.say("the pipeline is currently paused. to unpause, either:")?;
        ctx.say("  - run the unpause-pipeline command:")?;
        let mut command = format!(
            "concorde -t {} unpause-pipeline -p {}",
            session.name, pipeline
        );
        if let Some(team) = &args.team {
            command.push_str(&format!(" --team {team}"));
        }
        ctx.say(format_args!("    {command}"))?;
        ctx.say("  - click play next to the pipeline in the web ui")?;
    }
    Ok(0)
}

/// The pipeline, or `None` if it does not exist (yet).
fn fetch_pipeline(
    session: &Session,
    path: &str,
    pipeline: &PipelineRef,
) -> anyhow::Result<Option<Pipeline>> {
    match session.client.get::<Pipeline>(path, pipeline.query()) {
        Ok(pipeline) => Ok(Some(pipeline)),
        Err(ClientError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}
