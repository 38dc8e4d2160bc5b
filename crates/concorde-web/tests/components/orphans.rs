//! Orphaned builds: a build left `started` by a node that died (so no node holds its tracking
//! lock) cannot be resumed; the next tracker to look errors it, with an event saying why, and
//! its slot frees for the job's next build. A build another live node runs is left alone.

use concorde_store::BuildStatus::{Errored, Pending, Started, Succeeded};
use concorde_store::{EventPayload, StartBuild};
use concorde_web::components::Component;

use crate::harness::{Harness, named};

component_test!(
    a_build_whose_node_died_errors_and_frees_its_slot,
    an_orphan_of_an_archived_pipeline_is_errored_too
);

async fn an_orphan_of_an_archived_pipeline_is_errored_too(h: &Harness) {
    let yaml = "jobs:\n- name: j\n  plan:\n  - task: quick\n    config: {platform: linux, run: {path: 'true'}}\n";
    let pipeline = h.set_running_pipeline("p", yaml).await;
    let job = h.job(&pipeline, "j").await;
    let orphan = started_by_a_dead_node(h, &job).await;
    let waiting = h.trigger(&job).await;
    // The node died, then someone archived the pipeline.
    h.store
        .archive_pipeline(pipeline.id, concorde_web::now())
        .await
        .unwrap();
    h.tracker().tick().await.unwrap();
    assert_eq!(h.store.build(orphan.id).await.unwrap().status, Errored);
    assert_eq!(
        h.store.build(waiting.id).await.unwrap().status,
        Pending,
        "an archived pipeline starts nothing"
    );
}

async fn a_build_whose_node_died_errors_and_frees_its_slot(h: &Harness) {
    let yaml = format!(
        "jobs:\n- name: orphaned\n  serial: true\n  plan:\n  - task: quick\n    config: {{platform: linux, run: {{path: 'true'}}}}\n- name: alive\n  plan:\n{}",
        h.gated_task("alive")
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let (orphaned, alive) = (
        h.job(&pipeline, "orphaned").await,
        h.job(&pipeline, "alive").await,
    );

    // Node A runs alive's build and keeps running it.
    let node_a = h.tracker();
    let running = h.trigger(&alive).await;
    node_a.tick().await.unwrap();
    assert_eq!(h.statuses(&alive).await, named(&[("1", Started)]));

    // A node started orphaned's build 1 and died: the build is started, but the node's lock
    // session (and with it the build's tracking lock) is gone.
    let orphan = started_by_a_dead_node(h, &orphaned).await;
    let next = h.trigger(&orphaned).await;
    assert_eq!(
        h.statuses(&orphaned).await,
        named(&[("1", Started), ("2", Pending)])
    );

    // Node B's tracker errors the orphan and, in the same tick, starts build 2 in its slot.
    let node_b_store = h.second_node().await;
    let node_b = h.tracker_on(&node_b_store);
    node_b.tick().await.unwrap();
    assert_eq!(h.store.build(orphan.id).await.unwrap().status, Errored);
    assert_ne!(h.store.build(next.id).await.unwrap().status, Pending);
    let events = h.store.build_events(orphan.id, 0, 100).await.unwrap();
    let messages: Vec<String> = events
        .into_iter()
        .filter_map(|event| match event.payload {
            EventPayload::Other { kind, data, .. } if kind == "error" => {
                let data: serde_json::Value = serde_json::from_str(&data).unwrap();
                data["message"].as_str().map(str::to_owned)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        ["the web node running this build stopped; the build cannot be resumed"]
    );
    assert_eq!(
        h.store.build(running.id).await.unwrap().status,
        Started,
        "node A still holds its build's lock"
    );

    h.wait_for_status(next.id, Succeeded).await;
    h.open_gate("alive");
    h.wait_for_status(running.id, Succeeded).await;
    assert_eq!(
        h.statuses(&orphaned).await,
        named(&[("1", Errored), ("2", Succeeded)])
    );
    assert_eq!(h.statuses(&alive).await, named(&[("1", Succeeded)]));
}

/// A manual build of `job` marked started as a node would, by a node that then died (no node
/// holds its tracking lock).
async fn started_by_a_dead_node(h: &Harness, job: &concorde_store::Job) -> concorde_store::Build {
    let build = h.trigger(job).await;
    h.store
        .start_build(&StartBuild {
            id: build.id,
            inputs: &[],
            pipes: &[],
            plan: &serde_json::json!({}),
            now: concorde_web::now(),
        })
        .await
        .unwrap();
    build
}
