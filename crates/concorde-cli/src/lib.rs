//! The commands a user types after `concorde`: fly's command set and local tools.
//!
//! Each command lives in its own module and returns the process exit code, so that commands
//! such as `validate-pipeline` can report "invalid" (exit 1) without it being an internal error.
//! fly's commands (everything that talks to a server) run through [`run_in`] with an [`Io`], so
//! tests can drive them in-process.

mod debug;
mod format_pipeline;
mod static_vars;
mod validate_pipeline;

pub mod fly;

mod abort_build;
mod archive_pipeline;
mod builds;
mod check_resource;
mod check_resource_type;
mod clear_versions;
mod containers;
mod curl;
mod destroy_pipeline;
mod execute;
mod expose_pipeline;
mod get_pipeline;
mod jobs;
mod land_worker;
mod login;
mod logout;
mod order_instanced_pipelines;
mod order_pipelines;
mod pause_job;
mod pause_pipeline;
mod pin_resource;
mod pipeline_diff;
mod pipelines;
mod rename_pipeline;
mod rerun_build;
mod resource_version_state;
mod resource_versions;
mod resources;
mod set_pipeline;
mod status;
mod targets;
mod trigger_job;
mod unpin_resource;
mod volumes;
mod watch;
mod workers;

use std::io::IsTerminal as _;
use std::process::ExitCode;

pub use debug::DebugCommand;
pub use fly::{GlobalArgs, Io};
pub use format_pipeline::FormatPipelineArgs;
pub use land_worker::LandWorkerArgs;
pub use validate_pipeline::ValidatePipelineArgs;

use fly::Ctx;
use fly::client::ClientError;

