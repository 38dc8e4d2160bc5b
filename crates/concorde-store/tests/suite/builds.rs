//! Builds, build events, next build inputs, locks, notifications, concurrency, and the SQL
//! versions view.

use std::collections::HashSet;

use concorde_sched::{InputConfig, JobId as SchedJob, ResourceId as SchedResource};
use concorde_store::testing::{NOTIFY_TIMEOUT, TestStore, next_notification};
use concorde_store::{
    BuildStatus, EventPayload, LockKey, LogRetention, NewBuild, NewBuildEvent, NewVersion,
    NextBuildInput, RecordedVersion, StoreError, Timestamp, Topic, version_digest,
};

use crate::fixtures::simple_pipeline;

store_test!(
    build_lifecycle_and_reruns,
    inputs_outputs_pipes,
    build_events_roundtrip_and_retention,
    a_huge_log_is_read_a_page_at_a_time,
    next_build_inputs_roundtrip,
    concurrent_writers_get_distinct_build_names,
    two_nodes_never_hold_one_lock,
    killed_transaction_leaves_nothing,
    notifications_reach_other_nodes,
    many_listeners_share_one_connection,
    versions_view_resolves_passed_inputs
);

fn new_build(job: concorde_store::JobId) -> NewBuild {
    NewBuild {
        job,
        manually_triggered: false,
        created_by: None,
        now: Timestamp(10),
    }
}

