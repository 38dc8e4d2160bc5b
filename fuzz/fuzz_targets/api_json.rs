//! Fuzz target: arbitrary bodies sent to every API route that reads one, as an authenticated
//! owner, through the real router over a real SQLite store: no panic, and never a 5xx (a body
//! is either applied or refused with a 4xx) but Concourse's own for a stale config save.
//!
//! The first byte picks the route, the rest is the body. Run: `cargo xtask fuzz --seconds 300
//! api_json`.

#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request, header};
use concorde_api::{ApiConfig, ApiState, Identity, LocalUser, ensure_main_team, issue_token, router};
use concorde_store::{Store, StoreConfig};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// Routes taking a body: method, path, content type.
const ROUTES: [(&str, &str, &str); 6] = [
    ("PUT", "/api/v1/teams/main/pipelines/ordering", "application/json"),
    ("PUT", "/api/v1/teams/main/pipelines/p/rename", "application/json"),
    ("POST", "/api/v1/teams/main/pipelines/p/resources/r/check", "application/json"),
    ("POST", "/api/v1/teams/main/pipelines/p/resource-types/t/check", "application/json"),
    ("PUT", "/api/v1/teams/main/pipelines/p/resources/r/pin_comment", "application/json"),
    ("PUT", "/api/v1/teams/main/pipelines/q/config", "application/x-yaml"),
];

/// Concourse's answer to a save that did not name the pipeline's current config version.
const STALE_SAVE: &str = "failed to save config: comparison with existing config failed during save";

const PIPELINE: &str = "resource_types:\n- name: t\n  type: mock\n  source: {}\nresources:\n- name: r\n  type: t\n  source: {}\njobs:\n- name: j\n  plan:\n  - get: r\n";

struct World {
    runtime: tokio::runtime::Runtime,
    state: ApiState,
    token: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, token) = runtime.block_on(async {
            let store = Store::open(&StoreConfig::Sqlite {
                data_dir: dir.path().to_owned(),
            })
            .await
            .expect("store");
            let admin = LocalUser::new("admin", "password").expect("user");
            ensure_main_team(&store, &[admin.clone()]).await.expect("team");
            let config = ApiConfig {
                local_users: vec![admin],
                ..ApiConfig::default()
            };
            let state = ApiState::new(store, config);
            let identity = Identity {
                sub: "local:admin".into(),
                connector: "local".into(),
                user_id: "admin".into(),
                user_name: "admin".into(),
                groups: vec![],
            };
            let token = issue_token(&state, &identity).await.expect("token").access_token;
            (state, token)
        });
        let world = World {
            runtime,
            state,
            token,
            _dir: dir,
        };
        let (status, answer) = world.send("PUT", "/api/v1/teams/main/pipelines/p/config", "application/x-yaml", PIPELINE.as_bytes());
        assert!(status.is_success(), "the seed pipeline is saved: {status} {answer}");
        world
    })
}

impl World {
    /// Sends a request; its status and body.
    fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (axum::http::StatusCode, String) {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_vec()))
            .expect("request");
        self.runtime.block_on(async {
            let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path, content_type) = ROUTES[usize::from(pick) % ROUTES.len()];
    let (status, answer) = world().send(method, path, content_type, body);
    // Saving over an existing pipeline without its current version is Concourse's one
    // deliberate 500, which fly reads.
    let stale_save = answer == STALE_SAVE;
    assert!(
        !status.is_server_error() || stale_save,
        "{method} {path} answered {status} ({answer}) to {:?}",
        String::from_utf8_lossy(body)
    );
});