/// Every subcommand of the `concorde` binary that the CLI crate owns.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a pipeline config file, as `fly validate-pipeline` does.
    ValidatePipeline(ValidatePipelineArgs),
    /// Rewrite a pipeline config in fly's canonical key order.
    FormatPipeline(FormatPipelineArgs),
    /// Tools for looking inside Concorde's machinery.
    #[command(subcommand)]
    Debug(DebugCommand),
    /// Run a built-in resource type's check, in or out script.
    Resource(concorde_resource::cli::ResourceArgs),
    /// Authenticate with the target.
    #[command(visible_alias = "l")]
    Login(login::LoginArgs),
    /// Release authentication and delete the token.
    #[command(visible_alias = "o")]
    Logout(logout::LogoutArgs),
    /// List saved targets.
    #[command(visible_alias = "ts")]
    Targets(targets::TargetsArgs),
    /// Login status.
    Status(status::StatusArgs),
    /// Create or update a pipeline's configuration.
    #[command(visible_alias = "sp")]
    SetPipeline(set_pipeline::SetPipelineArgs),
    /// Get a pipeline's current configuration.
    #[command(visible_alias = "gp")]
    GetPipeline(get_pipeline::GetPipelineArgs),
    /// List the configured pipelines.
    #[command(visible_alias = "ps")]
    Pipelines(pipelines::PipelinesArgs),
    /// Destroy a pipeline.
    #[command(visible_alias = "dp")]
    DestroyPipeline(destroy_pipeline::DestroyPipelineArgs),
    /// Rename a pipeline.
    #[command(visible_alias = "rp")]
    RenamePipeline(rename_pipeline::RenamePipelineArgs),
    /// Pause a pipeline.
    #[command(visible_alias = "pp")]
    PausePipeline(pause_pipeline::PausePipelineArgs),
    /// Un-pause a pipeline.
    #[command(visible_alias = "up")]
    UnpausePipeline(pause_pipeline::PausePipelineArgs),
    /// Archive a pipeline: its configuration goes, its build history stays.
    #[command(visible_alias = "ap")]
    ArchivePipeline(archive_pipeline::ArchivePipelineArgs),
    /// Make a pipeline publicly viewable.
    #[command(visible_alias = "ep")]
    ExposePipeline(expose_pipeline::ExposePipelineArgs),
    /// Hide a pipeline from the public.
    #[command(visible_alias = "hp")]
    HidePipeline(expose_pipeline::ExposePipelineArgs),
    /// Order pipelines.
    #[command(visible_alias = "op")]
    OrderPipelines(order_pipelines::OrderPipelinesArgs),
    /// Order the instances of a pipeline name.
    #[command(visible_alias = "oip")]
    OrderInstancedPipelines(order_instanced_pipelines::OrderInstancedPipelinesArgs),
    /// List the jobs in a pipeline.
    #[command(visible_alias = "js")]
    Jobs(jobs::JobsArgs),
    /// Pause a job.
    #[command(visible_alias = "pj")]
    PauseJob(pause_job::PauseJobArgs),
    /// Unpause a job.
    #[command(visible_alias = "uj")]
    UnpauseJob(pause_job::PauseJobArgs),
    /// Start a job in a pipeline.
    #[command(visible_alias = "tj")]
    TriggerJob(trigger_job::TriggerJobArgs),
    /// Clear the version history of a resource or a resource type.
    #[command(visible_alias = "cv")]
    ClearVersions(clear_versions::ClearVersionsArgs),
    /// Run curl against the target's API with its token.
    #[command(visible_alias = "c")]
    Curl(curl::CurlArgs),
    /// Execute a one-off build using local bits.
    #[command(visible_alias = "e")]
    Execute(execute::ExecuteArgs),
    /// Stream a build's output.
    #[command(visible_alias = "w")]
    Watch(watch::WatchArgs),
    /// List builds data.
    #[command(visible_alias = "bs")]
    Builds(builds::BuildsArgs),
    /// Abort a build.
    #[command(visible_alias = "ab")]
    AbortBuild(abort_build::AbortBuildArgs),
    /// Rerun a build.
    #[command(visible_alias = "rb")]
    RerunBuild(rerun_build::RerunBuildArgs),
    /// List the resources in the pipeline.
    #[command(visible_alias = "rs")]
    Resources(resources::ResourcesArgs),
    /// List the versions of a resource.
    #[command(visible_alias = "rvs")]
    ResourceVersions(resource_versions::ResourceVersionsArgs),
    /// Check a resource.
    #[command(visible_alias = "cr")]
    CheckResource(check_resource::CheckResourceArgs),
    /// Check a resource-type.
    #[command(visible_alias = "crt")]
    CheckResourceType(check_resource_type::CheckResourceTypeArgs),
    /// Pin a version to a resource.
    #[command(visible_alias = "pr")]
    PinResource(pin_resource::PinResourceArgs),
    /// Unpin a resource.
    #[command(visible_alias = "ur")]
    UnpinResource(unpin_resource::UnpinResourceArgs),
    /// Enable a version of a resource.
    #[command(visible_alias = "erv")]
    EnableResourceVersion(resource_version_state::ResourceVersionArgs),
    /// Disable a version of a resource.
    #[command(visible_alias = "drv")]
    DisableResourceVersion(resource_version_state::ResourceVersionArgs),
    /// List the registered workers.
    #[command(visible_alias = "ws")]
    Workers(workers::WorkersArgs),
    /// Land a worker: it takes no new work, and lands once its builds are done. The binary
    /// parses `land-worker` itself (it also lands a worker from its own machine, through the
    /// TSA) and hands `-w NAME` here.
    #[command(skip)]
    LandWorker(land_worker::LandWorkerArgs),
    /// Remove a worker that is not running (stalled, landed...).
    #[command(visible_alias = "pw")]
    PruneWorker(land_worker::PruneWorkerArgs),
    /// Print the active containers.
    #[command(visible_alias = "cs")]
    Containers(containers::ContainersArgs),
    /// List the active volumes.
    #[command(visible_alias = "vs")]
    Volumes(volumes::VolumesArgs),
}

/// Runs one command to completion with no global flags (kept for callers without `-t`).
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    run_with_globals(&GlobalArgs::default(), command)
}

/// Runs one command against the real terminal, environment and clock.
pub fn run_with_globals(global: &GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::ValidatePipeline(args) => validate_pipeline::run(&args),
        Command::FormatPipeline(args) => format_pipeline::run(&args),
        Command::Debug(command) => debug::run(command),
        Command::Resource(args) => Ok(concorde_resource::cli::run_cli(args)),
        fly_command => {
            let mut stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout().lock();
            let mut stderr = std::io::stderr().lock();
            let stdout_tty = stdout.is_terminal();
            let mut io = Io {
                stdin: &mut stdin,
                stdout: &mut stdout,
                stderr: &mut stderr,
                stdout_tty,
                home: std::env::var_os("HOME")
                    .filter(|home| !home.is_empty())
                    .map(Into::into),
                time_zone: jiff::tz::TimeZone::system(),
                now: jiff::Timestamp::now(),
            };
            Ok(ExitCode::from(run_in(global, fly_command, &mut io)))
        }
    }
}

