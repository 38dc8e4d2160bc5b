//! The harness: a store with the `main` team (owner `admin`) and a team `other` (member
//! `bob`), tokens for both, request helpers, and the macro running a case on both backends.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use concorde_api::{
    ApiConfig, ApiState, Identity, LocalUser, ensure_main_team, issue_token, router,
};
use concorde_store::Store;
use concorde_store::testing::{Flavour, TestStore, postgres_store, sqlite_store};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A pipeline with two jobs chained by `passed`, a resource with a webhook token, and a job
/// that refuses manual triggers.
pub const PIPELINE: &str = r#"
resources:
- name: repo
  type: git
  webhook_token: s3cret
  source: {uri: /tmp/repo}
jobs:
- name: build
  plan:
  - get: repo
    trigger: true
  - task: unit
    config:
      platform: linux
      run: {path: echo}
- name: deploy
  plan:
  - get: repo
    passed: [build]
  - put: repo
- name: locked
  disable_manual_trigger: true
  disable_reruns: true
  plan:
  - get: repo
"#;

/// One test's world.
pub struct Harness {
    pub state: ApiState,
    pub test: TestStore,
    /// Owner of `main`, an admin.
    pub admin: String,
    /// Member of `other`, nothing on `main`.
    pub bob: String,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Harness {
    pub async fn new(test: TestStore) -> Harness {
        let admin_user = LocalUser::new("admin", "password").unwrap();
        let bob_user = LocalUser::new("bob", "password").unwrap();
        let config = ApiConfig {
            local_users: vec![admin_user.clone(), bob_user],
            external_url: "http://ci.test".into(),
            max_body_bytes: 64 * 1024,
            ..ApiConfig::default()
        };
        ensure_main_team(&test.store, &[admin_user]).await.unwrap();
        let bob_auth = serde_json::json!({"member": {"users": ["local:bob"], "groups": []}});
        test.store
            .create_team("other", false, &bob_auth)
            .await
            .unwrap();
        let state = ApiState::new(test.store.clone(), config);
        let admin = token(&state, "admin").await;
        let bob = token(&state, "bob").await;
        Harness {
            state,
            test,
            admin,
            bob,
        }
    }

    pub fn store(&self) -> &Store {
        &self.test.store
    }

    /// Sends a request through a fresh router.
    pub async fn send(&self, request: Request<Body>) -> axum::response::Response {
        router(self.state.clone()).oneshot(request).await.unwrap()
    }

    /// Sends a request and reads the whole response.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some((content_type, bytes)) => builder
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes)),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn put(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::PUT, uri, token, None).await
    }

    pub async fn put_json(&self, uri: &str, token: Option<&str>, body: serde_json::Value) -> Reply {
        self.call(
            Method::PUT,
            uri,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::POST, uri, token, None).await
    }

    /// Saves `yaml` as pipeline `name` of `main` with the given version header.
    pub async fn save_config(&self, name: &str, yaml: &str, version: Option<&str>) -> Reply {
        let mut builder = Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/v1/teams/main/pipelines/{name}/config"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, "application/x-yaml");
        if let Some(version) = version {
            builder = builder.header("X-Concourse-Config-Version", version);
        }
        let response = self
            .send(builder.body(Body::from(yaml.to_owned())).unwrap())
            .await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Creates pipeline `p` from [`PIPELINE`] and unpauses it.
    /// Starts a pending build with no inputs and the given plan, as the tracker would.
    pub async fn start_build(&self, build: concorde_store::BuildId, plan: &serde_json::Value) {
        self.store()
            .start_build(&concorde_store::StartBuild {
                id: build,
                inputs: &[],
                pipes: &[],
                plan,
                now: concorde_store::Timestamp::now(),
            })
            .await
            .unwrap();
    }

    pub async fn pipeline(&self) -> concorde_store::Pipeline {
        let reply = self.save_config("p", PIPELINE, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let team = self.store().team_by_name("main").await.unwrap();
        let reference = concorde_store::PipelineRef {
            team: team.id,
            name: "p".into(),
            instance_vars: None,
        };
        self.store().pipeline_by_ref(&reference).await.unwrap()
    }

    pub async fn cleanup(self) {
        self.test.cleanup().await;
    }
}

async fn token(state: &ApiState, user: &str) -> String {
    let identity = Identity {
        sub: format!("local:{user}"),
        connector: "local".into(),
        user_id: user.into(),
        user_name: user.into(),
        groups: vec![],
    };
    issue_token(state, &identity).await.unwrap().access_token
}

pub async fn sqlite() -> Harness {
    Harness::new(sqlite_store().await).await
}

pub async fn postgres() -> Harness {
    Harness::new(postgres_store(Flavour::Fast).await).await
}

/// Reads an SSE body until `event: end` (or the timeout) and returns the text.
pub async fn read_until_end(body: Body, timeout: Duration) -> String {
    let mut body = body;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while !text.contains("event: end") {
        let frame = tokio::time::timeout_at(deadline, body.frame()).await;
        match frame {
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    text.push_str(&String::from_utf8_lossy(data));
                }
            }
            Ok(_) => break,
            Err(_) => panic!("no `end` within {timeout:?}; got so far:\n{text}"),
        }
    }
    text
}

/// Runs an `async fn(&Harness)` on SQLite and PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let harness = $crate::support::sqlite().await;
                super::$case(&harness).await;
                harness.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let harness = $crate::support::postgres().await;
                super::$case(&harness).await;
                harness.cleanup().await;
            }
        }
    )*};
}

impl Harness {
    /// The stored pipeline `p` of `main`.
    pub async fn pipeline_ref(&self) -> concorde_store::Pipeline {
        let team = self.store().team_by_name("main").await.unwrap();
        let reference = concorde_store::PipelineRef {
            team: team.id,
            name: "p".into(),
            instance_vars: None,
        };
        self.store().pipeline_by_ref(&reference).await.unwrap()
    }
}
