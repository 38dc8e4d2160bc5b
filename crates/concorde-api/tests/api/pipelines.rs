//! Pipeline routes: list, pause/unpause, rename, ordering, archive, delete, instance vars.

use axum::http::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::support::{Harness, PIPELINE};

both_backends!(
    switches_and_listing,
    rename_order_archive_delete,
    instanced_pipelines
);

async fn switches_and_listing(h: &Harness) {
    h.pipeline().await;
    let uri = "/api/v1/teams/main/pipelines/p";
    assert_eq!(
        h.put(&format!("{uri}/unpause"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(h.get(uri, Some(&h.admin)).await.json()["paused"], false);
    assert_eq!(
        h.put(&format!("{uri}/pause"), Some(&h.admin)).await.status,
        StatusCode::OK
    );
    let pipeline = h.get(uri, Some(&h.admin)).await.json();
    assert_eq!(pipeline["paused"], true);
    assert_eq!(pipeline["paused_by"], "admin");
    assert!(
        pipeline["last_updated"].as_i64().unwrap() > 1_600_000_000,
        "unix seconds"
    );

    let all = h
        .get("/api/v1/teams/main/pipelines", Some(&h.admin))
        .await
        .json();
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines", Some(&h.bob))
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        h.get("/api/v1/teams/nope/pipelines", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/nope", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn rename_order_archive_delete(h: &Harness) {
    h.pipeline().await;
    assert_eq!(
        h.save_config("q", PIPELINE, None).await.status,
        StatusCode::CREATED
    );
    let names = |reply: serde_json::Value| -> Vec<String> {
        reply
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let ordering = h
        .put_json(
            "/api/v1/teams/main/pipelines/ordering",
            Some(&h.admin),
            json!(["q", "p"]),
        )
        .await;
    assert_eq!(ordering.status, StatusCode::OK);
    assert_eq!(
        names(
            h.get("/api/v1/teams/main/pipelines", Some(&h.admin))
                .await
                .json()
        ),
        ["q", "p"]
    );

    let renamed = h
        .put_json(
            "/api/v1/teams/main/pipelines/q/rename",
            Some(&h.admin),
            json!({"name": "Q2"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.json()["warnings"][0]["type"], "invalid_identifier");
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/Q2", Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    let taken = h
        .put_json(
            "/api/v1/teams/main/pipelines/Q2/rename",
            Some(&h.admin),
            json!({"name": "p"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let uri = "/api/v1/teams/main/pipelines/p";
    assert_eq!(
        h.put(&format!("{uri}/archive"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    let archived = h.get(uri, Some(&h.admin)).await.json();
    assert_eq!(archived["archived"], true);
    assert_eq!(
        h.get(&format!("{uri}/config"), Some(&h.admin)).await.status,
        StatusCode::NOT_FOUND
    );
    let refused = h.put(&format!("{uri}/unpause"), Some(&h.admin)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        refused.text(),
        "action not allowed for an archived pipeline"
    );

    assert_eq!(
        h.call(axum::http::Method::DELETE, uri, Some(&h.admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.get(uri, Some(&h.admin)).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn instanced_pipelines(h: &Harness) {
    let reply = h
        .call(
            axum::http::Method::PUT,
            "/api/v1/teams/main/pipelines/p/config?vars.branch=%22feature%22",
            Some(&h.admin),
            Some(("application/x-yaml", PIPELINE.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let pipeline = h
        .get(
            "/api/v1/teams/main/pipelines/p?vars=%7B%22branch%22%3A%22feature%22%7D",
            Some(&h.admin),
        )
        .await;
    assert_eq!(pipeline.status, StatusCode::OK);
    assert_eq!(
        pipeline.json()["instance_vars"],
        json!({"branch": "feature"})
    );
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/p", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