/// Runs one of fly's commands with the given terminal and returns its exit code. Errors are
/// printed to `io.stderr` as fly prints them (exit 1); nothing is returned as `Err`.
pub fn run_in(global: &GlobalArgs, command: Command, io: &mut Io<'_>) -> u8 {
    let mut ctx = Ctx { global, io };
    let result = dispatch(&mut ctx, command);
    let _ = ctx.io.stdout.flush();
    match result {
        Ok(code) => code,
        Err(err) => {
            // fly prints its session errors (no target, 401, unreachable) bare, others prefixed.
            let bare = matches!(
                err.downcast_ref::<ClientError>(),
                Some(
                    ClientError::NoTarget
                        | ClientError::Unauthorized(_)
                        | ClientError::Unreachable { .. }
                )
            );
            let _ = if bare {
                writeln!(ctx.io.stderr, "{err:#}")
            } else {
                writeln!(ctx.io.stderr, "error: {err:#}")
            };
            1
        }
    }
}

fn dispatch(ctx: &mut Ctx<'_, '_>, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::ValidatePipeline(_)
        | Command::FormatPipeline(_)
        | Command::Debug(_)
        | Command::Resource(_) => {
            anyhow::bail!("this command does not talk to a target")
        }
        Command::Login(args) => login::run(ctx, &args),
        Command::Logout(args) => logout::run(ctx, &args),
        Command::Targets(args) => targets::run(ctx, &args),
        Command::Status(args) => status::run(ctx, &args),
        Command::SetPipeline(args) => set_pipeline::run(ctx, &args),
        Command::GetPipeline(args) => get_pipeline::run(ctx, &args),
        Command::Pipelines(args) => pipelines::run(ctx, &args),
        Command::DestroyPipeline(args) => destroy_pipeline::run(ctx, &args),
        Command::RenamePipeline(args) => rename_pipeline::run(ctx, &args),
        Command::PausePipeline(args) => pause_pipeline::run(ctx, &args, fly::Toggle::Pause),
        Command::UnpausePipeline(args) => pause_pipeline::run(ctx, &args, fly::Toggle::Unpause),
        Command::ExposePipeline(args) => {
            expose_pipeline::run(ctx, &args, expose_pipeline::Visibility::Expose)
        }
        Command::HidePipeline(args) => {
            expose_pipeline::run(ctx, &args, expose_pipeline::Visibility::Hide)
        }
        Command::OrderPipelines(args) => order_pipelines::run(ctx, &args),
        Command::OrderInstancedPipelines(args) => order_instanced_pipelines::run(ctx, &args),
        Command::ArchivePipeline(args) => archive_pipeline::run(ctx, &args),
        Command::Jobs(args) => jobs::run(ctx, &args),
        Command::PauseJob(args) => pause_job::run(ctx, &args, fly::Toggle::Pause),
        Command::UnpauseJob(args) => pause_job::run(ctx, &args, fly::Toggle::Unpause),
        Command::TriggerJob(args) => trigger_job::run(ctx, &args),
        Command::Execute(args) => execute::run(ctx, &args),
        Command::Curl(args) => curl::run(ctx, &args),
        Command::ClearVersions(args) => clear_versions::run(ctx, &args),
        Command::Watch(args) => watch::run(ctx, &args),
        Command::Builds(args) => builds::run(ctx, &args),
        Command::AbortBuild(args) => abort_build::run(ctx, &args),
        Command::RerunBuild(args) => rerun_build::run(ctx, &args),
        Command::Resources(args) => resources::run(ctx, &args),
        Command::ResourceVersions(args) => resource_versions::run(ctx, &args),
        Command::CheckResource(args) => check_resource::run(ctx, &args),
        Command::CheckResourceType(args) => check_resource_type::run(ctx, &args),
        Command::PinResource(args) => pin_resource::run(ctx, &args),
        Command::UnpinResource(args) => unpin_resource::run(ctx, &args),
        Command::EnableResourceVersion(args) => {
            resource_version_state::run(ctx, &args, resource_version_state::State::Enable)
        }
        Command::DisableResourceVersion(args) => {
            resource_version_state::run(ctx, &args, resource_version_state::State::Disable)
        }
        Command::Workers(args) => workers::run(ctx, &args),
        Command::LandWorker(args) => land_worker::land(ctx, &args),
        Command::PruneWorker(args) => land_worker::prune(ctx, &args),
        Command::Containers(args) => containers::run(ctx, &args),
        Command::Volumes(args) => volumes::run(ctx, &args),
    }
}
