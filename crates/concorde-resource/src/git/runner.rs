//! Runs the system `git` with the resource's credentials and config, capturing stdout for
//! parsing and forwarding stderr to the script's log (never to its stdout).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;

use super::GitSource;
use crate::protocol::Log;
use crate::{Context, ResourceError};

/// Answers git's and ssh's prompts from environment variables, so secrets stay off disk
/// and out of argv.
const ASKPASS_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\n' "$CONCORDE_GIT_USERNAME" ;;
  *assphrase*) printf '%s\n' "$CONCORDE_GIT_KEY_PASSPHRASE" ;;
  *) printf '%s\n' "$CONCORDE_GIT_PASSWORD" ;;
esac
"#;

/// A configured `git`: environment, `-c` options and the temp files backing credentials.
pub(crate) struct Git<'ctx> {
    ctx: &'ctx Context,
    env: Vec<(OsString, OsString)>,
    config: Vec<String>,
    /// Holds the askpass script and private key; removed when the runner is dropped.
    _secrets: Option<tempfile::TempDir>,
}

/// What a git command printed and how it ended, for commands that may legitimately fail.
pub(crate) struct GitOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
}

impl GitOutput {
    /// Whether git exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl<'ctx> Git<'ctx> {
    /// Prepares credentials and config for `source`.
    pub fn new(ctx: &'ctx Context, source: &GitSource) -> Result<Git<'ctx>, ResourceError> {
        let mut env: Vec<(OsString, OsString)> = vec![("GIT_TERMINAL_PROMPT".into(), "0".into())];
        let mut config = vec![
            "protocol.file.allow=always".to_owned(),
            "advice.detachedHead=false".to_owned(),
        ];
        config.extend(
            source
                .git_config
                .iter()
                .map(|entry| format!("{}={}", entry.name, entry.value)),
        );
        if source.skip_ssl_verification {
            env.push(("GIT_SSL_NO_VERIFY".into(), "true".into()));
        }
        let needs_secrets =
            source.private_key.is_some() || source.username.is_some() || source.password.is_some();
        let secrets = if needs_secrets {
            Some(secrets_dir(ctx)?)
        } else {
            None
        };
        if let Some(secrets) = &secrets {
            let askpass = secrets.path().join("askpass.sh");
            write_private_file(&askpass, ASKPASS_SCRIPT, 0o700)?;
            env.push(("GIT_ASKPASS".into(), askpass.clone().into()));
            env.push((
                "CONCORDE_GIT_USERNAME".into(),
                source.username.clone().unwrap_or_default().into(),
            ));
            env.push((
                "CONCORDE_GIT_PASSWORD".into(),
                source.password.clone().unwrap_or_default().into(),
            ));
            if let Some(key) = &source.private_key {
                let key_path = secrets.path().join("private-key");
                let mut key = key.clone();
                // ssh rejects a key file without its final newline.
                if !key.ends_with('\n') {
                    key.push('\n');
                }
                write_private_file(&key_path, &key, 0o600)?;
                env.push((
                    "GIT_SSH_COMMAND".into(),
                    ssh_command(&key_path, source.private_key_user.as_deref()).into(),
                ));
                if let Some(passphrase) = &source.private_key_passphrase {
                    env.push(("SSH_ASKPASS".into(), askpass.into()));
                    env.push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
                    env.push(("DISPLAY".into(), ":0".into()));
                    env.push(("CONCORDE_GIT_KEY_PASSPHRASE".into(), passphrase.into()));
                }
            }
        }
        Ok(Git {
            ctx,
            env,
            config,
            _secrets: secrets,
        })
    }

    /// Runs git in `dir` and fails unless it exits 0; returns its stdout.
    pub fn run<S: AsRef<OsStr>>(
        &self,
        dir: Option<&Path>,
        args: impl IntoIterator<Item = S>,
        log: &mut Log<'_>,
    ) -> Result<String, ResourceError> {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|arg| arg.as_ref().to_owned())
            .collect();
        let output = self.try_run(dir, &args, log)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(ResourceError::Git {
                command: describe(&args),
                status: output.status.to_string(),
            })
        }
    }

    /// Runs git in `dir`, returning its stdout whether or not it succeeded.
    pub fn try_run<S: AsRef<OsStr>>(
        &self,
        dir: Option<&Path>,
        args: impl IntoIterator<Item = S>,
        log: &mut Log<'_>,
    ) -> Result<GitOutput, ResourceError> {
        let mut command = self.command(dir);
        command.args(args).stdin(std::process::Stdio::null());
        let output = command.output().map_err(|source| ResourceError::Spawn {
            program: "git".to_owned(),
            source,
        })?;
        log.raw(&output.stderr);
        Ok(GitOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        })
    }

    /// Runs git quietly: stderr is dropped, only success counts (for probes like `cat-file -e`).
    pub fn probe<S: AsRef<OsStr>>(
        &self,
        dir: Option<&Path>,
        args: impl IntoIterator<Item = S>,
    ) -> bool {
        let mut command = self.command(dir);
        command.args(args).stdin(std::process::Stdio::null());
        command
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    }

    fn command(&self, dir: Option<&Path>) -> std::process::Command {
        let mut command = self.ctx.command("git");
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        for entry in &self.config {
            command.arg("-c").arg(entry);
        }
        command
    }
}

fn secrets_dir(ctx: &Context) -> Result<tempfile::TempDir, ResourceError> {
    std::fs::create_dir_all(ctx.temp_dir())
        .map_err(|source| ResourceError::io(ctx.temp_dir(), source))?;
    tempfile::Builder::new()
        .prefix("concorde-git-")
        .tempdir_in(ctx.temp_dir())
        .map_err(|source| ResourceError::io(ctx.temp_dir(), source))
}

fn write_private_file(path: &Path, contents: &str, mode: u32) -> Result<(), ResourceError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| ResourceError::io(path, source))?;
    file.write_all(contents.as_bytes())
        .map_err(|source| ResourceError::io(path, source))
}

fn ssh_command(key_path: &Path, user: Option<&str>) -> String {
    let mut command = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        shell_quote(&key_path.to_string_lossy())
    );
    if let Some(user) = user {
        command.push_str(&format!(" -l {}", shell_quote(user)));
    }
    command
}

/// Quotes one word for `sh`, which is how git runs `GIT_SSH_COMMAND`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn describe(args: &[OsString]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    format!("git {}", words.join(" "))
}
