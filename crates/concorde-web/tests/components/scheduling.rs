//! The scheduler and the tracker together: a job has at most one pending scheduled build however
//! many versions arrive while it waits, that build takes the newest inputs when it starts, and a
//! started build keeps the inputs it started with; a build whose plan cannot be compiled ends
//! errored with the reason in its events.

use concorde_store::BuildStatus::{Pending, Started, Succeeded};
use concorde_web::components::Component;

use crate::harness::{GET_R, Harness, SHOW_R, named, version};

component_test!(
    new_versions_leave_at_most_one_pending_build,
    a_build_keeps_the_inputs_it_started_with,
    a_build_whose_plan_cannot_compile_says_why,
    a_schedule_request_survives_a_busy_job_lock,
);

async fn new_versions_leave_at_most_one_pending_build(h: &Harness) {
    let plan = format!("{GET_R}{}", h.gated_task("j"));
    let job = h
        .running_job(&h.pipeline_with_r("  serial: true\n", &plan))
        .await;
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check_and_schedule().await;
    assert_eq!(h.statuses(&job).await, named(&[("1", Pending)]));
    node.tracker.tick().await.unwrap();
    assert_eq!(h.statuses(&job).await, named(&[("1", Started)]));

    // Build 1 holds the job's only slot. Version 2 makes a pending build 2; versions 3 and 4
    // find it already pending and add nothing.
    for versions in [&["1", "2"][..], &["1", "2", "3"], &["1", "2", "3", "4"]] {
        h.write_versions("r", versions);
        node.check_and_schedule().await;
        node.tracker.tick().await.unwrap();
        assert_eq!(
            h.statuses(&job).await,
            named(&[("1", Started), ("2", Pending)]),
            "after versions {versions:?}"
        );
    }

    h.open_gate("j");
    let first = h.build(&job, "1").await;
    h.wait_for_status(first.id, Succeeded).await;
    node.tracker.tick().await.unwrap();
    let second = h.build(&job, "2").await;
    h.wait_for_status(second.id, Succeeded).await;
    assert_eq!(h.inputs(first.id).await, [("r".to_owned(), version("1"))]);
    assert_eq!(
        h.inputs(second.id).await,
        [("r".to_owned(), version("4"))],
        "the pending build took the newest version when it started"
    );

    // Versions 2 and 3 were never built, and never will be: the newest has been.
    h.store
        .request_job_schedule(job.id, concorde_web::now())
        .await
        .unwrap();
    node.scheduler.tick().await.unwrap();
    node.tracker.tick().await.unwrap();
    assert_eq!(
        h.statuses(&job).await,
        named(&[("1", Succeeded), ("2", Succeeded)])
    );
}

async fn a_build_keeps_the_inputs_it_started_with(h: &Harness) {
    // The gate comes before the get, so build 1 fetches its input after version 2 exists.
    let plan = format!("{}{GET_R}{SHOW_R}", h.gated_task("j"));
    let job = h.running_job(&h.pipeline_with_r("", &plan)).await;
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check_and_schedule().await;
    node.tracker.tick().await.unwrap();
    let first = h.build(&job, "1").await;
    assert_eq!(first.status, Started);
    assert_eq!(h.inputs(first.id).await, [("r".to_owned(), version("1"))]);

    h.write_versions("r", &["1", "2"]);
    node.check_and_schedule().await;
    node.tracker.tick().await.unwrap();
    assert_eq!(
        h.statuses(&job).await,
        named(&[("1", Started), ("2", Started)])
    );
    let second = h.build(&job, "2").await;
    assert_eq!(h.inputs(second.id).await, [("r".to_owned(), version("2"))]);
    assert_eq!(
        h.inputs(first.id).await,
        [("r".to_owned(), version("1"))],
        "a newer version does not change a started build's inputs"
    );

    h.open_gate("j");
    h.wait_for_status(first.id, Succeeded).await;
    h.wait_for_status(second.id, Succeeded).await;
    let first_log = h.log(first.id).await;
    assert!(
        first_log.contains(&format!("fetched {}", version("1"))),
        "{first_log}"
    );
    assert!(!first_log.contains(&version("2")), "{first_log}");
    let second_log = h.log(second.id).await;
    assert!(
        second_log.contains(&format!("fetched {}", version("2"))),
        "{second_log}"
    );
    assert_eq!(h.inputs(first.id).await, [("r".to_owned(), version("1"))]);
}

async fn a_build_whose_plan_cannot_compile_says_why(h: &Harness) {
    // The experimental `run` step validates but the engine does not run it.
    let yaml = "prototypes:\n- name: proto\n  type: registry-image\n  source: {repository: x}\njobs:\n- name: j\n  plan:\n  - run: hello\n    type: proto\n";
    let job = h.running_job(yaml).await;
    let build = h.trigger(&job).await;
    let node = h.node().await;
    node.tracker.tick().await.unwrap();
    let ended = h.store.build(build.id).await.unwrap();
    assert_eq!(ended.status, concorde_store::BuildStatus::Errored);
    let events: Vec<(String, String)> = h
        .store
        .build_events(build.id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.payload {
            concorde_store::EventPayload::Other { kind, data, .. } => Some((kind, data)),
            concorde_store::EventPayload::Log { .. } => None,
        })
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "error");
    assert!(
        events[0]
            .1
            .contains("run step (prototype 'proto') is not supported"),
        "{events:?}"
    );
    assert_eq!(events[1].0, "status");
    assert!(events[1].1.contains("errored"), "{events:?}");
}

async fn a_schedule_request_survives_a_busy_job_lock(h: &Harness) {
    // A non-trigger input: the next inputs change, no build is created.
    let job = h.running_job(&h.pipeline_with_r("", "  - get: r\n")).await;
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check_and_schedule().await;
    // The tracker holds the job (starting a build) while version 2 asks for scheduling.
    let held = h
        .store
        .try_lock(concorde_store::LockKey::JobScheduling(job.id))
        .await
        .unwrap()
        .expect("the job's lock is free");
    h.write_versions("r", &["1", "2"]);
    node.check().await;
    node.scheduler.tick().await.unwrap();
    held.release().await.unwrap();
    node.scheduler.tick().await.unwrap();
    let next = h.store.next_build_inputs(job.id).await.unwrap();
    let two: concorde_config::model::VersionMap =
        [("v".to_owned(), "2".to_owned())].into_iter().collect();
    let (_, digest) = concorde_store::version_digest(&two).unwrap();
    assert_eq!(
        next.iter()
            .map(|input| input.version_digest.clone())
            .collect::<Vec<_>>(),
        [Some(digest)],
        "the request the busy lock turned away was asked again"
    );
}
