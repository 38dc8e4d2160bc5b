//! Saving and reading pipeline configs: content types, validation errors, warnings, creation
//! paused, optimistic concurrency through `X-Concourse-Config-Version`.

use axum::http::{Method, StatusCode};

use crate::both_backends;
use crate::support::{Harness, PIPELINE};

both_backends!(
    create_read_update_with_versions,
    invalid_configs_are_400,
    content_type_and_auth
);

async fn create_read_update_with_versions(h: &Harness) {
    let created = h.save_config("p", PIPELINE, None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.text(), "{}");
    let pipeline = h
        .get("/api/v1/teams/main/pipelines/p", Some(&h.admin))
        .await
        .json();
    assert_eq!(pipeline["paused"], true, "new pipelines start paused");
    assert_eq!(pipeline["team_name"], "main");

    let config = h
        .get("/api/v1/teams/main/pipelines/p/config", Some(&h.admin))
        .await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.header("x-concourse-config-version"), Some("1"));
    let body = config.json();
    assert_eq!(body["config"]["jobs"][0]["name"], "build");
    assert_eq!(body["config"]["resources"][0]["webhook_token"], "s3cret");

    // An existing pipeline needs the version it was read at; absent means 0.
    for stale in [None, Some("0"), Some("7")] {
        let reply = h.save_config("p", PIPELINE, stale).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            reply.text(),
            "failed to save config: comparison with existing config failed during save"
        );
    }
    let updated = h
        .save_config("p", &PIPELINE.replace("echo", "ls"), Some("1"))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    let config = h
        .get("/api/v1/teams/main/pipelines/p/config", Some(&h.admin))
        .await;
    assert_eq!(config.header("x-concourse-config-version"), Some("2"));
    assert!(config.text().contains("\"ls\""));

    // A new pipeline ignores the header; identifier warnings come back with 201.
    let warned = h.save_config("Bad_Name", PIPELINE, Some("12")).await;
    assert_eq!(warned.status, StatusCode::CREATED, "{}", warned.text());
    let warnings = warned.json()["warnings"].clone();
    assert_eq!(warnings[0]["type"], "invalid_identifier");
    assert_eq!(
        warnings[0]["message"],
        "pipeline: 'Bad_Name' is not a valid identifier: must start with a lowercase letter or a number"
    );
}

async fn invalid_configs_are_400(h: &Harness) {
    let malformed = h.save_config("p", "jobs: [", None).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let errors = malformed.json()["errors"].clone();
    assert!(
        errors[0]
            .as_str()
            .unwrap()
            .starts_with("malformed config: "),
        "{errors}"
    );

    let unknown_field = h
        .save_config("p", "jobs:\n- name: j\n  plan: []\n  bogus: 1\n", None)
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown_field.json()["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("malformed config:")
    );

    let invalid = h
        .save_config("p", "jobs:\n- name: j\n  plan:\n  - get: nope\n", None)
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        invalid.json(),
        serde_json::json!({"errors": ["invalid jobs:\n\tjobs.j.plan.do[0].get(nope): unknown resource 'nope'\n"]})
    );

    let bad_version = h.save_config("p", PIPELINE, Some("one")).await;
    assert_eq!(bad_version.status, StatusCode::BAD_REQUEST);
    let message = bad_version.json()["errors"][0].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("config version is malformed: "),
        "{message}"
    );
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/p", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn content_type_and_auth(h: &Harness) {
    let uri = "/api/v1/teams/main/pipelines/p/config";
    let body = || Some(("text/plain", PIPELINE.as_bytes().to_vec()));
    let reply = h.call(Method::PUT, uri, Some(&h.admin), body()).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let json = serde_json::json!({"jobs": [{"name": "j", "plan": [{"task": "t", "config": {"platform": "linux", "run": {"path": "true"}}}]}]});
    let reply = h
        .call(
            Method::PUT,
            uri,
            Some(&h.admin),
            Some(("application/json", json.to_string().into_bytes())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let yaml = || Some(("application/x-yaml", PIPELINE.as_bytes().to_vec()));
    assert_eq!(
        h.call(Method::PUT, uri, None, yaml()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call(Method::PUT, uri, Some(&h.bob), yaml()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.get(uri, Some(&h.bob)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.get("/api/v1/teams/main/pipelines/nope/config", Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
