//! Tokens, `/api/v1/user`, and the 401/403/public split.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;

use crate::both_backends;
use crate::support::Harness;

both_backends!(
    password_grant_issues_opaque_token,
    user_info_and_401,
    roles_give_403_and_public_reads,
    cookie_needs_csrf,
    a_removed_local_users_token_stops_working
);

async fn a_removed_local_users_token_stops_working(h: &Harness) {
    // Carol had a token, but she is not among the node's local users (any more).
    let identity = concorde_api::Identity {
        sub: "local:carol".into(),
        connector: "local".into(),
        user_id: "carol".into(),
        user_name: "carol".into(),
        groups: vec![],
    };
    let token = concorde_api::issue_token(&h.state, &identity)
        .await
        .unwrap()
        .access_token;
    assert_eq!(
        h.get("/api/v1/user", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/api/v1/user", Some(&h.bob)).await.status,
        StatusCode::OK,
        "a current user's token works"
    );
}

async fn token_request(h: &Harness, password: &str) -> (StatusCode, serde_json::Value) {
    let body = format!(
        "grant_type=password&username=admin&password={password}&scope=openid+profile+email+federated%3Aid+groups"
    );
    let request = Request::builder()
        .method(Method::POST)
        .uri("/sky/issuer/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, "Basic Zmx5OlpteDU=")
        .body(Body::from(body))
        .unwrap();
    let response = h.send(request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn password_grant_issues_opaque_token(h: &Harness) {
    let (status, body) = token_request(h, "password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86400);
    let token = body["access_token"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(token)
        .unwrap();
    assert_eq!(bytes.len(), 28, "20 random bytes and an 8-byte expiry");
    let expiry = i64::from_le_bytes(bytes[20..].try_into().unwrap());
    let now = concorde_store::Timestamp::now().0 / 1000;
    assert!(
        (expiry - now - 86400).abs() < 60,
        "expiry {expiry} is a day after {now}"
    );
    let user = h.get("/api/v1/user", Some(token)).await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.json()["user_name"], "admin");

    let (status, body) = token_request(h, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "access_denied");
}

async fn user_info_and_401(h: &Harness) {
    let reply = h.get("/api/v1/user", Some(&h.admin)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let user = reply.json();
    assert_eq!(user["is_admin"], true);
    assert_eq!(user["teams"]["main"], serde_json::json!(["owner"]));
    assert_eq!(user["connector"], "local");
    let bob = h.get("/api/v1/user", Some(&h.bob)).await.json();
    assert_eq!(bob["is_admin"], false);
    assert_eq!(bob["teams"], serde_json::json!({"other": ["member"]}));
    assert_eq!(
        h.get("/api/v1/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/api/v1/user", Some("bm90LWEtdG9rZW4")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let info = h.get("/api/v1/info", None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.json()["version"], concorde_api::DEFAULT_VERSION);
    assert_eq!(
        info.header("x-concourse-version"),
        Some(concorde_api::DEFAULT_VERSION)
    );
    let teams = h.get("/api/v1/teams", None).await.json();
    assert_eq!(
        teams,
        serde_json::json!([]),
        "anonymous callers see no team"
    );
    let teams = h.get("/api/v1/teams", Some(&h.bob)).await.json();
    assert_eq!(teams.as_array().unwrap().len(), 1);
    assert_eq!(teams[0]["name"], "other");
    assert_eq!(
        h.get("/api/v1/teams/main", Some(&h.bob)).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn roles_give_403_and_public_reads(h: &Harness) {
    h.pipeline().await;
    let uri = "/api/v1/teams/main/pipelines/p";
    assert_eq!(h.get(uri, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.get(uri, Some(&h.bob)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get(uri, Some(&h.admin)).await.status, StatusCode::OK);
    assert_eq!(
        h.put(&format!("{uri}/pause"), Some(&h.bob)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.put(&format!("{uri}/expose"), Some(&h.bob)).await.status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        h.put(&format!("{uri}/expose"), Some(&h.admin)).await.status,
        StatusCode::OK
    );
    let reply = h.get(uri, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["public"], true);
    assert_eq!(
        h.get(&format!("{uri}/jobs"), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(&format!("{uri}/resources"), None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/api/v1/pipelines", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Reading is public, changing is not; the config stays private.
    assert_eq!(
        h.put(&format!("{uri}/pause"), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get(&format!("{uri}/config"), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.put(&format!("{uri}/hide"), Some(&h.admin)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/api/v1/pipelines", None).await.json(),
        serde_json::json!([])
    );
}

async fn cookie_needs_csrf(h: &Harness) {
    h.pipeline().await;
    let uri = "/api/v1/teams/main/pipelines/p/pause";
    let request_with = |cookie_csrf: &str, csrf: Option<&str>| {
        let mut builder = Request::builder().method(Method::PUT).uri(uri).header(
            header::COOKIE,
            format!(
                "skymarshal_auth=\"Bearer {}\"; skymarshal_csrf={cookie_csrf}",
                h.admin
            ),
        );
        if let Some(csrf) = csrf {
            builder = builder.header("X-Csrf-Token", csrf);
        }
        builder.body(Body::empty()).unwrap()
    };
    let request = |csrf: Option<&str>| request_with("abc", csrf);
    assert_eq!(
        h.send(request_with("", Some(""))).await.status(),
        StatusCode::UNAUTHORIZED,
        "an empty header matching an empty cookie proves nothing"
    );
    assert_eq!(
        h.send(request(None)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.send(request(Some("nope"))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.send(request(Some("abc"))).await.status(), StatusCode::OK);
}
