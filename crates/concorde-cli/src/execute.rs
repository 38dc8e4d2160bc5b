//! `concorde execute`: fly's `execute`. Uploads each local input as an artifact, runs the task
//! as a one-off build (`do[in_parallel(artifact_input...), task]`, wrapped in `ensure` of the
//! `artifact_output`s asked for), streams it, downloads the outputs, and exits with the
//! build's code. Ctrl-C (or SIGTERM) aborts the build.

mod artifacts;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use concorde_config::model::TaskConfig;
use concorde_config::vars::Missing;
use concorde_proto::{Build, WorkerArtifact};
use serde_json::json;

use crate::fly::client::{Body, Client, Method, Request};
use crate::fly::{Ctx, Session, StreamOptions};
use crate::static_vars::StaticVarFlags;

/// Arguments of `execute`.
#[derive(Debug, clap::Args)]
pub struct ExecuteArgs {
    /// The task config to execute.
    #[arg(short = 'c', long = "config", value_name = "TASK.yml")]
    pub config: PathBuf,
    /// Run the task privileged.
    #[arg(short = 'p', long)]
    pub privileged: bool,
    /// Upload files git ignores too.
    #[arg(short = 'x', long = "include-ignored")]
    pub include_ignored: bool,
    /// An input and the local directory it comes from: `-i NAME=PATH`.
    #[arg(short = 'i', long = "input", value_name = "NAME=PATH")]
    pub inputs: Vec<String>,
    /// An output and the local directory it goes to: `-o NAME=PATH`.
    #[arg(short = 'o', long = "output", value_name = "NAME=PATH")]
    pub outputs: Vec<String>,
    /// Worker tags for the task.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Create the build and exit without watching it.
    #[arg(short = 'b', long)]
    pub background: bool,
    /// The team to run in, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
    /// A string var: `-v NAME=VALUE`.
    #[arg(short = 'v', long = "var", value_name = "NAME=VALUE")]
    pub var: Vec<String>,
    /// A YAML var: `-y NAME=YAML`.
    #[arg(short = 'y', long = "yaml-var", value_name = "NAME=YAML")]
    pub yaml_var: Vec<String>,
    /// A YAML file of vars: `-l FILE`.
    #[arg(short = 'l', long = "load-vars-from", value_name = "FILE")]
    pub load_vars_from: Vec<PathBuf>,
}

/// Runs the task as a one-off build.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &ExecuteArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let team = session.team_or(&args.team).to_owned();
    let (config, config_json) = load_config(args)?;
    let inputs = local_inputs(&config, &pairs(&args.inputs, "-i")?)?;
    let outputs = pairs(&args.outputs, "-o")?;
    for name in outputs.keys() {
        if !config.outputs.iter().any(|output| &output.name == name) {
            bail!("unknown output '{name}'");
        }
    }
    let mut uploaded = Vec::new();
    for (name, dir) in &inputs {
        let id = upload(&session.client, &team, dir, args.include_ignored)
            .with_context(|| format!("could not upload input '{name}' from {}", dir.display()))?;
        uploaded.push((name.clone(), id));
    }
    let plan = plan(args, &config_json, &uploaded, outputs.keys());
    let path = format!("/api/v1/teams/{team}/builds");
    let reply = session
        .client
        .act(Request::new(Method::Post, &path).body(Body::json(&plan)))?;
    let build: Build = reply.json(&path)?;
    ctx.say(format_args!(
        "executing build {} at {}/builds/{}",
        build.id, session.client.url, build.id
    ))?;
    if args.background {
        return Ok(0);
    }
    let interrupted = abort_on_signal(session.client.clone(), build.id.0)?;
    let code = ctx.stream_build(&session.client, build.id.0, StreamOptions::default())?;
    if interrupted.load(Ordering::SeqCst) {
        ctx.note("aborted by a signal")?;
        return Ok(2);
    }
    download_outputs(&session, &team, build.id.0, &outputs)?;
    Ok(code)
}

/// The task config, interpolated with the static vars, and its JSON for the plan.
fn load_config(args: &ExecuteArgs) -> anyhow::Result<(TaskConfig, serde_json::Value)> {
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("could not read {}", args.config.display()))?;
    let vars = StaticVarFlags {
        var: args.var.clone(),
        yaml_var: args.yaml_var.clone(),
        instance_var: Vec::new(),
        load_vars_from: args.load_vars_from.clone(),
    }
    .to_static_vars()?;
    let mut root = concorde_config::parse_yaml_bytes(&bytes)
        .with_context(|| format!("could not parse {}", args.config.display()))?;
    // Vars no flag gives are left for the build's credential manager.
    concorde_config::vars::interpolate_node(&mut root, &vars, Missing::Leave)?;
    let (config, errors) = concorde_config::decode_task_config_file(&root);
    if let Some(first) = errors.first() {
        bail!("invalid task configuration: {first}");
    }
    let problems = concorde_config::validate_task_config(&config);
    if !problems.is_empty() {
        bail!("invalid task configuration:\n{}", problems.join("\n"));
    }
    let json = concorde_config::task_config_to_json(&config);
    Ok((config, json))
}

