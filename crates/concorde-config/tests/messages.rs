//! Each validation message Concourse prints, produced by a pipeline written to trigger it.

mod common;

use common::{diagnostics, messages};
use concorde_config::vars::StaticVars;
use concorde_config::{Severity, UnknownKeys, WarningKind, load_pipeline};

/// A valid pipeline with one resource `r` and one job `j` using it, plus `extra` YAML appended
/// to the job list (each extra job must be a complete list entry).
fn with_jobs(extra_jobs: &str) -> String {
    format!(
        "resources:\n- {{name: r, type: git}}\njobs:\n- name: j\n  plan:\n  - get: r\n{extra_jobs}"
    )
}

fn assert_message(yaml: &str, expected: &str) {
    let found = messages(yaml);
    assert!(
        found.iter().any(|m| m == expected),
        "expected {expected:?} in {found:?}\nfor:\n{yaml}"
    );
}

fn assert_warning(yaml: &str, kind: WarningKind, expected: &str) {
    let found = diagnostics(yaml);
    assert!(
        found.iter().any(|d| d.severity == Severity::Warning
            && d.warning == Some(kind)
            && d.message == expected),
        "expected warning {expected:?} in {found:?}"
    );
}

fn step_job(step: &str) -> String {
    with_jobs(&format!("- name: s\n  plan:\n  - {step}\n"))
}

#[test]
fn group_messages() {
    let groups = |groups: &str| format!("{}groups:\n{groups}", with_jobs(""));
    assert_message(
        &groups("- {name: g, jobs: ['[j']}\n"),
        "invalid glob expression '[j' for group 'g'",
    );
    assert_message(
        &groups("- {name: g, jobs: [j, nope*]}\n"),
        "no jobs match 'nope*' for group 'g'",
    );
    assert_message(
        &groups("- {name: g, jobs: [j], resources: [x]}\n"),
        "group 'g' has unknown resource 'x'",
    );
    assert_message(
        &groups("- {name: g, jobs: [j]}\n- {name: g, jobs: [j]}\n"),
        "group 'g' appears 2 times. Duplicate names are not allowed.",
    );
    let two_jobs = format!(
        "{}groups:\n- {{name: g, jobs: [j]}}\n",
        with_jobs("- name: k\n  plan: [{get: r}]\n")
    );
    assert_message(&two_jobs, "job 'k' belongs to no group");
}

#[test]
fn resource_messages() {
    let yaml = "resources:\n- {name: r, type: git}\n- {name: r, type: git}\n- {type: git}\n- {name: nt}\njobs:\n- name: j\n  plan: [{get: r}, {get: nt}]\n";
    assert_message(
        yaml,
        "resources[0] and resources[1] have the same name ('r')",
    );
    assert_message(yaml, "resources[2] has no name");
    assert_message(yaml, "resources.nt has no type");
    let unused = "resources:\n- {name: r, type: git}\n- {name: lonely, type: git}\njobs:\n- name: j\n  plan: [{get: r}]\n";
    assert_message(unused, "resource 'lonely' is not used");
}

#[test]
fn resource_type_and_prototype_messages() {
    let yaml = format!(
        "{}resource_types:\n- {{name: t, type: registry-image}}\n- {{name: t, type: registry-image}}\n- {{type: x}}\n- {{name: u}}\nprototypes:\n- {{name: t, type: registry-image}}\n",
        with_jobs("")
    );
    assert_message(
        &yaml,
        "resource_types[0] and resource_types[1] have the same name ('t')",
    );
    assert_message(&yaml, "resource_types[2] has no name");
    assert_message(&yaml, "resource_types.u has no type");
    assert_message(
        &yaml,
        "resource_types[0] and prototypes[0] have the same name ('t')",
    );
}

