//! `format-pipeline` is idempotent and meaning-preserving, over the corpus and over generated
//! pipelines.

mod common;

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, format_pipeline, load_pipeline, pipeline_to_json};
use proptest::prelude::*;

/// Formats `yaml`, checks that the result means the same and formats to itself.
fn check_round_trip(yaml: &str) {
    let vars = StaticVars::default();
    let original = load_pipeline(yaml.as_bytes(), &vars, UnknownKeys::Ignore)
        .expect("input loads")
        .pipeline;
    let formatted = format_pipeline(&original).expect("formats");
    let reparsed = load_pipeline(formatted.as_bytes(), &vars, UnknownKeys::Reject)
        .unwrap_or_else(|err| panic!("formatted output does not load: {err}\n{formatted}"))
        .pipeline;
    assert_eq!(
        pipeline_to_json(&original),
        pipeline_to_json(&reparsed),
        "meaning changed:\n{formatted}"
    );
    let twice = format_pipeline(&reparsed).expect("formats");
    assert_eq!(formatted, twice, "format is not idempotent");
}

#[test]
fn corpus_pipelines_round_trip() {
    let dir = common::shared_dir().join("corpus/pipelines");
    let mut checked = 0;
    for path in [dir.clone(), dir.join("multi-branch")] {
        for entry in std::fs::read_dir(&path).expect("corpus exists") {
            let file = entry.expect("entry").path();
            if file.extension().is_some_and(|ext| ext == "yml") {
                let text = std::fs::read_to_string(&file).expect("readable");
                check_round_trip(&text);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20);
}

#[test]
fn format_sorts_keys_and_drops_comments() {
    let yaml = "# comment\njobs:\n- plan:\n  - trigger: true\n    get: r\n  name: j\nresources:\n- type: git\n  name: r\n  source: {uri: 'yes', branch: '1.0'}\n";
    let loaded =
        load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Ignore).expect("loads");
    let formatted = format_pipeline(&loaded.pipeline).expect("formats");
    assert!(!formatted.contains("comment"));
    let jobs_at = formatted.find("jobs:").expect("jobs");
    let resources_at = formatted.find("resources:").expect("resources");
    assert!(jobs_at < resources_at, "{formatted}");
    assert!(
        formatted.find("get: r").expect("get") < formatted.find("trigger: true").expect("trigger"),
        "{formatted}"
    );
    check_round_trip(yaml);
}

/// Scalars that YAML might misread if written plainly.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("yes".to_owned()),
        Just("no".to_owned()),
        Just("on".to_owned()),
        Just("~".to_owned()),
        Just("1.0".to_owned()),
        Just("0x1F".to_owned()),
        Just("010".to_owned()),
        Just("((var))".to_owned()),
        Just("a: b".to_owned()),
        Just("- x".to_owned()),
        Just("#not a comment".to_owned()),
        Just("multi\nline".to_owned()),
        Just("".to_owned()),
        "[a-z][a-z0-9-]{0,8}",
        any::<String>(),
    ]
}

fn json_scalar() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        tricky_string().prop_map(serde_json::Value::String),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::Bool),
        Just(serde_json::Value::Null),
    ]
}

fn params() -> impl Strategy<Value = serde_json::Value> {
    prop::collection::btree_map(tricky_string(), json_scalar(), 0..4)
        .prop_map(|map| serde_json::Value::Object(map.into_iter().collect()))
}

/// Generates a pipeline as JSON (which is valid YAML), with steps of many kinds.
fn pipeline_json() -> impl Strategy<Value = String> {
    let step = prop_oneof![
        (params(), any::<bool>()).prop_map(|(params, trigger)| serde_json::json!({"get": "r", "params": params, "trigger": trigger})),
        (params(), 1..5i64).prop_map(|(params, attempts)| serde_json::json!({"put": "r", "params": params, "attempts": attempts})),
        (params(), tricky_string()).prop_map(|(params, arg)| serde_json::json!({
            "task": "t", "timeout": "1h",
            "config": {"platform": "linux", "params": params, "run": {"path": "sh", "args": ["-c", arg]}}
        })),
        tricky_string().prop_map(|value| serde_json::json!({
            "across": [{"var": "v", "values": [value, 1], "max_in_flight": "all"}],
            "do": [{"load_var": "x", "file": "a/b", "format": "json"}],
            "on_failure": {"get": "r"}
        })),
        Just(serde_json::json!({"in_parallel": {"steps": [{"get": "r"}], "limit": 2, "fail_fast": true}})),
        Just(serde_json::json!({"try": {"set_pipeline": "self", "file": "a/b.yml", "timeout": "5m"}})),
    ];
    (prop::collection::vec(step, 1..6), params(), tricky_string()).prop_map(|(steps, source, icon)| {
        serde_json::json!({
            "resources": [{"name": "r", "type": "git", "source": source, "icon": icon, "check_every": "never"}],
            "jobs": [{"name": "j", "serial_groups": ["g"], "plan": steps, "ensure": {"put": "r"}}]
        })
        .to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_pipelines_round_trip(yaml in pipeline_json()) {
        check_round_trip(&yaml);
    }
}
