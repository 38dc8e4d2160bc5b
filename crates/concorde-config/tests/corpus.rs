//! Every real pipeline in the shared corpus validates with no error, and every task file parses.

mod common;

use std::path::{Path, PathBuf};

use concorde_config::vars::StaticVars;
use concorde_config::{
    Severity, UnknownKeys, load_pipeline, load_task_config, parse_yaml_bytes, validate_pipeline,
    validate_task_config,
};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("corpus folder exists") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yml" || ext == "yaml")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The corpus holds one vars file (for `pipeline-vars.yml`): a map with neither jobs nor
/// resources. Those are loaded with `-l` rather than validated as pipelines.
fn is_vars_file(bytes: &[u8]) -> bool {
    let root = parse_yaml_bytes(bytes).expect("corpus files are YAML");
    root.get("jobs").is_none() && root.get("resources").is_none()
}

#[test]
fn every_corpus_pipeline_validates_without_errors() {
    let dir = common::shared_dir().join("corpus/pipelines");
    let files = yaml_files(&dir);
    let vars_files: Vec<&PathBuf> = files
        .iter()
        .filter(|path| is_vars_file(&std::fs::read(path).expect("readable")))
        .collect();
    assert_eq!(
        vars_files.len(),
        1,
        "one vars file in the corpus: {vars_files:?}"
    );
    let mut vars_with_file = StaticVars::default();
    vars_with_file
        .add_file(
            "vars-file.yml",
            &std::fs::read(vars_files[0]).expect("readable"),
        )
        .expect("vars file loads");
    let mut validated = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("readable");
        if is_vars_file(&bytes) {
            continue;
        }
        for vars in [&StaticVars::default(), &vars_with_file] {
            let loaded = load_pipeline(&bytes, vars, UnknownKeys::Reject)
                .unwrap_or_else(|err| panic!("{} does not load: {err}", path.display()));
            let errors: Vec<String> = validate_pipeline(&loaded.pipeline)
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.message)
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        }
        validated += 1;
    }
    assert!(validated >= 19, "validated {validated} pipelines");
}

#[test]
fn vars_file_resolves_pipeline_vars_identifiers() {
    let dir = common::shared_dir().join("corpus/pipelines");
    let mut vars = StaticVars::default();
    vars.add_file(
        "vars-file.yml",
        &std::fs::read(dir.join("vars-file.yml")).expect("readable"),
    )
    .expect("loads");
    let bytes = std::fs::read(dir.join("pipeline-vars.yml")).expect("readable");
    let loaded = load_pipeline(&bytes, &vars, UnknownKeys::Reject).expect("loads");
    let names: Vec<&str> = loaded
        .pipeline
        .jobs
        .iter()
        .map(|job| job.name.as_str())
        .collect();
    assert_eq!(names, vec!["initial-job", "level-9000-job"]);
    assert!(validate_pipeline(&loaded.pipeline).is_empty());
}

#[test]
fn every_corpus_task_file_parses() {
    let files = yaml_files(&common::shared_dir().join("corpus/tasks"));
    assert!(files.len() >= 8);
    for path in files {
        let config = load_task_config(&std::fs::read(&path).expect("readable"))
            .unwrap_or_else(|err| panic!("{} does not parse: {err}", path.display()));
        assert_eq!(
            validate_task_config(&config),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        assert!(config.run.is_some(), "{} has a run", path.display());
    }
}
