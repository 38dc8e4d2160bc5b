//! `cargo xtask fuzz [--seconds N] [TARGET...]`: builds the coverage-guided fuzz targets of
//! `fuzz/` (libFuzzer, with the compiler's sanitizer-coverage instrumentation, on the stable
//! toolchain; no `cargo fuzz` needed) and runs each for a bounded time from its seeds. A
//! crash fails the command and leaves the input under `fuzz/target/artifacts/<target>/`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{repo_root, run, shared_dir};

/// Every target, in the order they run.
pub const TARGETS: [&str; 3] = ["parse_pipeline", "script_output", "api_json"];

/// The host triple: with an explicit `--target`, the instrumentation flags reach only the
/// code under test, not build scripts and procedural macros.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

const INSTRUMENTATION: &str = "-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
     -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
     -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// Parses `--seconds N` and target names, then builds and runs.
pub fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = 300_u64;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds {value}: not a number"))?;
            }
            name if TARGETS.contains(&name) => targets.push(name.to_owned()),
            other => bail!(
                "unknown fuzz target {other:?}; targets: {}",
                TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|name| (*name).to_owned()).collect();
    }
    run_targets(&targets, seconds)
}

/// Builds the targets, then runs each for `seconds`.
pub fn run_targets(targets: &[String], seconds: u64) -> anyhow::Result<()> {
    let fuzz_dir = repo_root().join("fuzz");
    run(Command::new("cargo")
        .current_dir(&fuzz_dir)
        .env("RUSTFLAGS", INSTRUMENTATION)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TRIPLE,
            "--bins",
        ]))?;
    for target in targets {
        run_one(&fuzz_dir, target, seconds)?;
    }
    Ok(())
}

fn run_one(fuzz_dir: &Path, target: &str, seconds: u64) -> anyhow::Result<()> {
    let work = fuzz_dir.join("target");
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let mut command = Command::new(work.join(TRIPLE).join("release").join(target));
    // New inputs go to the first directory; the others only seed it.
    command
        .arg(&corpus)
        .arg(fuzz_dir.join("seeds").join(target));
    if target == "parse_pipeline" {
        command.arg(shared_dir().join("corpus"));
    }
    command
        .arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    run(&mut command).with_context(|| {
        format!(
            "fuzz target {target} found a crash; the input is in {}",
            artifacts.display()
        )
    })
}
