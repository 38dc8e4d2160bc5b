//! Benchmark of input resolution, run with `cargo bench -p concorde-sched`.
//!
//! It prints figures rather than asserting them, because timings depend on the machine:
//! - one inline conformance case (target: under 50 µs per resolution);
//! - each LoadDB case of the shared suite after loading (target: under 20 ms);
//! - every case of `cases.json` in process, and the release `concorde` binary over it when
//!   it has been built (target: under 2 s);
//! - a generated pipeline of 1,000 jobs and up to 100,000 versions, at growing history sizes.
//!
//! The shared suite is read from `../shared` beside the repository, or `$CONCORDE_SHARED`;
//! the binary is `target/release/concorde`, or `$CONCORDE_BIN`.

// The generator lives beside this file, in `resolve/`, so cargo does not take it for a bench.
#[path = "resolve/generated.rs"]
mod generated;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use concorde_sched::fixture::{Case, LoadedCase, load_dump_case, load_inline_case};
use concorde_sched::resolve_inputs;

fn main() {
    let shared = shared_dir();
    let algorithm = shared.join("conformance/algorithm");
    let cases = match read_cases(&algorithm.join("cases.json")) {
        Ok(cases) => cases,
        Err(error) => {
            eprintln!(
                "bench: cannot read the shared cases under {}: {error}",
                algorithm.display()
            );
            return;
        }
    };
    println!("== inline example case");
    for id in ["algorithm/001", "algorithm/002", "algorithm/055"] {
        if let Some(case) = cases.iter().find(|case| case.id == id) {
            bench_inline(case);
        }
    }
    println!("\n== LoadDB cases (resolution only, after loading)");
    for case in cases.iter().filter(|case| case.load_db.is_some()) {
        bench_load_db(case, &algorithm.join("dumps"));
    }
    println!("\n== whole suite");
    bench_whole_suite(&cases, &algorithm);
    println!("\n== generated pipeline: 1,000 jobs, growing history");
    for versions in [10_000, 25_000, 50_000, 100_000] {
        bench_generated(versions);
    }
}

fn shared_dir() -> PathBuf {
    std::env::var_os("CONCORDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let mut document: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| error.to_string())?;
    let cases = document
        .get_mut("cases")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    serde_json::from_value(cases).map_err(|error| error.to_string())
}

fn read_dump(path: &Path) -> Option<Vec<u8>> {
    let compressed = std::fs::read(path).ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .ok()?;
    Some(json)
}

/// Min and median of repeated runs of `run`, each run timed separately.
fn measure(mut run: impl FnMut(), budget: Duration, max_runs: usize) -> (Duration, Duration) {
    run();
    let started = Instant::now();
    let mut timings = Vec::new();
    while timings.len() < max_runs && (timings.len() < 3 || started.elapsed() < budget) {
        let one = Instant::now();
        run();
        timings.push(one.elapsed());
    }
    timings.sort();
    (timings[0], timings[timings.len() / 2])
}

fn bench_inline(case: &Case) {
    let Ok(loaded) = load_inline_case(case) else {
        println!("{}: cannot load", case.id);
        return;
    };
    // Batches of 1,000 keep the timer's own cost out of sub-microsecond figures.
    const BATCH: u32 = 1_000;
    let (min, median) = measure(
        || {
            for _ in 0..BATCH {
                let resolution = resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs);
                std::hint::black_box(resolution).ok();
            }
        },
        Duration::from_secs(1),
        200,
    );
    println!(
        "{:<16} resolve: min {:>9.2?}  median {:>9.2?}  (per resolution; target < 50 µs)",
        case.id,
        min / BATCH,
        median / BATCH
    );
}

fn bench_load_db(case: &Case, dumps: &Path) {
    let Some(file_name) = case
        .load_db
        .as_deref()
        .and_then(|path| Path::new(path).file_name())
    else {
        return;
    };
    let path = dumps.join(file_name);
    let load_started = Instant::now();
    let Some(json) = read_dump(&path) else {
        println!("{:<16} skipped: dump {} missing", case.id, path.display());
        return;
    };
    let loaded = match load_dump_case(case, &json) {
        Ok(loaded) => loaded,
        Err(error) => {
            println!("{:<16} cannot load: {error}", case.id);
            return;
        }
    };
    let load_time = load_started.elapsed();
    let (min, median) = measure(
        || {
            let resolution = resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs);
            std::hint::black_box(resolution).ok();
        },
        Duration::from_secs(2),
        1_000,
    );
    println!(
        "{:<16} {:<28} inputs {:>2}  load {:>9.2?}  resolve: min {:>9.2?}  median {:>9.2?}  (target < 20 ms)",
        case.id,
        file_name.to_string_lossy(),
        loaded.inputs.len(),
        load_time,
        min,
        median
    );
}

fn load_any(case: &Case, dumps: &Path) -> Option<LoadedCase> {
    match &case.load_db {
        None => load_inline_case(case).ok(),
        Some(load_db) => {
            let json = read_dump(&dumps.join(Path::new(load_db).file_name()?))?;
            load_dump_case(case, &json).ok()
        }
    }
}

fn bench_whole_suite(cases: &[Case], algorithm: &Path) {
    let dumps = algorithm.join("dumps");
    let started = Instant::now();
    let mut resolved = 0;
    for case in cases {
        if let Some(loaded) = load_any(case, &dumps) {
            for _ in 0..case.iterations.max(1) {
                let resolution = resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs);
                std::hint::black_box(resolution).ok();
            }
            resolved += 1;
        }
    }
    println!(
        "in process: {resolved} cases loaded (dumps decompressed and parsed) and resolved in {:.2?}",
        started.elapsed()
    );
    let binary = std::env::var_os("CONCORDE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/concorde")
        });
    if !binary.exists() {
        println!(
            "release binary not built (cargo build --release -p concorde-server); skipping its timing"
        );
        return;
    }
    let started = Instant::now();
    let status = std::process::Command::new(&binary)
        .args(["debug", "resolve-inputs"])
        .arg(algorithm.join("cases.json"))
        .arg("--testdata")
        .arg(&dumps)
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => println!(
            "release binary: concorde debug resolve-inputs over cases.json in {:.2?} (target < 2 s)",
            started.elapsed()
        ),
        other => println!("release binary failed: {other:?}"),
    }
}

fn bench_generated(versions: usize) {
    let started = Instant::now();
    let pipeline = generated::generate(versions);
    let build_time = started.elapsed();
    let time = |inputs: &[concorde_sched::InputConfig]| {
        let (min, median) = measure(
            || {
                let resolution = resolve_inputs(&pipeline.view, pipeline.current_job, inputs);
                std::hint::black_box(resolution).ok();
            },
            Duration::from_secs(2),
            1_000,
        );
        let resolution = resolve_inputs(&pipeline.view, pipeline.current_job, inputs);
        let ok = resolution
            .map(|resolution| resolution.ok())
            .unwrap_or(false);
        format!("min {min:>9.2?} median {median:>9.2?} ok {ok:<5}")
    };
    println!(
        "versions {:>7}  builds {:>7}  generated in {:>8.2?}\n    satisfiable:   {}\n    unsatisfiable: {} (walks every build of one job)",
        versions,
        pipeline.builds,
        build_time,
        time(&pipeline.inputs),
        time(&pipeline.unsatisfiable_inputs)
    );
}
