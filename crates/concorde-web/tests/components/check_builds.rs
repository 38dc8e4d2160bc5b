//! Check builds: each check, periodic or requested, is a build with events and a status; a
//! failed check's stderr shows in its log and on its resource; a requested check starts from
//! the version asked for and waits in the store for whichever checker runs next; a check
//! build whose node died errors; an abort stops a running check.

use concorde_store::{
    BuildId, BuildStatus, CheckTarget, EventPayload, NewCheckBuild, Resource, ResourceId, Timestamp,
};
use concorde_web::components::Component;

use crate::harness::{Harness, eventually};

component_test!(
    a_failed_check_is_a_build_that_shows_its_stderr,
    a_requested_check_waits_in_the_store_and_starts_from_its_version,
    a_check_build_whose_node_died_errors,
    an_aborted_check_stops,
    a_resource_type_check_saves_the_types_versions,
);

async fn only_resource(h: &Harness, yaml: &str) -> Resource {
    let pipeline = h.set_running_pipeline("p", yaml).await;
    h.store.list_resources(pipeline.id).await.unwrap().remove(0)
}

fn one_resource(h: &Harness) -> String {
    format!(
        "resources:\n{}jobs:\n- name: j\n  plan:\n  - get: r\n",
        h.resource("r")
    )
}

/// Event types of a build, in order.
async fn event_kinds(h: &Harness, build: BuildId) -> Vec<String> {
    h.store
        .build_events(build, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|event| match event.payload {
            EventPayload::Log { .. } => "log".to_owned(),
            EventPayload::Other { kind, .. } => kind,
        })
        .collect()
}

async fn last_check(h: &Harness, resource: ResourceId) -> concorde_store::Build {
    let id = h
        .store
        .resource(resource)
        .await
        .unwrap()
        .last_check_build_id
        .expect("a check build");
    h.store.build(id).await.unwrap()
}

async fn a_failed_check_is_a_build_that_shows_its_stderr(h: &Harness) {
    let r = only_resource(h, &one_resource(h)).await;
    let fail = h.versions_file("r").with_extension("fail");
    std::fs::write(&fail, "fatal: could not read from remote repository\n").unwrap();
    let node = h.node().await;
    node.check().await;
    let failed = last_check(h, r.id).await;
    assert_eq!(
        (failed.name.as_str(), failed.status, failed.resource_id),
        ("check", BuildStatus::Failed, Some(r.id))
    );
    assert_eq!(
        event_kinds(h, failed.id).await,
        [
            "status",
            "initialize-check",
            "selected-worker",
            "log",
            "finish",
            "status"
        ]
    );
    assert!(
        h.log(failed.id)
            .await
            .contains("could not read from remote")
    );
    let error = h.store.resource(r.id).await.unwrap().last_check_error;
    assert_eq!(
        error.as_deref(),
        Some("check failed with exit status 1\nfatal: could not read from remote repository")
    );

    std::fs::remove_file(&fail).unwrap();
    h.write_versions("r", &["1"]);
    let asked = h.request_check(r.id).await;
    node.check().await;
    let succeeded = h.store.build(asked.id).await.unwrap();
    assert_eq!(succeeded.status, BuildStatus::Succeeded);
    let checked = h.store.resource(r.id).await.unwrap();
    assert_eq!(
        (checked.last_check_build_id, checked.last_check_error),
        (Some(asked.id), None)
    );
    assert_eq!(
        h.store.build(failed.id).await.unwrap().status,
        BuildStatus::Failed,
        "a superseded check build is kept a while for whoever still reads it"
    );
}

async fn a_requested_check_waits_in_the_store_and_starts_from_its_version(h: &Harness) {
    let r = only_resource(h, &one_resource(h)).await;
    h.write_versions("r", &["1", "2"]);
    h.node().await.check().await;
    // Asked for while no checker runs: the request is a row, not a message to a live node.
    let from = [("v".to_owned(), "1".to_owned())].into_iter().collect();
    let asked = h
        .store
        .create_check_build(&NewCheckBuild {
            target: CheckTarget::Resource(r.id),
            from: Some(&from),
            manually_triggered: true,
            created_by: Some("alice"),
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    assert_eq!(asked.status, BuildStatus::Pending);
    let fresh_node = h.node().await;
    fresh_node.check().await;
    assert_eq!(
        h.store.build(asked.id).await.unwrap().status,
        BuildStatus::Succeeded
    );
    let request = std::fs::read_to_string(h.versions_file("r").with_extension("request")).unwrap();
    assert!(
        request.contains(r#""version":{"v":"1"}"#),
        "the check starts from the version asked for: {request}"
    );
}

async fn a_check_build_whose_node_died_errors(h: &Harness) {
    let r = only_resource(h, &one_resource(h)).await;
    let asked = h.request_check(r.id).await;
    // A node started it and died: started, and no node holds its tracking lock.
    assert!(
        h.store
            .start_check_build(asked.id, Timestamp::now())
            .await
            .unwrap()
    );
    h.node().await.check().await;
    let orphan = h.store.build(asked.id).await.unwrap();
    assert_eq!(orphan.status, BuildStatus::Errored);
    assert_eq!(event_kinds(h, asked.id).await, ["error"]);
    let error = h.store.resource(r.id).await.unwrap().last_check_error;
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("cannot be resumed")),
        "{error:?}"
    );
}

async fn an_aborted_check_stops(h: &Harness) {
    let r = only_resource(h, &one_resource(h)).await;
    // The check blocks opening a FIFO nobody writes.
    let fifo = h.versions_file("r");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let node = h.node().await;
    let asked = h.request_check(r.id).await;
    node.checker.tick().await.unwrap();
    h.wait_for_status(asked.id, BuildStatus::Started).await;
    h.store
        .abort_build(asked.id, Timestamp::now())
        .await
        .unwrap();
    eventually("the aborted check to end", || async {
        h.store.build(asked.id).await.unwrap().status == BuildStatus::Aborted
    })
    .await;
    assert_eq!(
        event_kinds(h, asked.id).await.last().map(String::as_str),
        Some("status")
    );
}

async fn a_resource_type_check_saves_the_types_versions(h: &Harness) {
    let yaml = format!(
        "resource_types:\n- name: mytype\n  type: vtype\n  source: {{file: '{}'}}\n{}",
        h.versions_file("mytype").display(),
        one_resource(h)
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let kind = h
        .store
        .list_resource_types(pipeline.id)
        .await
        .unwrap()
        .remove(0);
    h.write_versions("mytype", &["a", "b"]);
    let asked = h
        .store
        .create_check_build(&NewCheckBuild {
            target: CheckTarget::ResourceType(kind.id),
            from: None,
            manually_triggered: true,
            created_by: None,
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    h.node().await.check().await;
    assert_eq!(
        h.store.build(asked.id).await.unwrap().status,
        BuildStatus::Succeeded
    );
    let scope = h
        .store
        .resource_type(kind.id)
        .await
        .unwrap()
        .scope_id
        .expect("a checked type has a scope");
    let versions: Vec<String> = h
        .store
        .list_versions(scope, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|saved| saved.version["v"].clone())
        .collect();
    assert_eq!(versions, ["b", "a"], "newest first");
}