#[test]
fn var_source_messages() {
    let sources = |sources: &str| format!("{}var_sources:\n{sources}", with_jobs(""));
    assert_message(
        &sources("- {name: c, type: credhub, config: {}}\n"),
        "credential manager type credhub is not supported in pipeline yet",
    );
    assert_message(
        &sources("- {name: c, type: bogus, config: {}}\n"),
        "unknown credential manager type: bogus",
    );
    assert_message(
        &sources(
            "- {name: d, type: dummy, config: {vars: {}}}\n- {name: d, type: dummy, config: {vars: {}}}\n",
        ),
        "var_sources[0] and var_sources[1] have the same name ('d')",
    );
    assert_message(
        &sources("- {name: d, type: dummy, config: {vars: [1]}}\n"),
        "credential manager d is invalid: vars must be a map",
    );
    assert_message(
        &sources(
            "- {name: a, type: dummy, config: {vars: {x: ((b:y))}}}\n- {name: b, type: dummy, config: {vars: {y: ((a:x))}}}\n",
        ),
        "failed to order by dependency: could not resolve inter-dependent var sources: a, b",
    );
}

#[test]
fn job_messages() {
    assert_message(
        "resources: []\njobs: []\n",
        "jobs: pipeline must contain at least one job",
    );
    assert_message(
        &with_jobs("- name: j\n  plan: [{get: r}]\n"),
        "jobs[0] and jobs[1] have the same name ('j')",
    );
    assert_message(&with_jobs("- plan: [{get: r}]\n"), "jobs[1] has no name");
    let retention = |fields: &str| with_jobs(&format!("- name: k\n  plan: [{{get: r}}]\n{fields}"));
    assert_message(
        &retention("  build_logs_to_retain: 1\n  build_log_retention: {builds: 1}\n"),
        "jobs.k can't use both build_log_retention and build_logs_to_retain",
    );
    assert_message(
        &retention("  build_logs_to_retain: -1\n"),
        "jobs.k has negative build_logs_to_retain: -1",
    );
    assert_message(
        &retention("  build_log_retention: {builds: -2}\n"),
        "jobs.k has negative build_log_retention.builds: -2",
    );
    assert_message(
        &retention("  build_log_retention: {days: -3}\n"),
        "jobs.k has negative build_log_retention.days: -3",
    );
    assert_message(
        &retention("  build_log_retention: {minimum_succeeded_builds: -4}\n"),
        "jobs.k has negative build_log_retention.min_success_builds: -4",
    );
    assert_message(
        &retention("  build_log_retention: {builds: 2, minimum_succeeded_builds: 5}\n"),
        "jobs.k has build_log_retention.min_success_builds: 5 greater than build_log_retention.min_success_builds: 2",
    );
    assert_warning(
        &retention("  build_logs_to_retain: 3\n"),
        WarningKind::DeprecatedField,
        "jobs.k.build_logs_to_retain is deprecated. Use build_log_retention instead.",
    );
    let cycle = "resources:\n- {name: r, type: git}\njobs:\n- name: a\n  plan: [{get: r, passed: [b]}]\n- name: b\n  plan: [{get: r, passed: [a]}]\n";
    assert_message(cycle, "pipeline contains a cycle that starts at Job 'a'");
}

