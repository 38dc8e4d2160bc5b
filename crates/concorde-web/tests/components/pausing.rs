//! Pausing: a paused job keeps a manually triggered build pending until it is unpaused, and a
//! paused pipeline is not checked periodically but is checked when its resource's webhook
//! asks; the versions found build nothing until the pipeline is unpaused. This is Concourse's
//! behaviour: the webhook handler creates a check without looking at the pause
//! (`atc/db/check_factory.go TryCreateCheck`); only the periodic scanner skips paused pipelines.

use concorde_store::BuildStatus::{Pending, Succeeded};
use concorde_store::ResourceId;
use concorde_web::components::Component;

use crate::harness::{GET_R, Harness, SHOW_R, eventually, named, version};

component_test!(
    a_paused_job_keeps_a_manual_build_pending_until_unpaused,
    a_paused_pipeline_checks_on_webhook_and_builds_after_unpause,
);

async fn a_paused_job_keeps_a_manual_build_pending_until_unpaused(h: &Harness) {
    let job = h
        .running_job(&h.pipeline_with_r("", &format!("{GET_R}{SHOW_R}")))
        .await;
    h.store
        .set_job_paused(job.id, true, concorde_web::now())
        .await
        .unwrap();
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check_and_schedule().await;
    assert_eq!(
        h.statuses(&job).await,
        named(&[]),
        "a new version does not trigger a paused job"
    );

    let build = h.trigger(&job).await;
    for _ in 0..2 {
        node.scheduler.tick().await.unwrap();
        node.tracker.tick().await.unwrap();
        assert_eq!(h.statuses(&job).await, named(&[("1", Pending)]));
    }

    h.store
        .set_job_paused(job.id, false, concorde_web::now())
        .await
        .unwrap();
    node.tracker.tick().await.unwrap();
    h.wait_for_status(build.id, Succeeded).await;
    assert_eq!(h.inputs(build.id).await, [("r".to_owned(), version("1"))]);
    node.scheduler.tick().await.unwrap();
    assert_eq!(
        h.statuses(&job).await,
        named(&[("1", Succeeded)]),
        "the version the manual build used triggers nothing more"
    );
}

async fn a_paused_pipeline_checks_on_webhook_and_builds_after_unpause(h: &Harness) {
    let yaml = h.pipeline_with_r("", &format!("{GET_R}{SHOW_R}"));
    let pipeline = h.set_pipeline("p", &yaml).await;
    let job = h.job(&pipeline, "j").await;
    let resource = h.store.list_resources(pipeline.id).await.unwrap().remove(0);
    let node = h.node().await;
    h.write_versions("r", &["1"]);
    node.check().await;
    let unchecked = h.store.resource(resource.id).await.unwrap();
    assert_eq!(
        (unchecked.last_check_start, unchecked.scope_id),
        (None, None),
        "a paused pipeline's resources are not checked periodically"
    );

    // What `POST .../resources/r/check/webhook` does once the token matches (the token is the
    // API's business; `concorde-api` tests it).
    h.request_check(resource.id).await;
    let node = &node;
    eventually("the webhook's check", move || async move {
        node.check().await;
        !versions_of(h, resource.id).await.is_empty()
    })
    .await;
    assert_eq!(versions_of(h, resource.id).await, [version("1")]);

    for _ in 0..2 {
        node.scheduler.tick().await.unwrap();
        node.tracker.tick().await.unwrap();
        assert_eq!(h.statuses(&job).await, named(&[]), "the pipeline is paused");
    }

    h.unpause_pipeline(&pipeline).await;
    node.scheduler.tick().await.unwrap();
    assert_eq!(h.statuses(&job).await, named(&[("1", Pending)]));
    node.tracker.tick().await.unwrap();
    let build = h.build(&job, "1").await;
    h.wait_for_status(build.id, Succeeded).await;
    assert_eq!(h.inputs(build.id).await, [("r".to_owned(), version("1"))]);
}

/// The versions checked for `resource`, newest first.
async fn versions_of(h: &Harness, resource: ResourceId) -> Vec<String> {
    let Some(scope) = h.store.resource(resource).await.unwrap().scope_id else {
        return Vec::new();
    };
    let versions = h.store.list_versions(scope, None, 10).await.unwrap();
    versions
        .into_iter()
        .map(|found| serde_json::to_string(&found.version).expect("a version encodes"))
        .collect()
}
