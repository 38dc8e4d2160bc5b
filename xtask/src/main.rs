//! Repository chores behind `cargo xtask`: the one command that runs every test.
//!
//! `cargo xtask test` checks formatting (`cargo fmt --check`) and lints
//! (`cargo clippy --all-targets -- -D warnings`), runs the whole workspace suite with nextest
//! (this crate's tidy tests included), then the scheduling conformance suite
//! (`debug resolve-inputs` piped into the shared `compare.py`), then every fuzz target for
//! [`CI_FUZZ_SECONDS`] each. `cargo xtask fuzz` runs the fuzz targets alone (see `fuzz.rs`).

mod fuzz;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("conformance") => conformance(),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        _ => bail!(
            "usage: cargo xtask test [NEXTEST ARGS...] | cargo xtask conformance | cargo xtask fuzz [--seconds N] [TARGET...]"
        ),
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared, read-only material that sits beside the repository (`../shared`), unless
/// `CONCORDE_SHARED` points elsewhere.
fn shared_dir() -> PathBuf {
    std::env::var_os("CONCORDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn test(nextest_args: &[String]) -> anyhow::Result<()> {
    let root = repo_root();
    timed("fmt", || {
        run(Command::new("cargo")
            .current_dir(&root)
            .args(["fmt", "--all", "--check"]))
    })?;
    timed("clippy", || {
        run(Command::new("cargo").current_dir(&root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    timed("nextest", || {
        run(Command::new("cargo")
            .current_dir(&root)
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .args(nextest_args))
    })?;
    timed("conformance", conformance)?;
    let targets: Vec<String> = fuzz::TARGETS
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    timed("fuzz", || fuzz::run_targets(&targets, CI_FUZZ_SECONDS))
}

/// Runs one stage of `test` and says how long it took, so a slow CI run shows where.
fn timed(stage: &str, work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let result = work();
    eprintln!(
        "xtask: stage {stage} took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    result
}

/// How long `cargo xtask test` fuzzes each target.
const CI_FUZZ_SECONDS: u64 = 30;

/// Runs the shared scheduling conformance cases through our runner and `compare.py`.
fn conformance() -> anyhow::Result<()> {
    let root = repo_root();
    let algorithm = shared_dir().join("conformance/algorithm");
    run(Command::new("cargo")
        .current_dir(&root)
        .args(["build", "-p", "concorde-server"]))?;
    let results = root.join("target/conformance-results.jsonl");
    let output = Command::new(root.join("target/debug/concorde"))
        .args(["debug", "resolve-inputs"])
        .arg(algorithm.join("cases.json"))
        .arg("--testdata")
        .arg(algorithm.join("dumps"))
        .output()
        .context("could not run concorde debug resolve-inputs")?;
    if !output.status.success() {
        bail!(
            "resolve-inputs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(&results, &output.stdout).context("could not write conformance results")?;
    run(Command::new("python3")
        .arg(algorithm.join("compare.py"))
        .arg(algorithm.join("cases.json"))
        .arg(&results)
        .arg("--include-load-db"))
}