/// `NAME=PATH` flags as a map; `flag` names them in errors.
fn pairs(flags: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    flags
        .iter()
        .map(|pair| {
            let (name, path) = pair
                .split_once('=')
                .with_context(|| format!("{flag} {pair}: expected NAME=PATH"))?;
            Ok((name.to_owned(), PathBuf::from(path)))
        })
        .collect()
}

/// The directory each input comes from: its `-i`, or the current directory for a task with
/// one input and no `-i`. A required input without a directory is an error.
fn local_inputs(
    config: &TaskConfig,
    given: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<Vec<(String, PathBuf)>> {
    for name in given.keys() {
        if !config.inputs.iter().any(|input| &input.name == name) {
            bail!("unknown input '{name}'");
        }
    }
    let mut inputs = Vec::new();
    for input in &config.inputs {
        let dir = match given.get(&input.name) {
            Some(dir) => dir.clone(),
            None if given.is_empty() && config.inputs.len() == 1 => PathBuf::from("."),
            None if input.optional => continue,
            None => bail!("missing required input '{}'", input.name),
        };
        if !dir.is_dir() {
            bail!(
                "input '{}': {} is not a directory",
                input.name,
                dir.display()
            );
        }
        inputs.push((input.name.clone(), dir));
    }
    Ok(inputs)
}

/// Packs `dir` on a thread while the upload streams it; the new artifact's id.
fn upload(
    client: &Client,
    team: &str,
    dir: &std::path::Path,
    include_ignored: bool,
) -> anyhow::Result<i64> {
    let files = artifacts::files_to_upload(dir, include_ignored)?;
    let (mut reader, writer) = std::io::pipe()?;
    let dir = dir.to_owned();
    let packer = std::thread::spawn(move || artifacts::pack(&dir, files.as_deref(), writer));
    let path = format!("/api/v1/teams/{team}/artifacts");
    let sent = client.upload(&path, &mut reader);
    drop(reader);
    let packed = packer
        .join()
        .map_err(|_| anyhow::anyhow!("packing the input panicked"))?;
    let artifact: WorkerArtifact = sent?.json(&path)?;
    packed?;
    Ok(artifact.id)
}

/// The one-off plan, with ids unique in it.
fn plan<'a>(
    args: &ExecuteArgs,
    config: &serde_json::Value,
    uploaded: &[(String, i64)],
    outputs: impl Iterator<Item = &'a String>,
) -> serde_json::Value {
    let mut next = 0;
    let mut id = || {
        next += 1;
        next.to_string()
    };
    let gets: Vec<serde_json::Value> = uploaded
        .iter()
        .map(|(name, artifact)| json!({"id": id(), "artifact_input": {"artifact_id": artifact, "name": name}}))
        .collect();
    let task = json!({"id": id(), "task": {
        "name": "one-off",
        "privileged": args.privileged,
        "config": config,
        "tags": args.tags,
    }});
    let body = json!({"id": id(), "do": [
        {"id": id(), "in_parallel": {"steps": gets}},
        task,
    ]});
    let kept: Vec<serde_json::Value> = outputs
        .map(|name| json!({"id": id(), "artifact_output": {"name": name}}))
        .collect();
    if kept.is_empty() {
        return body;
    }
    json!({"id": id(), "ensure": {
        "step": body,
        "ensure": {"id": id(), "in_parallel": {"steps": kept}},
    }})
}

/// On SIGINT or SIGTERM: aborts the build; the stream then ends with the aborted build. The
/// flag tells the caller it happened. (The thread prints nothing: the command holds stderr.)
fn abort_on_signal(client: Client, build: i64) -> anyhow::Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let flag = interrupted.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            flag.store(true, Ordering::SeqCst);
            let path = format!("/api/v1/builds/{build}/abort");
            // Should the abort fail, the CLI ends as an unhandled signal would end it.
            if client.act(Request::new(Method::Put, &path)).is_err() {
                signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT).ok();
            }
        }
    });
    Ok(interrupted)
}

/// Downloads each `-o` output the build kept into its directory.
fn download_outputs(
    session: &Session,
    team: &str,
    build: i64,
    outputs: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<()> {
    if outputs.is_empty() {
        return Ok(());
    }
    let kept: Vec<WorkerArtifact> = session
        .client
        .get(&format!("/api/v1/builds/{build}/artifacts"), Vec::new())?;
    for (name, dir) in outputs {
        let Some(artifact) = kept.iter().find(|artifact| &artifact.name == name) else {
            continue; // The build ended before the task made it.
        };
        let stream = session
            .client
            .download(&format!("/api/v1/teams/{team}/artifacts/{}", artifact.id))?;
        artifacts::unpack(stream, dir)
            .with_context(|| format!("could not download output '{name}'"))?;
    }
    Ok(())
}
