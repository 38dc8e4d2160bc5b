//! Malformed and oversize requests get a 4xx with a clear message, never a 500.

use axum::http::{Method, StatusCode};

use crate::both_backends;
use crate::support::{Harness, PIPELINE};

both_backends!(bad_bodies_and_queries);

async fn bad_bodies_and_queries(h: &Harness) {
    h.pipeline().await;
    let huge = vec![b'a'; 70 * 1024];
    let oversize = h
        .call(
            Method::PUT,
            "/api/v1/teams/main/pipelines/ordering",
            Some(&h.admin),
            Some(("application/json", huge.clone())),
        )
        .await;
    assert_eq!(oversize.status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut big_config = PIPELINE.to_owned();
    big_config.push_str(&format!("\n# {}\n", "x".repeat(70 * 1024)));
    assert_eq!(
        h.save_config("p", &big_config, Some("1")).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let bad_json = h
        .call(
            Method::PUT,
            "/api/v1/teams/main/pipelines/ordering",
            Some(&h.admin),
            Some(("application/json", b"[1,".to_vec())),
        )
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_json.text().starts_with("malformed request body: "),
        "{}",
        bad_json.text()
    );
    let wrong_shape = h
        .call(
            Method::PUT,
            "/api/v1/teams/main/pipelines/p/rename",
            Some(&h.admin),
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_eq!(wrong_shape.status, StatusCode::BAD_REQUEST);

    let bad_limit = h
        .get(
            "/api/v1/teams/main/pipelines/p/jobs/build/builds?limit=lots",
            Some(&h.admin),
        )
        .await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_limit.text(), "invalid limit: \"lots\"");
    let bad_vars = h
        .get("/api/v1/teams/main/pipelines/p?vars=nope", Some(&h.admin))
        .await;
    assert_eq!(bad_vars.status, StatusCode::BAD_REQUEST);
    let token = h
        .call(
            Method::POST,
            "/sky/issuer/token",
            None,
            Some((
                "application/x-www-form-urlencoded",
                b"grant_type=client_credentials".to_vec(),
            )),
        )
        .await;
    assert_eq!(token.status, StatusCode::BAD_REQUEST);
    assert_eq!(token.json()["error"], "unsupported_grant_type");
}
