//! Hostile and broken input gets a clear error with a location, and never a panic.

use concorde_config::vars::StaticVars;
use concorde_config::{LoadError, UnknownKeys, load_pipeline, load_task_config};

fn load(bytes: &[u8]) -> Result<concorde_config::LoadedPipeline, LoadError> {
    load_pipeline(bytes, &StaticVars::default(), UnknownKeys::Ignore)
}

#[test]
fn broken_yaml_reports_where() {
    let err = load(b"jobs:\n- name: a\n  plan: [\n").expect_err("unterminated flow");
    let text = err.lines().join("\n");
    assert!(
        text.starts_with("error parsing yaml before applying templates: "),
        "{text}"
    );
    assert!(text.contains("(line "), "{text}");
}

#[test]
fn duplicate_keys_are_rejected_before_templating() {
    let err = load(b"jobs:\n- name: a\n  name: b\n  plan: []\n").expect_err("duplicate key");
    let text = err.lines().join("\n");
    assert!(
        text.starts_with("error parsing yaml before applying templates: "),
        "{text}"
    );
    assert!(text.contains("line 3"), "{text}");
}

#[test]
fn wrong_types_are_reported_with_paths_and_locations() {
    let err = load(b"jobs:\n- name: a\n  serial: 3\n  plan: {get: x}\nresources: 5\n")
        .expect_err("wrong types");
    let lines = err.lines();
    assert!(lines.iter().any(|l| l == "malformed config: resources: expected a list, found an integer (line 5, column 12)"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l
            .contains("jobs.a.serial: expected a boolean, found an integer (line 3, column 11)")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("jobs.a.plan: expected a list of steps, found a map")),
        "{lines:?}"
    );
}

#[test]
fn a_top_level_that_is_not_a_map_is_an_error() {
    for text in [&b"- a\n- b\n"[..], b"just a string\n", b"42\n"] {
        let err = load(text).expect_err("not a map");
        assert!(
            err.lines()[0].contains("expected a map"),
            "{:?}",
            err.lines()
        );
    }
}

#[test]
fn a_50_megabyte_file_is_refused_quickly() {
    let mut big = b"jobs:\n- name: a\n  plan: []\nuser_data: \"".to_vec();
    big.resize(50 * 1024 * 1024, b'x');
    big.extend_from_slice(b"\"\n");
    let err = load(&big).expect_err("too large");
    assert!(err.to_string().contains("file is too large"), "{err}");
}

#[test]
fn a_two_megabyte_pipeline_of_many_small_jobs_loads() {
    let mut text = String::from("resources:\n- name: repo\n  type: mock\n  source: {}\njobs:\n");
    let mut jobs = 0;
    while text.len() < 2 * 1024 * 1024 {
        text.push_str(&format!(
            "- name: job-{jobs}\n  plan:\n  - get: repo\n    trigger: true\n  - task: t\n    config: {{platform: linux, run: {{path: sh, args: [-c, 'echo {jobs}']}}}}\n"
        ));
        jobs += 1;
    }
    let loaded = load(text.as_bytes()).expect("a 2 MB pipeline loads");
    assert_eq!(loaded.pipeline.jobs.len(), jobs);
}

#[test]
fn the_densest_yaml_an_api_body_can_hold_parses() {
    // Two bytes a node, 4 MiB: the most nodes a pipeline the API accepts can have.
    let mut text = String::from("x: [");
    while text.len() < 4 * 1024 * 1024 - 4 {
        text.push_str("1,");
    }
    text.push_str("1]\n");
    concorde_config::parse_yaml(&text).expect("every node within the budget");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 10_000;
    let flow = format!("user_data: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let err = load(flow.as_bytes()).expect_err("too deep");
    assert!(err.to_string().contains("error parsing yaml"), "{err}");
    let mut block = String::new();
    for level in 0..depth {
        block.push_str(&" ".repeat(level));
        block.push_str("k:\n");
    }
    let err = load(block.as_bytes()).expect_err("too deep");
    assert!(err.to_string().contains("error parsing yaml"), "{err}");
}

#[test]
fn binary_bytes_are_refused() {
    let err = load(&[0xff, 0xfe, 0x00, 0x41, 0x80]).expect_err("binary");
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    let err = load(b"jobs:\x00\x01\x02").expect_err("NUL");
    assert!(err.to_string().contains("NUL byte"), "{err}");
}

#[test]
fn alias_bombs_are_refused() {
    // Eleven levels of ten aliases each would expand to 10^11 nodes.
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("l{level}: &l{level} [{aliases}]\n"));
    }
    assert!(load(bomb.as_bytes()).is_err());
}

#[test]
fn broken_task_configs_get_clear_errors() {
    let err =
        load_task_config(b"platform: linux\nrun: {path: ls}\nbogus: 1\n").expect_err("unknown key");
    assert_eq!(
        err.lines(),
        vec!["malformed config: unknown fields: [bogus] (line 1, column 1)"]
    );
    let err = load_task_config(b"platform: linux\ninputs: {name: x}\n").expect_err("wrong type");
    assert!(
        err.lines()[0].contains("inputs: expected a list, found a map"),
        "{:?}",
        err.lines()
    );
}

#[test]
fn anchors_and_merge_keys_work() {
    let yaml = b"common: &common\n  type: git\n  source: {uri: x}\nresources:\n- <<: *common\n  name: r\njobs:\n- name: j\n  plan: [{get: r}]\n";
    let loaded = load(yaml).expect("merge keys");
    assert_eq!(loaded.pipeline.resources[0].kind, "git");
    assert_eq!(loaded.pipeline.resources[0].name, "r");
}