#[test]
fn step_messages() {
    assert_message(
        &step_job("{get: r, bogus: 1, other: 2}"),
        "jobs.s.plan.do[0]: unknown fields [\"bogus\" \"other\"]",
    );
    assert_message(
        &step_job("{get: r, put: r}"),
        "jobs.s.plan.do[0]: unknown fields [\"get\"]",
    );
    assert_message(
        &step_job("{put: '', resource: r}"),
        "jobs.s.plan.do[0].put(): identifier cannot be an empty string",
    );
    assert_message(
        &step_job("{task: t}"),
        "jobs.s.plan.do[0].task(t): must specify either `file:` or `config:`",
    );
    assert_message(
        &step_job("{task: t, file: a/b.yml, config: {platform: linux}}"),
        "jobs.s.plan.do[0].task(t): must specify one of `file:` or `config:`, not both",
    );
    let config = "{task: t, config: {nope: 1, inputs: [{path: x}], outputs: [{path: out}], run: {path: ls}}}";
    assert_message(
        &step_job(config),
        "jobs.s.plan.do[0].task(t).config: unknown fields [\"nope\"]",
    );
    assert_message(
        &step_job(config),
        "jobs.s.plan.do[0].task(t).config: missing 'platform'",
    );
    assert_message(
        &step_job(config),
        "jobs.s.plan.do[0].task(t).config:   input in position 0 is missing a name",
    );
    assert_message(
        &step_job(config),
        "jobs.s.plan.do[0].task(t).config:   output in position 0 is missing a name",
    );
    assert_message(
        &with_jobs("  - get: r\n"),
        "jobs.j.plan.do[1].get(r): repeated name",
    );
    assert_message(
        &step_job("{get: nope}"),
        "jobs.s.plan.do[0].get(nope): unknown resource 'nope'",
    );
    assert_message(
        &step_job("{put: nope}"),
        "jobs.s.plan.do[0].put(nope): unknown resource 'nope'",
    );
    let no_interaction = "resources:\n- {name: r, type: git}\n- {name: o, type: git}\njobs:\n- name: a\n  plan: [{get: o}]\n- name: b\n  plan: [{get: r, passed: [a]}]\n";
    assert_message(
        no_interaction,
        "jobs.b.plan.do[0].get(r).passed: job 'a' does not interact with resource 'r'",
    );
    assert_message(
        &step_job("{get: r, passed: [missing-*]}"),
        "jobs.s.plan.do[0].get(r).passed: no matching job(s) for 'missing-*'",
    );
    assert_message(
        &step_job("{run: go, type: nope}"),
        "jobs.s.plan.do[0].run(nope.go): unknown prototype 'nope'",
    );
    let prototype = format!(
        "{}prototypes:\n- {{name: p, type: registry-image}}\n",
        step_job("{run: Go, type: p}")
    );
    assert_message(
        &prototype,
        "jobs.s.plan.do[0].run(p.Go): 'Go' is not a valid identifier: must start with a lowercase letter or a number",
    );
    assert_message(
        &step_job("{set_pipeline: p}"),
        "jobs.s.plan.do[0].set_pipeline(p): no file specified",
    );
    assert_message(
        &step_job("{load_var: v}"),
        "jobs.s.plan.do[0].load_var(v): no file specified",
    );
    let repeated = with_jobs(
        "- name: s\n  plan:\n  - {load_var: v, file: a/b}\n  - {load_var: v, file: a/c}\n",
    );
    assert_message(
        &repeated,
        "jobs.s.plan.do[1].load_var(v): repeated var name",
    );
    assert_message(
        &step_job("{across: [], get: r}"),
        "jobs.s.plan.do[0]: no vars specified",
    );
    assert_message(
        &step_job("{across: [{var: x, values: [1], max_in_flight: 0}], get: r}"),
        "jobs.s.plan.do[0].across[0].max_in_flight: must be greater than 0",
    );
    assert_message(
        &step_job("{timeout: soon, do: [{get: r}]}"),
        "jobs.s.plan.do[0].timeout: invalid duration 'soon'",
    );
    assert_message(
        &step_job("{attempts: 0, get: r}"),
        "jobs.s.plan.do[0].attempts: must be greater than 0",
    );
    assert_message(
        &step_job("{get: r, on_failure: {put: nope}}"),
        "jobs.s.plan.do[0].on_failure.put(nope): unknown resource 'nope'",
    );
    assert_message(
        &with_jobs("- name: s\n  plan: [{get: r}]\n  on_success: {put: nope}\n"),
        "jobs.s.plan.on_success.put(nope): unknown resource 'nope'",
    );
    assert_message(
        &step_job("{in_parallel: {steps: [{get: r}, {try: {put: nope}}]}}"),
        "jobs.s.plan.do[0].in_parallel.steps[1].try.put(nope): unknown resource 'nope'",
    );
}

