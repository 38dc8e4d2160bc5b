//! The machinery shared by fly's commands: global flags, the terminal, the saved target and
//! the API session built from it.
//!
//! Commands never touch the process's stdin, stdout, environment or clock directly: they get an
//! [`Io`], so that tests can drive them in-process with buffers, a fixed clock and a temporary
//! home directory.

pub mod client;
pub mod events;
pub mod flags;
pub mod prompt;
pub mod style;
pub mod table;
pub mod targets;
pub mod times;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use self::client::Client;
use self::targets::{TargetName, Targets};

/// The flags fly takes before or after any command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// The saved target to talk to (see `concorde targets`).
    #[arg(short = 't', long = "target", global = true, value_name = "NAME")]
    pub target: Option<String>,
    /// Print table headers even when stdout is not a terminal.
    #[arg(long = "print-table-headers", global = true)]
    pub print_table_headers: bool,
}

/// Where a command reads and writes, and the facts about the outside world it may depend on.
pub struct Io<'a> {
    /// Answers to prompts.
    pub stdin: &'a mut dyn BufRead,
    /// Command output.
    pub stdout: &'a mut dyn Write,
    /// Errors and warnings.
    pub stderr: &'a mut dyn Write,
    /// Whether stdout is a terminal: colors and table headers only then.
    pub stdout_tty: bool,
    /// The directory holding `.concorderc`; `None` when `HOME` is unset.
    pub home: Option<PathBuf>,
    /// The zone in which build times are shown.
    pub time_zone: jiff::tz::TimeZone,
    /// The current time, for durations of running builds and worker ages.
    pub now: jiff::Timestamp,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("stdout_tty", &self.stdout_tty)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

/// One command's view of the world: the global flags plus the terminal.
#[derive(Debug)]
pub struct Ctx<'a, 'io> {
    /// The global flags.
    pub global: &'a GlobalArgs,
    /// The terminal.
    pub io: &'a mut Io<'io>,
}

impl Ctx<'_, '_> {
    /// Whether to color output.
    pub fn color(&self) -> bool {
        self.io.stdout_tty
    }

    /// Whether tables print their header row.
    pub fn headers(&self) -> bool {
        self.io.stdout_tty || self.global.print_table_headers
    }

    /// The `-t` target's name, or fly's error when none was given.
    pub fn target_name(&self) -> anyhow::Result<TargetName> {
        match &self.global.target {
            Some(name) if !name.is_empty() => Ok(TargetName(name.clone())),
            _ => Err(client::ClientError::NoTarget.into()),
        }
    }

    /// The targets file, read from the home directory.
    pub fn targets(&self) -> anyhow::Result<Targets> {
        Targets::load(self.io.home.as_deref()).context("could not read the targets file")
    }

    /// Loads the `-t` target and builds an authenticated client for it.
    pub fn session(&self) -> anyhow::Result<Session> {
        let name = self.target_name()?;
        let targets = self.targets()?;
        let target = targets
            .get(&name)
            .ok_or_else(|| client::ClientError::UnknownTarget(name.clone()))?;
        let client = Client::new(&name, &target.api, target.insecure, target.token.as_ref())?;
        let team = if target.team.is_empty() {
            "main".to_owned()
        } else {
            target.team.clone()
        };
        Ok(Session { name, team, client })
    }

    /// Writes `value` as fly's `--json` output: pretty-printed with two-space indent.
    pub fn print_json(&mut self, value: &serde_json::Value) -> anyhow::Result<()> {
        serde_json::to_writer_pretty(&mut *self.io.stdout, value)?;
        writeln!(self.io.stdout)?;
        Ok(())
    }

    /// Streams a build's events to stdout and returns fly's exit code for it.
    pub fn stream_build(
        &mut self,
        client: &Client,
        build_id: i64,
        options: StreamOptions,
    ) -> anyhow::Result<u8> {
        let mut source = client.build_events(build_id)?;
        let options = events::RenderOptions {
            timestamps: options.timestamps,
            ignore_parse_errors: options.ignore_parse_errors,
            color: self.color(),
            time_zone: self.io.time_zone.clone(),
        };
        events::render(&mut source, &mut *self.io.stdout, &options)
            .context("could not read the build's events")
    }

    /// Writes a table as fly does on this terminal.
    pub fn render(&mut self, table: &table::Table) -> anyhow::Result<()> {
        let (headers, color) = (self.headers(), self.color());
        table.render(&mut *self.io.stdout, headers, color)?;
        Ok(())
    }

    /// Prints `started P/J #N` for a new build and, with `watch`, streams it.
    pub fn started_build(
        &mut self,
        client: &Client,
        job: &flags::PipelineChild,
        build: &concorde_proto::Build,
        watch: bool,
    ) -> anyhow::Result<u8> {
        self.say(format_args!("started {job} #{}", build.name))?;
        if !watch {
            return Ok(0);
        }
        self.say("")?;
        self.stream_build(client, build.id.0, StreamOptions::default())
    }

    /// Writes one line to stdout.
    pub fn say(&mut self, line: impl std::fmt::Display) -> anyhow::Result<()> {
        writeln!(self.io.stdout, "{line}")?;
        Ok(())
    }

    /// Writes one line to stderr: what a person should know beside the command's output,
    /// which scripts parse.
    pub fn note(&mut self, line: impl std::fmt::Display) -> anyhow::Result<()> {
        writeln!(self.io.stderr, "{line}")?;
        Ok(())
    }

    /// Tells on stderr why `resource`'s last check failed, with its script's output.
    pub fn note_check_error(&mut self, resource: &concorde_proto::Resource) -> anyhow::Result<()> {
        let (Some(build), Some(error)) = (&resource.build, &resource.check_error) else {
            return Ok(());
        };
        if !build.status.is_finished() || build.status == concorde_proto::BuildStatus::Succeeded {
            return Ok(());
        }
        self.note(format_args!(
            "{}: last check {} (build {}):",
            resource.name,
            build.status.as_str(),
            build.id
        ))?;
        for line in error.lines() {
            self.note(format_args!("  {line}"))?;
        }
        Ok(())
    }
}

/// Pause or unpause, for the commands that come in such a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    /// `pause-*`.
    Pause,
    /// `unpause-*`.
    Unpause,
}

impl Toggle {
    /// The API action and the past tense fly prints.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Toggle::Pause => ("pause", "paused"),
            Toggle::Unpause => ("unpause", "unpaused"),
        }
    }
}

/// The watch flags that change how a build's events are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOptions {
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--ignore-event-parsing-errors`.
    pub ignore_parse_errors: bool,
}

/// A loaded target: its name, team and an API client carrying its token.
#[derive(Debug)]
pub struct Session {
    /// The target's name, for messages such as `concorde -t NAME login`.
    pub name: TargetName,
    /// The team commands act on unless `--team` says otherwise.
    pub team: String,
    /// The API client.
    pub client: Client,
}

impl Session {
    /// `GET <pipeline>/<collection>` as raw JSON; a missing pipeline is fly's error.
    pub fn pipeline_list(
        &self,
        pipeline: &flags::PipelineRef,
        team: &Option<String>,
        collection: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let path = format!("{}/{collection}", pipeline.path(self.team_or(team)));
        match self.client.get(&path, pipeline.query()) {
            Err(client::ClientError::NotFound) => anyhow::bail!("pipeline '{pipeline}' not found"),
            other => Ok(other?),
        }
    }

    /// The team given with `--team`, or the target's.
    pub fn team_or<'a>(&'a self, flag: &'a Option<String>) -> &'a str {
        flag.as_deref().unwrap_or(&self.team)
    }
}
