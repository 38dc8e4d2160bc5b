//! The `validate-pipeline` and `format-pipeline` commands, run as a user runs them.

use std::process::{Command, Output};

fn concorde(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concorde"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writable");
    path.display().to_string()
}

const VALID: &str = "resources:\n- {name: repo, type: git}\njobs:\n- name: unit\n  plan:\n  - get: repo\n    trigger: true\n  - task: t\n    config: {platform: linux, run: {path: echo, args: [((greeting))]}}\n";

#[test]
fn a_valid_pipeline_looks_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "p.yml", VALID);
    let out = concorde(&["validate-pipeline", "-c", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "looks good\n");
}

#[test]
fn errors_are_grouped_with_locations_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        &dir,
        "p.yml",
        "resources:\n- {name: repo, type: git}\njobs:\n- name: unit\n  plan:\n  - get: nope\n  - put: repo\n    bogus: 1\n",
    );
    let out = concorde(&["validate-pipeline", "-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = "\nWARNING:\nError loading existing config:\n  - invalid jobs:\n\tjobs.unit.plan.do[0].get(nope): unknown resource 'nope' (line 6, column 5)\n\tjobs.unit.plan.do[1]: unknown fields [\"bogus\"] (line 7, column 5)\n\nerror: configuration invalid\n";
    assert_eq!(stderr, expected);
}

#[test]
fn strict_turns_warnings_into_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "p.yml", &VALID.replace("name: unit", "name: Unit"));
    let lenient = concorde(&["validate-pipeline", "-c", &file]);
    assert!(lenient.status.success());
    assert!(String::from_utf8_lossy(&lenient.stderr).contains("DEPRECATION WARNING:"));
    let strict = concorde(&["validate-pipeline", "-c", &file, "--strict"]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn output_prints_the_config_with_static_vars_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "p.yml", VALID);
    let vars = write(&dir, "vars.yml", "greeting: from-file\n");
    let out = concorde(&["validate-pipeline", "-c", &file, "-o", "-l", &vars]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("- from-file"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = concorde(&[
        "validate-pipeline",
        "-c",
        &file,
        "-o",
        "-l",
        &vars,
        "-v",
        "greeting=from-flag",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("- from-flag"));
    let out = concorde(&["validate-pipeline", "-c", &file, "-o"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("((greeting))"),
        "unresolved vars stay"
    );
}

#[test]
fn broken_yaml_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "p.yml", "jobs: [\n");
    let out = concorde(&["validate-pipeline", "-c", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: error parsing yaml before applying templates: ")
    );
    let missing = concorde(&["validate-pipeline", "-c", "/nonexistent/p.yml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("could not read /nonexistent/p.yml"));
}

#[test]
fn format_pipeline_writes_in_place_idempotently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(&dir, "p.yml", VALID);
    let printed = concorde(&["format-pipeline", "-c", &file]);
    assert!(printed.status.success());
    assert!(
        concorde(&["format-pipeline", "-c", &file, "-w"])
            .status
            .success()
    );
    let written = std::fs::read_to_string(&file).expect("readable");
    assert_eq!(written, String::from_utf8_lossy(&printed.stdout));
    assert!(
        concorde(&["format-pipeline", "-c", &file, "-w"])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&file).expect("readable"), written);
    assert!(
        concorde(&["validate-pipeline", "-c", &file])
            .status
            .success()
    );
}

#[test]
fn the_shipped_examples_are_valid() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).expect("examples folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "yml") {
            let out = concorde(&[
                "validate-pipeline",
                "--strict",
                "-c",
                &path.display().to_string(),
            ]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 2);
}