async fn build_lifecycle_and_reruns(db: &TestStore) {
    let store = &db.store;
    let (team, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let b1 = store.create_job_build(&new_build(unit.id)).await.unwrap();
    let b2 = store.create_job_build(&new_build(unit.id)).await.unwrap();
    assert_eq!(
        (b1.name.as_str(), b2.name.as_str(), b1.status),
        ("1", "2", BuildStatus::Pending)
    );
    assert_eq!(store.job(unit.id).await.unwrap().next_build_id, Some(b1.id));
    assert_eq!(store.pending_builds(unit.id).await.unwrap().len(), 2);
    store.start_build(&start(b1.id, &[], &[])).await.unwrap();
    assert!(matches!(
        store.start_build(&start(b1.id, &[], &[])).await,
        Err(StoreError::InvalidTransition { .. })
    ));
    store
        .finish_build(b1.id, BuildStatus::Succeeded, Timestamp(12))
        .await
        .unwrap();
    assert!(matches!(
        store
            .finish_build(b1.id, BuildStatus::Failed, Timestamp(13))
            .await,
        Err(StoreError::InvalidTransition { .. })
    ));
    assert!(matches!(
        store
            .finish_build(b2.id, BuildStatus::Started, Timestamp(13))
            .await,
        Err(StoreError::InvalidTransition { .. })
    ));
    let job = store.job(unit.id).await.unwrap();
    assert_eq!(
        (job.latest_completed_build_id, job.next_build_id),
        (Some(b1.id), Some(b2.id))
    );
    store.abort_build(b2.id, Timestamp(14)).await.unwrap();
    let aborted = store.build(b2.id).await.unwrap();
    assert_eq!(
        (aborted.status, aborted.aborted),
        (BuildStatus::Aborted, true)
    );
    let r1 = store
        .create_rerun(b1.id, Some("ann"), Timestamp(15))
        .await
        .unwrap();
    let r2 = store
        .create_rerun(r1.id, None, Timestamp(16))
        .await
        .unwrap();
    assert_eq!(
        (
            r1.name.as_str(),
            r2.name.as_str(),
            r2.rerun_of,
            r2.rerun_number
        ),
        ("1.1", "1.2", Some(b1.id), 2)
    );
    let b3 = store.create_job_build(&new_build(unit.id)).await.unwrap();
    assert_eq!(b3.name, "3", "reruns do not consume the counter");
    let names: Vec<_> = store
        .list_job_builds(unit.id, None, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["3", "1.2"]);
    let one_off = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(17)))
        .await
        .unwrap();
    let second = store
        .create_one_off_build(&crate::fixtures::one_off(team.id, Timestamp(17)))
        .await
        .unwrap();
    assert_eq!(
        (one_off.name.as_str(), second.name.as_str(), one_off.status),
        ("1", "2", BuildStatus::Started)
    );
    assert!(matches!(
        store.create_rerun(one_off.id, None, Timestamp(1)).await,
        Err(StoreError::InvalidTransition { .. })
    ));
    let missing = concorde_store::BuildId(9999);
    assert!(matches!(
        store.build(missing).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.create_rerun(missing, None, Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.abort_build(missing, Timestamp(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .create_job_build(&new_build(concorde_store::JobId(999)))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .create_one_off_build(&crate::fixtures::one_off(
                concorde_store::TeamId(999),
                Timestamp(1)
            ))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn inputs_outputs_pipes(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let b1 = store.create_job_build(&new_build(unit.id)).await.unwrap();
    let b2 = store.create_job_build(&new_build(unit.id)).await.unwrap();
    let input = RecordedVersion {
        name: "repo".into(),
        resource_id: repo.id,
        version_digest: "d1".into(),
    };
    store
        .start_build(&start(b1.id, std::slice::from_ref(&input), &[]))
        .await
        .unwrap();
    store
        .save_build_outputs(
            b1.id,
            &[RecordedVersion {
                name: "out".into(),
                ..input.clone()
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        store.build_versions(b1.id, false).await.unwrap(),
        std::slice::from_ref(&input)
    );
    assert_eq!(
        store.build_versions(b1.id, true).await.unwrap()[0].name,
        "out"
    );
    let bad = RecordedVersion {
        resource_id: concorde_store::ResourceId(999),
        ..input.clone()
    };
    // A failed start writes nothing: b2 is still pending, with no inputs and no pipes.
    for (inputs, pipes, kind) in [
        (vec![input.clone(), bad], vec![b1.id], "resource"),
        (
            vec![input.clone()],
            vec![concorde_store::BuildId(999)],
            "build",
        ),
    ] {
        let err = store
            .start_build(&start(b2.id, &inputs, &pipes))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound { kind: k, .. } if *k == kind),
            "{err}"
        );
        assert_eq!(
            store.build(b2.id).await.unwrap().status,
            BuildStatus::Pending
        );
        assert!(store.build_versions(b2.id, false).await.unwrap().is_empty());
        assert!(store.build_pipes(b2.id).await.unwrap().is_empty());
    }
    store
        .start_build(&start(b2.id, std::slice::from_ref(&input), &[b1.id]))
        .await
        .unwrap();
    assert_eq!(store.build_pipes(b2.id).await.unwrap(), [b1.id]);
    assert_eq!(
        store.build(b2.id).await.unwrap().status,
        BuildStatus::Started
    );
    assert!(matches!(
        store
            .start_build(&start(concorde_store::BuildId(999), &[], &[]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A plan with no steps.
static EMPTY_PLAN: std::sync::LazyLock<serde_json::Value> =
    std::sync::LazyLock::new(|| serde_json::json!({"do": []}));

/// Starting `id` with these inputs and pipes and an empty plan.
fn start<'a>(
    id: concorde_store::BuildId,
    inputs: &'a [RecordedVersion],
    pipes: &'a [concorde_store::BuildId],
) -> concorde_store::StartBuild<'a> {
    concorde_store::StartBuild {
        id,
        inputs,
        pipes,
        plan: &EMPTY_PLAN,
        now: Timestamp(11),
    }
}

fn log(line: &str) -> NewBuildEvent {
    NewBuildEvent::Log {
        origin: "p1".into(),
        time: Timestamp(5),
        output: line.as_bytes().to_vec(),
    }
}

async fn a_huge_log_is_read_a_page_at_a_time(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let build = store.create_job_build(&new_build(unit.id)).await.unwrap();
    // Ten 300 KiB lines in two stored chunks: pages end once past PAGE_BYTES (1 MiB).
    let line = |n: usize| format!("{n}{}", "x".repeat(300 * 1024));
    let lines: Vec<NewBuildEvent> = (0..10).map(|n| log(&line(n))).collect();
    store
        .append_build_events(build.id, &lines[..6])
        .await
        .unwrap();
    store
        .append_build_events(build.id, &lines[6..])
        .await
        .unwrap();
    let mut pages = Vec::new();
    let mut next = 0;
    loop {
        let page = store.build_events(build.id, next, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        next = last.event_id + 1;
        pages.push(page);
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [4, 4, 2],
        "a page stops after the event that passes 1 MiB"
    );
    let read: Vec<String> = pages
        .into_iter()
        .flatten()
        .map(|event| match event.payload {
            EventPayload::Log { output, .. } => output,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        read,
        (0..10).map(line).collect::<Vec<_>>(),
        "every line, in order"
    );
}

async fn build_events_roundtrip_and_retention(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let build = store.create_job_build(&new_build(unit.id)).await.unwrap();
    assert_eq!(
        store
            .append_build_events(build.id, &[log("a\n"), log("b\n")])
            .await
            .unwrap(),
        0
    );
    let status = NewBuildEvent::Other {
        kind: concorde_store::EventKind::Status,
        data: serde_json::json!({"status": "started"}),
    };
    assert_eq!(
        store
            .append_build_events(build.id, &[status])
            .await
            .unwrap(),
        2
    );
    let events = store.build_events(build.id, 1, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        events[0].payload,
        EventPayload::Log {
            origin: "p1".into(),
            time: Timestamp(5),
            output: "b\n".into()
        }
    );
    assert!(matches!(events[1].payload, EventPayload::Other { ref kind, .. } if kind == "status"));
    assert_eq!(store.build_events(build.id, 0, 1).await.unwrap().len(), 1);
    let bad = NewBuildEvent::Log {
        origin: "p1".into(),
        time: Timestamp(5),
        output: vec![b'o', b'k', 0xff, 0xfe],
    };
    let err = store
        .append_build_events(build.id, &[log("fine"), bad])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidUtf8 {
                index: 1,
                valid_up_to: 2
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.build_events(build.id, 0, 100).await.unwrap().len(),
        3,
        "nothing of the bad batch was written"
    );
    assert!(matches!(
        store
            .append_build_events(concorde_store::BuildId(999), &[log("x")])
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // Retention: keep 2 builds, at least 1 succeeded.
    let mut ids = vec![build.id];
    store
        .finish_build(build.id, BuildStatus::Succeeded, Timestamp(20))
        .await
        .unwrap();
    for _ in 0..3 {
        let b = store.create_job_build(&new_build(unit.id)).await.unwrap();
        store.append_build_events(b.id, &[log("x")]).await.unwrap();
        store
            .finish_build(b.id, BuildStatus::Failed, Timestamp(21))
            .await
            .unwrap();
        ids.push(b.id);
    }
    let retention = LogRetention {
        builds: 2,
        minimum_succeeded: 1,
        days: 0,
    };
    let reaped = store
        .reap_build_events(unit.id, retention, Timestamp(30))
        .await
        .unwrap();
    assert_eq!(
        reaped,
        [ids[2], ids[1]],
        "two builds survive: the newest and the only success"
    );
    assert!(store.build_events(ids[1], 0, 10).await.unwrap().is_empty());
    assert!(store.build_events(ids[2], 0, 10).await.unwrap().is_empty());
    assert_eq!(store.build_events(ids[3], 0, 10).await.unwrap().len(), 1);
    assert_eq!(store.build_events(ids[0], 0, 10).await.unwrap().len(), 3);
    assert!(
        store
            .reap_build_events(unit.id, retention, Timestamp(31))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn next_build_inputs_roundtrip(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let inputs = vec![
        NextBuildInput {
            input_name: "a".into(),
            resource_id: Some(repo.id),
            version_digest: Some("d".into()),
            first_occurrence: true,
            passed_build_ids: vec![concorde_store::BuildId(3)],
            resolve_error: None,
        },
        NextBuildInput {
            input_name: "b".into(),
            resource_id: None,
            version_digest: None,
            first_occurrence: false,
            passed_build_ids: vec![],
            resolve_error: Some("no satisfiable builds".into()),
        },
    ];
    store
        .save_next_build_inputs(unit.id, &inputs)
        .await
        .unwrap();
    store
        .save_next_build_inputs(unit.id, &inputs)
        .await
        .unwrap();
    assert_eq!(store.next_build_inputs(unit.id).await.unwrap(), inputs);
    assert!(matches!(
        store
            .save_next_build_inputs(concorde_store::JobId(999), &inputs)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn concurrent_writers_get_distinct_build_names(db: &TestStore) {
    let (_, p) = simple_pipeline(&db.store).await;
    let unit = db.store.job_by_name(p.id, "unit").await.unwrap();
    let other = db.second_node().await;
    let mut tasks = Vec::new();
    for store in [db.store.clone(), other.clone()] {
        tasks.push(tokio::spawn(async move {
            let mut names = Vec::new();
            for _ in 0..15 {
                names.push(
                    store
                        .create_job_build(&new_build(unit.id))
                        .await
                        .unwrap()
                        .name,
                );
            }
            names
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for name in task.await.unwrap() {
            assert!(all.insert(name.clone()), "duplicate build name {name}");
        }
    }
    assert_eq!(all.len(), 30);
    other.close().await;
}

async fn two_nodes_never_hold_one_lock(db: &TestStore) {
    let other = db.second_node().await;
    let key = LockKey::JobScheduling(concorde_store::JobId(7));
    let held = db
        .store
        .try_lock(key.clone())
        .await
        .unwrap()
        .expect("first acquire");
    assert!(
        other.try_lock(key.clone()).await.unwrap().is_none(),
        "other node got a held lock"
    );
    assert!(
        db.store.try_lock(key.clone()).await.unwrap().is_none(),
        "same node re-acquired"
    );
    assert!(
        other
            .try_lock(LockKey::BuildTracking(concorde_store::BuildId(7)))
            .await
            .unwrap()
            .is_some()
    );
    held.release().await.unwrap();
    let theirs = other
        .try_lock(key.clone())
        .await
        .unwrap()
        .expect("free after release");
    drop(theirs);
    // A dropped guard releases in the background.
    let mut acquired = None;
    for _ in 0..50 {
        acquired = db.store.try_lock(key.clone()).await.unwrap();
        if acquired.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(acquired.is_some());
    // Many contenders: exactly one wins.
    let contenders = (0..8).map(|n| {
        let store = if n % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            store
                .try_lock(LockKey::ComponentTick("gc".into()))
                .await
                .unwrap()
        })
    });
    let mut winners = Vec::new();
    for task in contenders {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(winners.len(), 1);
    other.close().await;
}

async fn killed_transaction_leaves_nothing(db: &TestStore) {
    let store = db.store.clone();
    let team = crate::fixtures::team(&store, "main").await;
    let jobs: String = (0..400)
        .map(|n| format!("- name: j{n}\n  plan:\n  - get: repo\n"))
        .collect();
    let big = crate::fixtures::config(&format!(
        "resources:\n- name: repo\n  type: git\n  source: {{uri: x}}\njobs:\n{jobs}"
    ));
    let setter = team.clone();
    let task =
        tokio::spawn(
            async move { crate::fixtures::set_by_user(&store, &setter, "big", &big, 0).await },
        );
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    task.abort();
    let _ = task.await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    match db.store.list_pipelines(team.id).await.unwrap().first() {
        None => {}
        Some(p) => assert_eq!(
            db.store.list_jobs(p.id).await.unwrap().len(),
            400,
            "half-written pipeline"
        ),
    }
}

async fn notifications_reach_other_nodes(db: &TestStore) {
    let other = db.second_node().await;
    let mut listener = other
        .listen(&[
            Topic::JobScheduling,
            Topic::BuildEvents(concorde_store::BuildId(1)),
        ])
        .await
        .unwrap();
    db.store
        .notify(Topic::BuildAbort(concorde_store::BuildId(1)), "ignored")
        .await
        .unwrap();
    db.store.notify(Topic::JobScheduling, "42").await.unwrap();
    let note = next_notification(&mut listener).await;
    assert_eq!(
        (note.topic, note.payload.as_str()),
        (Topic::JobScheduling, "42")
    );
    db.store
        .notify(Topic::BuildEvents(concorde_store::BuildId(1)), "7")
        .await
        .unwrap();
    let note = next_notification(&mut listener).await;
    assert_eq!(note.topic, Topic::BuildEvents(concorde_store::BuildId(1)));
    drop(listener);
    other.close().await;
}

/// A listener costs no database connection: far more listeners than the pool has connections
/// each hear their notification, and queries still run meanwhile.
async fn many_listeners_share_one_connection(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let mut listeners = Vec::new();
    for build in 0..100 {
        let topic = Topic::BuildEvents(concorde_store::BuildId(build));
        let listener = tokio::time::timeout(NOTIFY_TIMEOUT, store.listen(&[topic]))
            .await
            .expect("listening does not wait for a pooled connection")
            .unwrap();
        listeners.push(listener);
    }
    assert_eq!(store.list_jobs(p.id).await.unwrap().len(), 2);
    for build in 0..100 {
        store
            .notify(Topic::BuildEvents(concorde_store::BuildId(build)), "1")
            .await
            .unwrap();
    }
    for (build, listener) in (0..).zip(listeners.iter_mut()) {
        let note = next_notification(listener).await;
        assert_eq!(
            (note.topic, note.payload.as_str()),
            (Topic::BuildEvents(concorde_store::BuildId(build)), "1")
        );
    }
}

async fn versions_view_resolves_passed_inputs(db: &TestStore) {
    let store = &db.store;
    let (_, p) = simple_pipeline(store).await;
    let unit = store.job_by_name(p.id, "unit").await.unwrap();
    let deploy = store.job_by_name(p.id, "deploy").await.unwrap();
    let repo = store.list_resources(p.id).await.unwrap().remove(0);
    let config = store
        .find_or_create_resource_config("git", "git", &crate::fixtures::source("h"), Timestamp(1))
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config, Some(repo.id))
        .await
        .unwrap();
    store
        .set_resource_scope(repo.id, config, scope, Timestamp(1))
        .await
        .unwrap();
    let versions: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|r| NewVersion {
            version: crate::fixtures::version(&format!(r#"{{"ref":"{r}"}}"#)),
            metadata: serde_json::Value::Null,
        })
        .collect();
    store
        .save_check_versions(scope, &versions, Timestamp(2))
        .await
        .unwrap();
    let digest = |r: &str| {
        version_digest(&crate::fixtures::version(&format!(r#"{{"ref":"{r}"}}"#)))
            .unwrap()
            .1
    };
    // unit succeeded with b; so deploy (passed: unit) must get b while unit itself gets c.
    let build = store.create_job_build(&new_build(unit.id)).await.unwrap();
    let input = RecordedVersion {
        name: "repo".into(),
        resource_id: repo.id,
        version_digest: digest("b"),
    };
    store
        .start_build(&start(build.id, std::slice::from_ref(&input), &[]))
        .await
        .unwrap();
    store
        .finish_build(build.id, BuildStatus::Succeeded, Timestamp(4))
        .await
        .unwrap();
    let resource = SchedResource(repo.id.0);
    let latest = store
        .resolve_inputs(
            SchedJob(unit.id.0),
            vec![InputConfig::latest("repo", resource)],
        )
        .await
        .unwrap();
    assert_eq!(
        latest.inputs[0].as_ref().unwrap().digest.as_str(),
        digest("c")
    );
    let passed = InputConfig::latest("repo", resource).with_passed([SchedJob(unit.id.0)]);
    let resolved = store
        .resolve_inputs(SchedJob(deploy.id.0), vec![passed])
        .await
        .unwrap();
    let input = resolved.inputs[0].as_ref().unwrap();
    assert_eq!(input.digest.as_str(), digest("b"));
    assert_eq!(
        input.passed_build_ids,
        [concorde_sched::BuildId(build.id.0)]
    );
    // Disabling b leaves deploy with nothing satisfiable.
    store
        .set_version_enabled(repo.id, &digest("b"), false, Timestamp(5))
        .await
        .unwrap();
    let passed = InputConfig::latest("repo", resource).with_passed([SchedJob(unit.id.0)]);
    let resolved = store
        .resolve_inputs(SchedJob(deploy.id.0), vec![passed])
        .await
        .unwrap();
    assert!(resolved.inputs[0].is_err());
}