#[test]
fn display_messages() {
    let display = |image: &str| {
        format!(
            "{}display: {{background_image: '{image}'}}\n",
            with_jobs("")
        )
    };
    assert_message(&display("%zz"), "background_image is not a valid URL: %zz");
    assert_message(
        &display("ftp://example.com/x.png"),
        "background_image scheme must be either http, https or relative",
    );
    assert!(messages(&display("https://example.com/x.png")).is_empty());
    assert!(messages(&display("/public/x.png")).is_empty());
}

#[test]
fn warnings() {
    let identifier = WarningKind::InvalidIdentifier;
    assert_warning(
        &with_jobs("- name: '123'\n  plan: [{get: r}]\n"),
        identifier,
        "jobs.123: '123' is not a valid identifier: cannot be just numbers",
    );
    assert_warning(
        &with_jobs("- name: Build\n  plan: [{get: r}]\n"),
        identifier,
        "jobs.Build: 'Build' is not a valid identifier: must start with a lowercase letter or a number",
    );
    assert_warning(
        &step_job("{get: my_r!, resource: r}"),
        identifier,
        "jobs.s.plan.do[0].get(my_r!): 'my_r!' is not a valid identifier: illegal character '!'",
    );
    assert_warning(
        &step_job(
            "{task: t, image: img, config: {platform: linux, rootfs_uri: 'docker:///x', run: {path: ls}}}",
        ),
        WarningKind::Pipeline,
        "jobs.s.plan.do[0].task(t): specifies image: on the step but also specifies an image under config: - the image: on the step takes precedence",
    );
    assert_warning(
        &step_job("{task: t, hermetic: true, file: a/b.yml}"),
        WarningKind::Pipeline,
        "jobs.s.plan.do[0].task(t): specifies `hermetic:` only works against worker containerd runtime",
    );
    assert_warning(
        &with_jobs(
            "- name: s\n  plan:\n  - {load_var: v, file: a/b}\n  - {across: [{var: v, values: [1]}], get: r}\n",
        ),
        WarningKind::VarShadowed,
        "jobs.s.plan.do[1].across[0]: shadows local var 'v'",
    );
}

#[test]
fn decode_errors_for_malformed_steps() {
    let decode_error = |yaml: &str| -> String {
        let err = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Ignore)
            .expect_err("malformed");
        err.lines().join("\n")
    };
    let empty_step = decode_error(&step_job("{}"));
    assert!(
        empty_step.contains("jobs.s.plan[0]: no step configured"),
        "{empty_step}"
    );
    let only_modifiers = decode_error(&step_job("{attempts: 2}"));
    assert!(
        only_modifiers.contains("no core step type declared (e.g. get, put, task, etc.)"),
        "{only_modifiers}"
    );
    let malformed = decode_error(&step_job("{get: [a, b]}"));
    assert!(
        malformed.contains("malformed get step: expected a string, found a list (line 9, column"),
        "{malformed}"
    );
    let version = decode_error(&step_job("{get: r, version: {ref: 1}}"));
    assert!(
        version.contains("the value 1 of ref is not a string"),
        "{version}"
    );
}

#[test]
fn unknown_keys_in_plain_sections_follow_the_mode() {
    let yaml = "resources:\n- {name: r, type: git, colour: red}\njobs:\n- name: j\n  plan: [{get: r}]\nunknown_top: 1\n";
    assert!(load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Ignore).is_ok());
    let err = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
        .expect_err("strict");
    assert_eq!(
        err.lines(),
        vec!["malformed config: resources.r: unknown field \"colour\" (line 2, column 24)"]
    );
}

#[test]
fn diagnostics_carry_locations() {
    let found = diagnostics(&step_job("{get: nope}"));
    let unknown = found
        .iter()
        .find(|d| d.message.contains("unknown resource 'nope'"))
        .expect("reported");
    assert_eq!((unknown.location.line, unknown.location.column), (9, 5));
}
