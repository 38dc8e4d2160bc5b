//! Job routes: summaries, one job, manual triggers, reruns, pagination of job builds, pause,
//! schedule.

use axum::http::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::support::Harness;

both_backends!(
    job_shapes,
    trigger_rerun_and_paginate,
    disabled_actions_pause_schedule
);

const JOB: &str = "/api/v1/teams/main/pipelines/p/jobs";

async fn job_shapes(h: &Harness) {
    h.pipeline().await;
    let jobs = h.get(JOB, Some(&h.admin)).await.json();
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["build", "deploy", "locked"]);
    let build = &jobs[0];
    assert_eq!(
        build["inputs"],
        json!([{"name": "repo", "resource": "repo", "trigger": true}])
    );
    assert!(
        build.get("next_build").is_none(),
        "summaries omit absent builds"
    );
    assert_eq!(
        jobs[1]["inputs"],
        json!([{"name": "repo", "resource": "repo", "passed": ["build"]}])
    );
    assert_eq!(
        jobs[1]["outputs"],
        json!([{"name": "repo", "resource": "repo"}])
    );

    let job = h.get(&format!("{JOB}/locked"), Some(&h.admin)).await.json();
    assert_eq!(job["next_build"], serde_json::Value::Null);
    assert_eq!(job["finished_build"], serde_json::Value::Null);
    assert_eq!(job["disable_manual_trigger"], true);
    assert_eq!(
        job["inputs"],
        json!([{"name": "repo", "resource": "repo", "trigger": false}])
    );
    assert_eq!(
        h.get(&format!("{JOB}/nope"), Some(&h.admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/jobs", Some(&h.admin))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(h.get("/api/v1/jobs", None).await.json(), json!([]));
}

async fn trigger_rerun_and_paginate(h: &Harness) {
    h.pipeline().await;
    let mut ids = Vec::new();
    for expected in ["1", "2", "3"] {
        let reply = h.post(&format!("{JOB}/build/builds"), Some(&h.admin)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let build = reply.json();
        assert_eq!(build["name"], expected);
        assert_eq!(build["status"], "pending");
        assert_eq!(build["created_by"], "admin");
        assert_eq!(build["job_name"], "build");
        assert_eq!(build["pipeline_name"], "p");
        let id = build["id"].as_i64().unwrap();
        assert_eq!(build["api_url"], format!("/api/v1/builds/{id}"));
        ids.push(id);
    }
    let job = h.get(&format!("{JOB}/build"), Some(&h.admin)).await.json();
    assert_eq!(job["next_build"]["name"], "1");

    let first = h
        .get(&format!("{JOB}/build/builds?limit=2"), Some(&h.admin))
        .await;
    let names: Vec<String> = first
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["3", "2"]);
    let link = first.header("link").unwrap().to_owned();
    assert_eq!(
        link,
        format!(
            "<http://ci.test{JOB}/build/builds?to={}&limit=2>; rel=\"next\"",
            ids[0]
        )
    );
    let older = h
        .get(
            &format!("{JOB}/build/builds?to={}&limit=2", ids[0]),
            Some(&h.admin),
        )
        .await;
    assert_eq!(older.json().as_array().unwrap().len(), 1);
    assert_eq!(
        older.header("link").unwrap(),
        format!(
            "<http://ci.test{JOB}/build/builds?from={}&limit=2>; rel=\"previous\"",
            ids[1]
        )
    );
    let newer = h
        .get(
            &format!("{JOB}/build/builds?from={}&limit=2", ids[1]),
            Some(&h.admin),
        )
        .await
        .json();
    assert_eq!(newer[0]["name"], "3");
    assert_eq!(newer[1]["name"], "2");
    assert_eq!(
        h.get(&format!("{JOB}/build/builds/2"), Some(&h.admin))
            .await
            .json()["id"],
        ids[1]
    );

    let rerun = h
        .post(&format!("{JOB}/build/builds/1"), Some(&h.admin))
        .await;
    assert_eq!(rerun.status, StatusCode::OK, "{}", rerun.text());
    let rerun = rerun.json();
    assert_eq!(rerun["name"], "1.1");
    assert_eq!(rerun["rerun_number"], 1);
    assert_eq!(rerun["rerun_of"], json!({"id": ids[0], "name": "1"}));
    assert_eq!(
        h.post(&format!("{JOB}/build/builds/99"), Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let all = h.get("/api/v1/builds", Some(&h.admin)).await.json();
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(
        h.get("/api/v1/teams/main/builds?limit=1", Some(&h.admin))
            .await
            .json()[0]["name"],
        "1.1"
    );
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/p/builds", Some(&h.admin))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(h.get("/api/v1/builds", None).await.json(), json!([]));
}

async fn disabled_actions_pause_schedule(h: &Harness) {
    h.pipeline().await;
    let refused = h
        .post(&format!("{JOB}/locked/builds"), Some(&h.admin))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.is_empty(), "409 has an empty body");
    assert_eq!(
        h.post(&format!("{JOB}/build/builds"), Some(&h.bob))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.post(&format!("{JOB}/build/builds"), None).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(
        h.put(&format!("{JOB}/build/pause"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(&format!("{JOB}/build"), Some(&h.admin)).await.json()["paused"],
        true
    );
    assert_eq!(
        h.put(&format!("{JOB}/build/unpause"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        h.get(&format!("{JOB}/build"), Some(&h.admin))
            .await
            .json()
            .get("paused")
            .is_none()
    );

    let store = h.store();
    let pipeline = h.pipeline_ref().await;
    let job = store.job_by_name(pipeline.id, "deploy").await.unwrap();
    let before = job.schedule_requested;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        h.put(&format!("{JOB}/deploy/schedule"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    assert!(store.job(job.id).await.unwrap().schedule_requested > before);
    assert_eq!(
        h.get(&format!("{JOB}/deploy/inputs"), Some(&h.admin))
            .await
            .json(),
        json!([])
    );
}
