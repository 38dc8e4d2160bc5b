//! `serial_groups`, `max_in_flight` and `serial`: the tracker starts a pending build only while
//! its job, or every job sharing a serial group with it, has a free slot; the next build starts
//! once a running one finishes.

use concorde_store::BuildStatus::{Pending, Started, Succeeded};

use concorde_web::components::Component;

use crate::harness::{GET_R, Harness, named};

component_test!(
    jobs_sharing_a_serial_group_run_one_build_at_a_time,
    max_in_flight_caps_the_builds_running_at_once,
    a_serial_job_runs_one_build_at_a_time,
);

async fn jobs_sharing_a_serial_group_run_one_build_at_a_time(h: &Harness) {
    let job = |name: &str, group: &str| {
        format!(
            "- name: {name}\n  serial_groups: [{group}]\n  plan:\n{GET_R}{}",
            h.gated_task(name)
        )
    };
    let yaml = format!(
        "resources:\n{}jobs:\n{}{}{}",
        h.resource("r"),
        job("a", "g"),
        job("b", "g"),
        job("c", "other")
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let (a, b, c) = (
        h.job(&pipeline, "a").await,
        h.job(&pipeline, "b").await,
        h.job(&pipeline, "c").await,
    );
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check_and_schedule().await;
    for job in [&a, &b, &c] {
        assert_eq!(
            h.statuses(job).await,
            named(&[("1", Pending)]),
            "{}",
            job.name
        );
    }

    // Jobs are tracked in id order: a takes group g's one slot, so b waits; c is alone in its
    // group and runs beside a. Ticking again changes nothing while a runs.
    let tracker = &node.tracker;
    for _ in 0..2 {
        tracker.tick().await.unwrap();
        assert_eq!(h.statuses(&a).await, named(&[("1", Started)]));
        assert_eq!(h.statuses(&b).await, named(&[("1", Pending)]));
        assert_eq!(h.statuses(&c).await, named(&[("1", Started)]));
    }

    h.open_gate("a");
    let a1 = h.build(&a, "1").await;
    let a1 = h.wait_for_status(a1.id, Succeeded).await;
    assert_eq!(h.statuses(&b).await, named(&[("1", Pending)]));
    tracker.tick().await.unwrap();
    let b1 = h.build(&b, "1").await;
    assert_eq!(b1.status, Started, "b starts once a has finished");
    assert!(
        b1.start_time >= a1.end_time,
        "{b1:?} started before {a1:?} ended"
    );

    h.open_gate("b");
    h.open_gate("c");
    h.wait_for_status(b1.id, Succeeded).await;
    let c1 = h.build(&c, "1").await;
    h.wait_for_status(c1.id, Succeeded).await;
}

async fn max_in_flight_caps_the_builds_running_at_once(h: &Harness) {
    at_most_running(h, "max_in_flight: 2", 2).await;
}

async fn a_serial_job_runs_one_build_at_a_time(h: &Harness) {
    at_most_running(h, "serial: true", 1).await;
}

/// Triggers `limit + 1` builds of a job configured with `setting` and checks that only the
/// first `limit` start, and the last only after they have all finished.
async fn at_most_running(h: &Harness, setting: &str, limit: usize) {
    let yaml = format!(
        "jobs:\n- name: j\n  {setting}\n  plan:\n{}",
        h.gated_task("j")
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let job = h.job(&pipeline, "j").await;
    let mut builds = Vec::new();
    for _ in 0..=limit {
        builds.push(h.trigger(&job).await);
    }
    let names: Vec<String> = (1..=limit + 1).map(|n| n.to_string()).collect();
    let mut expected: Vec<(&str, _)> = names.iter().map(|name| (name.as_str(), Started)).collect();
    expected[limit].1 = Pending;

    let tracker = h.tracker();
    for _ in 0..2 {
        tracker.tick().await.unwrap();
        assert_eq!(h.statuses(&job).await, named(&expected));
    }

    h.open_gate("j");
    let mut last_end = None;
    for build in &builds[..limit] {
        let finished = h.wait_for_status(build.id, Succeeded).await;
        last_end = last_end.max(finished.end_time);
    }
    let last = &builds[limit];
    assert_eq!(h.store.build(last.id).await.unwrap().status, Pending);
    tracker.tick().await.unwrap();
    assert_ne!(
        h.store.build(last.id).await.unwrap().status,
        Pending,
        "a slot is free"
    );
    let last = h.wait_for_status(last.id, Succeeded).await;
    assert!(last.start_time >= last_end, "{last:?} started too early");
}
