//! The `concorde resource <type> <check|in|out> [DIR]` subcommand, owned here so the CLI crate
//! only forwards to it.

use std::path::PathBuf;
use std::process::ExitCode;

/// Run a built-in resource type's check, in or out script.
#[derive(Debug, Clone, clap::Args)]
pub struct ResourceArgs {
    /// The resource type: git, time, mock or registry-image.
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// The script to run: check, in or out.
    #[arg(value_name = "ACTION")]
    pub action: String,
    /// The destination directory (in) or the directory holding the put's inputs (out).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs the script with the process's stdin, stdout and stderr, returning its exit status.
pub fn run_cli(args: ResourceArgs) -> ExitCode {
    let dir: Vec<std::ffi::OsString> = args.dir.into_iter().map(PathBuf::into_os_string).collect();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = crate::run(
        &args.type_name,
        &args.action,
        &dir,
        &mut stdin.lock(),
        &mut stdout.lock(),
        &mut stderr.lock(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
