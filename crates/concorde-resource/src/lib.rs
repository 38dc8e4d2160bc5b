//! Concorde's built-in base resource types: `git`, `time`, `mock` and `registry-image`.
//!
//! Each type speaks Concourse's resource protocol exactly (see `resource-interface.md`): the
//! request is one JSON object on stdin, the result is one JSON value on stdout, every
//! human-readable line goes to stderr, `in` and `out` take their directory as the first
//! argument, and a non-zero exit status means the step failed. The binary exposes them as
//! `concorde resource <type> <check|in|out> [DIR]`, and [`type_dir`] exports them into
//! Concourse's resource-type directory layout so that a worker runs them like any other base
//! type.
//!
//! [`run`] is the one entry point; it never panics on bad input and turns every error into a
//! message on stderr and exit status 1.

pub mod cli;
mod context;
mod error;
mod git;
mod mock;
mod protocol;
mod registry;
mod time;
pub mod type_dir;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;

pub use context::Context;
pub use error::ResourceError;
pub use protocol::{MetadataField, Output, Request, Version};

/// The resource types built into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinType {
    /// Commits of a git repository, versions `{"ref": sha}`.
    Git,
    /// Points in time on an interval or in a daily window, versions `{"time": rfc3339}`.
    Time,
    /// Concourse's test resource, versions `{"version": string}`.
    Mock,
    /// Images in an OCI registry, versions `{"digest": "sha256:...", "tag": tag}`.
    RegistryImage,
}

impl BuiltinType {
    /// Every built-in type, in the order they are documented.
    pub const ALL: [BuiltinType; 4] = [
        BuiltinType::Git,
        BuiltinType::Time,
        BuiltinType::Mock,
        BuiltinType::RegistryImage,
    ];

    /// The type's name as pipelines spell it.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinType::Git => "git",
            BuiltinType::Time => "time",
            BuiltinType::Mock => "mock",
            BuiltinType::RegistryImage => "registry-image",
        }
    }

    /// Looks a type up by its pipeline name.
    pub fn from_name(name: &str) -> Option<BuiltinType> {
        BuiltinType::ALL.into_iter().find(|ty| ty.name() == name)
    }

    /// Whether resources of this type never share a version history (Concourse marks `time`
    /// so, because two identical time resources must still tick independently).
    pub fn unique_version_history(self) -> bool {
        matches!(self, BuiltinType::Time)
    }
}

/// One of the three resource scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `/opt/resource/check`: list versions.
    Check,
    /// `/opt/resource/in`: fetch a version into a directory.
    In,
    /// `/opt/resource/out`: push from a directory and name the new version.
    Out,
}

impl Action {
    /// Every action, in script order.
    pub const ALL: [Action; 3] = [Action::Check, Action::In, Action::Out];

    /// The script's name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Check => "check",
            Action::In => "in",
            Action::Out => "out",
        }
    }

    /// Looks an action up by its script name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }
}

/// Runs one resource script with the process's environment and clock, and returns its exit
/// status: 0 after writing the result to `stdout`, 1 after writing an error to `stderr`.
pub fn run(
    type_name: &str,
    action: &str,
    args: &[OsString],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    run_with_context(
        &Context::from_process(),
        type_name,
        action,
        args,
        stdin,
        stdout,
        stderr,
    )
}

/// Runs one resource script like [`run`], with an explicit environment and clock.
pub fn run_with_context(
    ctx: &Context,
    type_name: &str,
    action: &str,
    args: &[OsString],
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let result = execute(ctx, type_name, action, args, stdin, stderr).and_then(|value| {
        serde_json::to_writer(&mut *stdout, &value)?;
        writeln!(stdout)?;
        stdout.flush()?;
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(err) => {
            // Nothing is left to report a failing stderr to; the exit status still says it.
            let _ = writeln!(stderr, "error: {err}");
            1
        }
    }
}

fn execute(
    ctx: &Context,
    type_name: &str,
    action: &str,
    args: &[OsString],
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<serde_json::Value, ResourceError> {
    let ty = BuiltinType::from_name(type_name)
        .ok_or_else(|| ResourceError::UnknownType(type_name.to_owned()))?;
    let action =
        Action::from_name(action).ok_or_else(|| ResourceError::UnknownAction(action.to_owned()))?;
    let dir = match action {
        Action::Check => None,
        Action::In | Action::Out => Some(PathBuf::from(
            args.first()
                .ok_or(ResourceError::MissingDirectory(action.name()))?,
        )),
    };
    let mut input = Vec::new();
    stdin.read_to_end(&mut input)?;
    let request = Request::parse(&input)?;
    let mut log = protocol::Log::new(stderr);
    match (action, dir) {
        (Action::Check, _) => {
            let versions = match ty {
                BuiltinType::Git => git::check(ctx, &request, &mut log)?,
                BuiltinType::Time => time::check(ctx, &request, &mut log)?,
                BuiltinType::Mock => mock::check(ctx, &request, &mut log)?,
                BuiltinType::RegistryImage => registry::check(ctx, &request, &mut log)?,
            };
            Ok(serde_json::to_value(versions)?)
        }
        (Action::In, Some(dir)) => {
            std::fs::create_dir_all(&dir).map_err(|source| ResourceError::io(&dir, source))?;
            let output = match ty {
                BuiltinType::Git => git::get(ctx, &dir, &request, &mut log)?,
                BuiltinType::Time => time::get(ctx, &dir, &request, &mut log)?,
                BuiltinType::Mock => mock::get(ctx, &dir, &request, &mut log)?,
                BuiltinType::RegistryImage => registry::get(ctx, &dir, &request, &mut log)?,
            };
            Ok(serde_json::to_value(output)?)
        }
        (Action::Out, Some(dir)) => {
            let output = match ty {
                BuiltinType::Git => git::put(ctx, &dir, &request, &mut log)?,
                BuiltinType::Time => time::put(ctx, &dir, &request, &mut log)?,
                BuiltinType::Mock => mock::put(ctx, &dir, &request, &mut log)?,
                BuiltinType::RegistryImage => registry::put(ctx, &dir, &request, &mut log)?,
            };
            Ok(serde_json::to_value(output)?)
        }
        (Action::In | Action::Out, None) => Err(ResourceError::MissingDirectory(action.name())),
    }
}
