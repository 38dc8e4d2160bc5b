//! Build routes: one build, plan, resources, abort, and the 4xx of bad build ids.

use axum::http::StatusCode;
use concorde_store::{BuildStatus, NewBuild, Timestamp};
use serde_json::json;

use crate::both_backends;
use crate::support::Harness;

both_backends!(
    build_plan_abort,
    build_ids_and_access,
    builds_by_start_time,
    a_pending_build_says_what_it_waits_for
);

/// A pending build of job `build`.
pub async fn new_build(h: &Harness) -> concorde_store::Build {
    let pipeline = h.pipeline_ref().await;
    let job = h.store().job_by_name(pipeline.id, "build").await.unwrap();
    let new = NewBuild {
        job: job.id,
        manually_triggered: false,
        created_by: None,
        now: Timestamp::now(),
    };
    h.store().create_job_build(&new).await.unwrap()
}

async fn build_plan_abort(h: &Harness) {
    h.pipeline().await;
    let build = new_build(h).await;
    let uri = format!("/api/v1/builds/{}", build.id);
    let reply = h.get(&uri, Some(&h.admin)).await.json();
    assert_eq!(reply["status"], "pending");
    assert_eq!(reply["team_name"], "main");
    assert!(reply.get("created_by").is_none());
    assert_eq!(
        h.get(&format!("{uri}/plan"), Some(&h.admin)).await.status,
        StatusCode::NOT_FOUND
    );

    h.store()
        .start_build(&concorde_store::StartBuild {
            id: build.id,
            inputs: &[],
            pipes: &[],
            plan: &serde_json::json!({"id": "1", "do": []}),
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    let plan = h.get(&format!("{uri}/plan"), Some(&h.admin)).await.json();
    assert_eq!(
        plan,
        json!({"schema": "exec.v2", "plan": {"id": "1", "do": []}})
    );
    assert_eq!(
        h.get(&format!("{uri}/resources"), Some(&h.admin))
            .await
            .json(),
        json!({"inputs": [], "outputs": []})
    );

    assert_eq!(
        h.put(&format!("{uri}/abort"), Some(&h.bob)).await.status,
        StatusCode::FORBIDDEN
    );
    let mut aborts = h
        .store()
        .listen(&[concorde_store::Topic::BuildAbort(build.id)])
        .await
        .unwrap();
    assert_eq!(
        h.put(&format!("{uri}/abort"), Some(&h.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    let note = concorde_store::testing::next_notification(&mut aborts).await;
    assert_eq!(note.topic, concorde_store::Topic::BuildAbort(build.id));
    assert!(h.store().build(build.id).await.unwrap().aborted);

    let pending = new_build(h).await;
    let uri = format!("/api/v1/builds/{}", pending.id);
    assert_eq!(
        h.put(&format!("{uri}/abort"), Some(&h.admin)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.store().build(pending.id).await.unwrap().status,
        BuildStatus::Aborted
    );
    assert_eq!(
        h.get(&uri, Some(&h.admin)).await.json()["status"],
        "aborted"
    );
}

async fn build_ids_and_access(h: &Harness) {
    h.pipeline().await;
    let build = new_build(h).await;
    let uri = format!("/api/v1/builds/{}", build.id);
    let bad = h.get("/api/v1/builds/abc", Some(&h.admin)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // A NUL in a name is refused the same way on both backends.
    let nul = h.save_config("a%00b", crate::support::PIPELINE, None).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.text());
    assert!(nul.text().contains("control character"), "{}", nul.text());
    assert!(!bad.text().is_empty());
    assert_eq!(
        h.get("/api/v1/builds/999999", Some(&h.admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.get(&uri, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.get(&uri, Some(&h.bob)).await.status,
        StatusCode::FORBIDDEN
    );
    // Any build of a public pipeline is readable; its plan only for public jobs.
    h.put("/api/v1/teams/main/pipelines/p/expose", Some(&h.admin))
        .await;
    assert_eq!(h.get(&uri, None).await.status, StatusCode::OK);
    h.start_build(build.id, &serde_json::json!({})).await;
    assert_eq!(
        h.get(&format!("{uri}/plan"), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get(&format!("{uri}/plan"), Some(&h.admin)).await.status,
        StatusCode::OK
    );
}

/// `builds --since/--until` ask with `timestamps=true`: `from`/`to` are unix seconds.
async fn builds_by_start_time(h: &Harness) {
    let store = h.store();
    let team = store.team_by_name("main").await.unwrap();
    let plan = json!({});
    let mut ids = Vec::new();
    for started in [1_000_i64, 2_000, 3_000] {
        let build = store
            .create_one_off_build(&concorde_store::NewOneOffBuild {
                team: team.id,
                pipeline: None,
                plan: &plan,
                private_plan: &plan,
                created_by: None,
                now: Timestamp(started * 1000),
            })
            .await
            .unwrap();
        store
            .begin_one_off_build(build.id, Timestamp(started * 1000))
            .await
            .unwrap();
        ids.push(build.id.0);
    }
    let listed = |query: &'static str| async move {
        let reply = h
            .get(
                &format!("/api/v1/teams/main/builds?{query}"),
                Some(&h.admin),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|build| build["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed("timestamps=true&from=1500&to=2500").await, [ids[1]]);
    assert_eq!(listed("timestamps=true&from=1500").await, [ids[2], ids[1]]);
    assert_eq!(listed("timestamps=true&to=2000&limit=1").await, [ids[1]]);
}

/// `preparation`: what a pending build waits for; nothing once it is not pending.
async fn a_pending_build_says_what_it_waits_for(h: &Harness) {
    let pipeline = h.pipeline().await;
    let build = new_build(h).await;
    let uri = format!("/api/v1/builds/{}/preparation", build.id);
    let waiting = h.get(&uri, Some(&h.admin)).await.json();
    assert_eq!(
        (
            &waiting["paused_pipeline"],
            &waiting["paused_job"],
            &waiting["max_running_builds"],
            &waiting["inputs"]["repo"],
            &waiting["inputs_satisfied"],
        ),
        (
            &json!("blocking"),
            &json!("not_blocking"),
            &json!("not_blocking"),
            &json!("blocking"),
            &json!("blocking"),
        ),
        "{waiting}"
    );
    assert!(
        waiting["missing_input_reasons"]["repo"].is_string(),
        "{waiting}"
    );
    h.store()
        .set_pipeline_paused(pipeline.id, None, Timestamp::now())
        .await
        .unwrap();
    let unpaused = h.get(&uri, Some(&h.admin)).await.json();
    assert_eq!(unpaused["paused_pipeline"], "not_blocking");
    h.store()
        .finish_build(build.id, BuildStatus::Aborted, Timestamp::now())
        .await
        .unwrap();
    let done = h.get(&uri, Some(&h.admin)).await.json();
    assert_eq!(
        (&done["inputs_satisfied"], &done["inputs"]),
        (&json!("not_blocking"), &json!({}))
    );
}
