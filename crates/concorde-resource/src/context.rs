//! The environment a resource script runs in: variables, clock and scratch directory.
//!
//! Scripts read no globals, so tests can pin "now", point `TMPDIR` at a temp dir and put a fake
//! `ssh` on `PATH` without touching the test process's own environment.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Environment variables, the current time and the scratch directory of one script run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Passed whole to every child process (git, ssh), which inherit nothing else.
    env: BTreeMap<OsString, OsString>,
    now: jiff::Timestamp,
    /// Where caches and key files go; `$TMPDIR` or `/tmp` like git-resource.
    temp_dir: PathBuf,
    /// The binary that implements the built-in types, for images that mirror themselves.
    self_exe: Option<PathBuf>,
}

impl Context {
    /// The running process's environment, the system clock and `$TMPDIR`.
    pub fn from_process() -> Context {
        let env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
        let temp_dir = std::env::temp_dir();
        Context {
            env,
            now: jiff::Timestamp::now(),
            temp_dir,
            self_exe: std::env::current_exe().ok(),
        }
    }

    /// Replaces the environment given to the script and its children.
    pub fn with_env<K: Into<OsString>, V: Into<OsString>>(
        mut self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Context {
        self.env = env
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        self
    }

    /// Sets one environment variable.
    pub fn with_var(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Context {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Pins the clock.
    pub fn with_now(mut self, now: jiff::Timestamp) -> Context {
        self.now = now;
        self
    }

    /// Moves the scratch directory (caches, key files).
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Context {
        self.temp_dir = dir.into();
        self
    }

    /// Names the binary that `mirror_self` images launch.
    pub fn with_self_exe(mut self, exe: impl Into<PathBuf>) -> Context {
        self.self_exe = Some(exe.into());
        self
    }

    /// The current time as the script sees it.
    pub fn now(&self) -> jiff::Timestamp {
        self.now
    }

    /// One environment variable.
    pub fn var(&self, key: &str) -> Option<&OsStr> {
        self.env.get(OsStr::new(key)).map(OsString::as_os_str)
    }

    /// Every environment variable, sorted by name.
    pub fn vars(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.env
            .iter()
            .map(|(key, value)| (key.as_os_str(), value.as_os_str()))
    }

    /// The scratch directory.
    pub fn temp_dir(&self) -> &Path {
        &self.temp_dir
    }

    /// The binary implementing the built-in types, when known.
    pub fn self_exe(&self) -> Option<&Path> {
        self.self_exe.as_deref()
    }

    /// A command that sees exactly this context's environment.
    pub(crate) fn command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command.env_clear().envs(&self.env);
        command
    }
}
