//! `concorde curl`: fly's `curl`. Runs the system's `curl` against the target with its token,
//! for API routes no command covers: `concorde -t T curl /api/v1/info -- -s`.

use std::io::Read;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::fly::Ctx;

/// Arguments of `curl`.
#[derive(Debug, clap::Args)]
pub struct CurlArgs {
    /// The API path, e.g. `/api/v1/info`.
    pub path: String,
    /// Print the curl command and exit.
    #[arg(long = "print-and-exit")]
    pub print_and_exit: bool,
    /// Flags for curl itself, after `--`.
    #[arg(last = true)]
    pub curl_args: Vec<String>,
}

/// Runs curl; its exit code is the command's.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &CurlArgs) -> anyhow::Result<u8> {
    let name = ctx.target_name()?;
    let targets = ctx.targets()?;
    let target = targets
        .get(&name)
        .ok_or_else(|| crate::fly::client::ClientError::UnknownTarget(name.clone()))?;
    let url = format!("{}/{}", target.api, args.path.trim_start_matches('/'));
    let mut argv: Vec<String> = Vec::new();
    if let Some(token) = target.token.as_ref().filter(|token| token.is_set()) {
        argv.push("-H".to_owned());
        argv.push(format!("Authorization: {}", token.header()));
    }
    if target.insecure {
        argv.push("-k".to_owned());
    }
    argv.extend(args.curl_args.iter().cloned());
    argv.push(url);
    if args.print_and_exit {
        let quoted: Vec<String> = argv.iter().map(|arg| shell_quote(arg)).collect();
        ctx.say(format_args!("curl {}", quoted.join(" ")))?;
        return Ok(0);
    }
    let mut child = Command::new("curl")
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not run curl (is it installed?)")?;
    // curl's stderr is read on a thread so neither pipe can fill and stall it.
    let mut stderr = child.stderr.take().context("curl's stderr")?;
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let mut stdout = child.stdout.take().context("curl's stdout")?;
    std::io::copy(&mut stdout, &mut *ctx.io.stdout)?;
    let status = child.wait()?;
    let errors = errors.join().unwrap_or_default();
    ctx.io.stderr.write_all(&errors)?;
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(1))
}

/// `text` as a POSIX shell word.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./:=@".contains(&byte))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}
