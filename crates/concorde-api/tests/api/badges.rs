//! Badges: a job's latest finished build, a pipeline's worst job, the legacy `main` route,
//! `?title=`, and the SVG content type.

use axum::http::StatusCode;
use concorde_store::{BuildStatus, NewBuild, Timestamp};

use crate::both_backends;
use crate::support::Harness;

both_backends!(badges_show_the_latest_finished_status);

async fn finished_build(h: &Harness, job: &str, status: BuildStatus) {
    let pipeline = h.pipeline_ref().await;
    let job = h.store().job_by_name(pipeline.id, job).await.unwrap();
    let build = h
        .store()
        .create_job_build(&NewBuild {
            job: job.id,
            manually_triggered: true,
            created_by: None,
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    h.store()
        .finish_build(build.id, status, Timestamp::now())
        .await
        .unwrap();
}

async fn badge(h: &Harness, uri: &str) -> String {
    let reply = h.get(uri, Some(&h.admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
    reply.text()
}

async fn badges_show_the_latest_finished_status(h: &Harness) {
    h.pipeline().await;
    let job = "/api/v1/teams/main/pipelines/p/jobs/build/badge";
    let pipeline = "/api/v1/teams/main/pipelines/p/badge";
    assert!(badge(h, job).await.contains(">unknown<"), "no build yet");
    finished_build(h, "build", BuildStatus::Succeeded).await;
    let passing = badge(h, job).await;
    assert!(
        passing.contains(">passing<") && passing.contains("#44cc11"),
        "{passing}"
    );
    assert!(badge(h, pipeline).await.contains(">passing<"));
    finished_build(h, "deploy", BuildStatus::Failed).await;
    assert!(
        badge(h, pipeline).await.contains(">failing<"),
        "the worst job wins"
    );
    let titled = badge(h, &format!("{job}?title=%3Cci%3E")).await;
    assert!(titled.contains(">&lt;ci&gt;<"), "{titled}");
    let legacy = badge(h, "/api/v1/pipelines/p/jobs/build/badge").await;
    assert!(legacy.contains(">passing<"), "{legacy}");
    assert_eq!(
        h.get(
            "/api/v1/teams/main/pipelines/p/jobs/nope/badge",
            Some(&h.admin)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}
