//! The tricky corners of input resolution, one small history each, checked with expect
//! snapshots (`UPDATE_EXPECT=1 cargo test` rewrites them).

mod support;

use concorde_sched::{
    ExplainEvent, InputConfig, JobId, MemoryView, RecordingExplainer, ResourceId, resolve_inputs,
    resolve_inputs_explained,
};
use expect_test::{Expect, expect};
use support::{BuildSpec, History, input, pin, render};

const CURRENT: JobId = JobId(100);

fn check(view: &MemoryView, inputs: &[InputConfig], expected: Expect) {
    let resolution =
        resolve_inputs(view, CURRENT, inputs).expect("the memory view cannot fail here");
    expected.assert_eq(&render(inputs, &resolution));
}

#[test]
fn fan_in_takes_the_version_every_passed_job_vouched_for() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2"]);
    history
        .outputs(1, 1, &[(1, "rxv1")])
        .outputs(2, 2, &[(1, "rxv1")])
        .outputs(3, 1, &[(1, "rxv2")]);
    check(
        &history.finish(),
        &[input("x", 1, &[1, 2])],
        expect![[r#"
        x: rxv1 from [1, 2] first
        has_next: false
    "#]],
    );
}

#[test]
fn build_order_beats_check_order_and_reruns_sit_next_to_their_original() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2", "rxv3", "rxv5"]);
    history
        .outputs(1, 1, &[(1, "rxv1")])
        .outputs(2, 1, &[(1, "rxv5")]);
    history
        .outputs(3, 1, &[(1, "rxv2")])
        .outputs(4, 1, &[(1, "rxv3")]);
    history.build(BuildSpec {
        id: 5,
        job: 1,
        succeeded: true,
        rerun_of: Some(2),
        outputs: &[(1, "rxv5")],
        inputs: &[],
    });
    check(
        &history.finish(),
        &[input("x", 1, &[1])],
        expect![[r#"
        x: rxv3 from [4] first
        has_next: false
    "#]],
    );
}

#[test]
fn correlated_inputs_travel_together_through_a_shared_build() {
    let mut history = History::new();
    history
        .versions(1, &["rxv1", "rxv2"])
        .versions(2, &["ryv1", "ryv2"]);
    history.outputs(1, 1, &[(1, "rxv1"), (2, "ryv1")]);
    history.outputs(3, 2, &[(1, "rxv1")]);
    history.outputs(4, 1, &[(1, "rxv2"), (2, "ryv2")]);
    let inputs = [input("x", 1, &[1, 2]), input("y", 2, &[1])];
    check(
        &history.finish(),
        &inputs,
        expect![[r#"
        x: rxv1 from [1, 3] first
        y: ryv1 from [1] first
        has_next: false
    "#]],
    );
}

#[test]
fn every_without_passed_walks_one_version_past_the_newest_consumed() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2", "rxv3", "rxv4"]);
    let consumed = |id, version| BuildSpec {
        id,
        job: 100,
        succeeded: id != 101,
        rerun_of: None,
        outputs: &[],
        inputs: if version == 1 {
            &[(1, "rxv1", "x")]
        } else {
            &[(1, "rxv2", "x")]
        },
    };
    history
        .build(consumed(100, 1))
        .build(consumed(101, 2))
        .build(consumed(102, 1));
    let inputs = [InputConfig::latest("x", ResourceId(1)).with_every()];
    check(
        &history.finish(),
        &inputs,
        expect![[r#"
        x: rxv3 from [] first
        has_next: true
    "#]],
    );
}

#[test]
fn every_with_passed_takes_the_oldest_unused_upstream_build() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2", "rxv3"]);
    history
        .outputs(2, 1, &[(1, "rxv1")])
        .outputs(3, 1, &[(1, "rxv2")])
        .outputs(4, 1, &[(1, "rxv3")]);
    history.build(BuildSpec {
        id: 10,
        job: 100,
        succeeded: true,
        rerun_of: None,
        outputs: &[],
        inputs: &[(1, "rxv1", "x")],
    });
    history.pipe(2, 10);
    let inputs = [input("x", 1, &[1]).with_every()];
    check(
        &history.finish(),
        &inputs,
        expect![[r#"
        x: rxv2 from [3] first
        has_next: true
    "#]],
    );
}

#[test]
fn a_disabled_pin_under_passed_is_never_satisfiable_but_resolves_without_passed() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2"]).disable(1, "rxv2");
    history.outputs(1, 1, &[(1, "rxv2")]);
    let view = history.finish();
    check(
        &view,
        &[input("x", 1, &[1]).with_pin(pin("rxv2"))],
        expect![[r#"
        x: error: no satisfiable builds from passed jobs found for set of inputs
        has_next: false
    "#]],
    );
    check(
        &view,
        &[input("x", 1, &[]).with_pin(pin("rxv2"))],
        expect![[r#"
        x: rxv2 from [] first
        has_next: false
    "#]],
    );
}

#[test]
fn errors_carry_concourse_messages_per_resolver() {
    let mut history = History::new();
    history.versions(1, &["rxv1"]);
    history.outputs(1, 1, &[(1, "rxv1")]);
    let inputs = [
        input("pinned", 1, &[]).with_pin(pin("rxv9")),
        input("latest", 2, &[]),
        input("every", 3, &[]).with_every(),
        input("group", 1, &[1, 2]),
        input("joins-group", 1, &[1]).with_pin(pin("rxv1")),
    ];
    check(
        &history.finish(),
        &inputs,
        expect![[r#"
        pinned: error: pinned version ver:rxv9 not found
        latest: error: latest version of resource not found
        every: error: version of resource not found
        group: error: no satisfiable builds from passed jobs found for set of inputs
        joins-group: error: no satisfiable builds from passed jobs found for set of inputs
        has_next: false
    "#]],
    );
}

#[test]
fn first_occurrence_counts_only_the_same_input_name_of_the_current_job() {
    let mut history = History::new();
    history.versions(1, &["v1", "v2"]);
    history.build(BuildSpec {
        id: 30,
        job: 100,
        succeeded: false,
        rerun_of: None,
        outputs: &[],
        inputs: &[(1, "v2", "other-name")],
    });
    history.build(BuildSpec {
        id: 31,
        job: 7,
        succeeded: true,
        rerun_of: None,
        outputs: &[],
        inputs: &[(1, "v2", "x")],
    });
    let view = history.finish();
    check(
        &view,
        &[input("x", 1, &[])],
        expect![[r#"
        x: v2 from [] first
        has_next: false
    "#]],
    );
    check(
        &view,
        &[input("other-name", 1, &[])],
        expect![[r#"
        other-name: v2 from []
        has_next: false
    "#]],
    );
}

#[test]
fn explanations_name_disabled_versions_and_conflicts() {
    let mut history = History::new();
    history
        .versions(1, &["rxv1", "rxv2", "rxv3"])
        .versions(2, &["ryv1", "ryv2"]);
    history.disable(1, "rxv3");
    history.outputs(1, 1, &[(1, "rxv1"), (2, "ryv1")]);
    history.outputs(2, 2, &[(2, "ryv1")]);
    history.outputs(3, 1, &[(1, "rxv2")]);
    history.outputs(4, 1, &[(1, "rxv3")]);
    let inputs = [input("x", 1, &[1]), input("y", 2, &[1, 2])];
    let view = history.finish();
    let mut explainer = RecordingExplainer::default();
    let resolution = resolve_inputs_explained(&view, CURRENT, &inputs, &mut explainer)
        .expect("the memory view cannot fail here");
    let plain = resolve_inputs(&view, CURRENT, &inputs).expect("the memory view cannot fail here");
    assert_eq!(resolution, plain, "explaining must not change the result");
    let name = |digest: &concorde_sched::VersionDigest| digest.to_string();
    let lines: Vec<String> = explainer
        .events
        .iter()
        .zip(&inputs)
        .flat_map(|(events, input)| {
            let inputs = &inputs;
            let name = &name;
            events
                .iter()
                .map(move |event| format!("{}: {}", input.name, event.describe(inputs, name)))
        })
        .collect();
    expect![[r#"
        x: build 4 of job 1: version rxv3 is disabled
        x: build 4 of job 1: the version is not an output or input of this build
        x: build 3 of job 1: vouches for rxv2, but the other passed constraints cannot be met with it
        x: chose version rxv1
        y: build 4 of job 1: has rxv3 of resource 1, which conflicts with rxv2 chosen for input x
        y: build 3 of job 1: the version is not an output or input of this build
        y: build 1 of job 1: has rxv1 of resource 1, which conflicts with rxv2 chosen for input x
        y: job 1: no (further) succeeded build vouches for a consistent version
        y: chose version ryv1"#]]
    .assert_eq(&lines.join("\n"));
    assert!(explainer.events[0].contains(&ExplainEvent::Chosen(view_digest("rxv1"))));
}

fn view_digest(name: &str) -> concorde_sched::VersionDigest {
    concorde_sched::VersionDigest::new(name)
}

#[test]
fn legacy_builds_are_migrated_when_read_and_when_a_listing_runs_dry() {
    let mut history = History::new();
    history.versions(1, &["rxv1", "rxv2"]);
    for (id, version) in [(1, "rxv1"), (2, "rxv1"), (3, "rxv2")] {
        let build = concorde_sched::BuildRef {
            id: concorde_sched::BuildId(id),
            rerun_of: None,
        };
        history.builder.build(build, JobId(id % 2 + 1), true, true);
        history.builder.output(build.id, ResourceId(1), version);
    }
    let view = history.finish();
    assert!(view.successful_build_outputs_table().is_empty());
    check(
        &view,
        &[input("x", 1, &[1, 2])],
        expect![[r#"
        x: rxv1 from [2, 1] first
        has_next: false
    "#]],
    );
    let migrated: Vec<i64> = view
        .successful_build_outputs_table()
        .keys()
        .map(|id| id.0)
        .collect();
    assert_eq!(migrated, vec![1, 2, 3]);
}
