//! `concorde debug resolve-inputs FILE`: the conformance runner for input resolution.
//!
//! It follows the runner contract of the shared suite (`conformance/algorithm/FORMAT.md` §8):
//! for each selected case, one JSON object per line on stdout. With `--explain`, each line
//! also carries an `explain` field: per input, why candidates were passed over.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use concorde_sched::fixture::{Case, LoadedCase, load_dump_case, load_inline_case};
use concorde_sched::{RecordingExplainer, Resolution, resolve_inputs, resolve_inputs_explained};
use serde_json::{Map, Value, json};

/// Arguments of `concorde debug resolve-inputs`.
#[derive(Debug, clap::Args)]
pub struct ResolveInputsArgs {
    /// A `cases.json` document or a single case object.
    pub file: PathBuf,
    /// Only run the case with this id (repeatable).
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// The directory holding the `*.json.gz` dumps of LoadDB cases.
    #[arg(long)]
    pub testdata: Option<PathBuf>,
    /// Add an `explain` field: per input, the candidates considered and why each was passed
    /// over.
    #[arg(long)]
    pub explain: bool,
}

/// Runs the selected cases and prints one result line per case.
pub fn run(args: &ResolveInputsArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("could not read {}", args.file.display()))?;
    let document: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let cases: Vec<Case> = match document.get("cases") {
        Some(cases) => serde_json::from_value(cases.clone()),
        None => serde_json::from_value(document).map(|case| vec![case]),
    }
    .with_context(|| format!("{} holds no valid conformance cases", args.file.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for case in &cases {
        if !args.ids.is_empty() && !args.ids.contains(&case.id) {
            continue;
        }
        let line = run_case(case, args).with_context(|| format!("case {}", case.id))?;
        writeln!(out, "{line}").context("could not write to stdout")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_case(case: &Case, args: &ResolveInputsArgs) -> anyhow::Result<Value> {
    let loaded = match load_case(case, args.testdata.as_deref())? {
        Ok(loaded) => loaded,
        Err(reason) => return Ok(json!({"id": case.id, "name": case.name, "skipped": reason})),
    };
    let first = resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs)
        .with_context(|| format!("resolving {}", case.id))?;
    let mut unstable = false;
    for _ in 1..case.iterations.max(1) {
        let again = resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs)
            .with_context(|| format!("resolving {} again", case.id))?;
        unstable |= again != first;
    }
    let mut line = result_line(case, &loaded, &first);
    if unstable {
        line.insert("unstable_across_iterations".to_owned(), Value::Bool(true));
    }
    if args.explain {
        line.insert("explain".to_owned(), explain(&loaded)?);
    }
    Ok(Value::Object(line))
}

/// Loads the case's history, or says why the case is skipped.
fn load_case(case: &Case, testdata: Option<&Path>) -> anyhow::Result<Result<LoadedCase, String>> {
    let Some(load_db) = &case.load_db else {
        return Ok(Ok(load_inline_case(case)?));
    };
    let Some(testdata) = testdata else {
        return Ok(Err("LoadDB case and no --testdata given".to_owned()));
    };
    let file_name = Path::new(load_db).file_name().unwrap_or_default();
    let path = testdata.join(file_name);
    if !path.exists() {
        return Ok(Err(format!("dump {} is missing", path.display())));
    }
    let compressed =
        std::fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .with_context(|| format!("could not decompress {}", path.display()))?;
    Ok(Ok(load_dump_case(case, &json).with_context(|| {
        format!("could not load {}", path.display())
    })?))
}

fn result_line(case: &Case, loaded: &LoadedCase, resolution: &Resolution) -> Map<String, Value> {
    let mut values = Map::new();
    let mut errors = Map::new();
    let mut passed_build_ids = Map::new();
    let mut first_occurrence = Map::new();
    for (input, result) in loaded.inputs.iter().zip(&resolution.inputs) {
        let name = input.name.0.clone();
        match result {
            Ok(resolved) => {
                values.insert(name.clone(), json!(loaded.version_name(&resolved.digest)));
                let ids: Vec<i64> = resolved.passed_build_ids.iter().map(|id| id.0).collect();
                passed_build_ids.insert(name.clone(), json!(ids));
                first_occurrence.insert(name, json!(resolved.first_occurrence));
            }
            Err(error) => {
                errors.insert(name, json!(error.to_string()));
            }
        }
    }
    let mut line = Map::new();
    line.insert("id".to_owned(), json!(case.id));
    line.insert("name".to_owned(), json!(case.name));
    line.insert("ok".to_owned(), json!(resolution.ok()));
    line.insert("values".to_owned(), Value::Object(values));
    line.insert("errors".to_owned(), Value::Object(errors));
    line.insert(
        "passed_build_ids".to_owned(),
        Value::Object(passed_build_ids),
    );
    line.insert("has_next".to_owned(), json!(resolution.has_next));
    line.insert(
        "first_occurrence".to_owned(),
        Value::Object(first_occurrence),
    );
    if case
        .requires
        .iter()
        .any(|requirement| requirement == "v6_migration")
    {
        line.insert("migrated".to_owned(), migrated_table(loaded));
    }
    line
}

/// The successful-build-outputs table in the `expected_migrated` shape.
fn migrated_table(loaded: &LoadedCase) -> Value {
    let mut table = Map::new();
    for (build, by_resource) in loaded.view.successful_build_outputs_table() {
        let mut row = Map::new();
        for (resource, digests) in by_resource {
            let names: Vec<String> = digests
                .iter()
                .map(|digest| loaded.version_name(digest))
                .collect();
            row.insert(resource.to_string(), json!(names));
        }
        table.insert(build.to_string(), Value::Object(row));
    }
    Value::Object(table)
}

/// How many explanation lines one input shows; a search over a long history considers
/// thousands of builds, and the first ones say the most.
const MAX_EXPLAIN_LINES: usize = 200;

/// Resolves once more with a recording explainer and renders its events per input name.
fn explain(loaded: &LoadedCase) -> anyhow::Result<Value> {
    let mut explainer = RecordingExplainer::default();
    resolve_inputs_explained(
        &loaded.view,
        loaded.current_job,
        &loaded.inputs,
        &mut explainer,
    )
    .context("resolving with explanations")?;
    let mut by_input = BTreeMap::new();
    for (index, input) in loaded.inputs.iter().enumerate() {
        let events = explainer
            .events
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let version_name = |digest: &concorde_sched::VersionDigest| loaded.version_name(digest);
        let mut lines: Vec<String> = events
            .iter()
            .take(MAX_EXPLAIN_LINES)
            .map(|event| event.describe(&loaded.inputs, &version_name))
            .collect();
        if events.len() > MAX_EXPLAIN_LINES {
            lines.push(format!("... and {} more", events.len() - MAX_EXPLAIN_LINES));
        }
        by_input.insert(input.name.0.clone(), lines);
    }
    Ok(json!(by_input))
}
