//! Log retention: the reaper deletes the events of the builds a job's `build_log_retention`
//! (or the deprecated `build_logs_to_retain`) does not keep, as Concourse's build log collector
//! does (`atc/gc/build_log_collector.go`): `builds` keeps the newest finished builds, of which
//! `minimum_succeeded_builds` are succeeded ones when there are; `days` keeps builds that ended
//! recently; with both, once anything is reaped the count caps what the age kept. Running
//! builds are never reaped.

use concorde_store::BuildStatus::{self, Failed, Started, Succeeded};
use concorde_store::{NewBuild, NewBuildEvent, StartBuild, Timestamp};
use concorde_web::components::Component;

use crate::harness::Harness;

component_test!(
    retention_keeps_the_newest_builds_with_a_minimum_of_succeeded_ones,
    retention_by_days_reaps_builds_that_ended_long_ago,
    retention_by_builds_and_days_caps_the_count_once_something_is_reaped,
    the_deprecated_build_logs_to_retain_keeps_the_newest_builds,
);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn retention_keeps_the_newest_builds_with_a_minimum_of_succeeded_ones(h: &Harness) {
    // Concourse's documented example: with builds 5 and one succeeded build to keep, the
    // history 7(f) 6(f) 5(f) 4(f) 3(f) 2(f) 1(s) loses 2 and 3. Build 8 is still running.
    let mut history = vec![(Succeeded, 0)];
    history.extend([(Failed, 0); 6]);
    history.push((Started, 0));
    let kept = with_logs_after_reaping(
        h,
        "build_log_retention: {builds: 5, minimum_succeeded_builds: 1}",
        &history,
    )
    .await;
    assert_eq!(kept, ["1", "4", "5", "6", "7", "8"]);
}

async fn retention_by_days_reaps_builds_that_ended_long_ago(h: &Harness) {
    let history = [(Succeeded, 5), (Failed, 3), (Succeeded, 1), (Failed, 0)];
    let kept = with_logs_after_reaping(h, "build_log_retention: {days: 2}", &history).await;
    assert_eq!(kept, ["3", "4"]);
}

async fn retention_by_builds_and_days_caps_the_count_once_something_is_reaped(h: &Harness) {
    // Build 3 is kept by the count, build 2 by its age; build 1 is too old, and once it is
    // reaped the count applies to what is left, so build 2 goes too.
    let history = [(Failed, 5), (Failed, 1), (Failed, 0)];
    let retention = "build_log_retention: {builds: 1, days: 2}";
    let kept = with_logs_after_reaping(h, retention, &history).await;
    assert_eq!(kept, ["3"]);
}

async fn the_deprecated_build_logs_to_retain_keeps_the_newest_builds(h: &Harness) {
    let history = [(Succeeded, 0), (Failed, 0), (Succeeded, 0)];
    let kept = with_logs_after_reaping(h, "build_logs_to_retain: 2", &history).await;
    assert_eq!(kept, ["2", "3"]);
}

/// Gives a job configured with `retention` one build per `(status, ended days ago)` of
/// `history`, oldest first, each with a log line; runs the reaper twice (the second pass must
/// change nothing) and returns the names of the builds that still have their events.
async fn with_logs_after_reaping(
    h: &Harness,
    retention: &str,
    history: &[(BuildStatus, i64)],
) -> Vec<String> {
    let yaml = format!(
        "jobs:\n- name: j\n  {retention}\n  plan:\n  - task: t\n    config: {{platform: linux, run: {{path: 'true'}}}}\n"
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let job = h.job(&pipeline, "j").await;
    let now = concorde_web::now();
    for (status, days_ago) in history {
        let ended = Timestamp(now.0 - days_ago * DAY_MS);
        let new = NewBuild {
            job: job.id,
            manually_triggered: true,
            created_by: None,
            now: Timestamp(ended.0 - 2_000),
        };
        let build = h.store.create_job_build(&new).await.unwrap();
        let plan = serde_json::json!({});
        let start = StartBuild {
            id: build.id,
            inputs: &[],
            pipes: &[],
            plan: &plan,
            now: Timestamp(ended.0 - 1_000),
        };
        h.store.start_build(&start).await.unwrap();
        let line = NewBuildEvent::Log {
            origin: "t".to_owned(),
            time: ended,
            output: format!("build {}\n", build.name).into_bytes(),
        };
        h.store
            .append_build_events(build.id, &[line])
            .await
            .unwrap();
        if *status != Started {
            h.store
                .finish_build(build.id, *status, ended)
                .await
                .unwrap();
        }
    }
    let reaper = h.reaper();
    let mut passes = Vec::new();
    for _ in 0..2 {
        reaper.tick().await.unwrap();
        let mut kept = Vec::new();
        for build in h.builds(&job).await {
            if !h
                .store
                .build_events(build.id, 0, 10)
                .await
                .unwrap()
                .is_empty()
            {
                kept.push(build.name);
            }
        }
        passes.push(kept);
    }
    assert_eq!(passes[0], passes[1], "a second pass reaps nothing more");
    passes.remove(0)
}
