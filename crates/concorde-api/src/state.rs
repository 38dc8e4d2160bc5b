//! What every handler shares: the store, the local users, and the settings of the web node.
//! The state holds no component: handlers talk to the scheduler, checker and build tracker only
//! through the store (schedule requests, check requests, aborts, notifications).

use std::sync::Arc;
use std::time::Duration;

use concorde_store::{MAIN_TEAM, Store, StoreError, Team};

use crate::local_user::{LocalUser, SetupError};
use crate::login_guard::LoginGuard;

/// Settings of the API, parsed once at start-up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Users who log in with a password (`--add-local-user NAME:PASSWORD`).
    pub local_users: Vec<LocalUser>,
    /// How long issued tokens stay valid (Concourse: 24h).
    pub token_ttl: Duration,
    /// The URL users reach the server at, used in `Link` headers and `/api/v1/info`.
    pub external_url: String,
    /// A display name for the installation.
    pub cluster_name: Option<String>,
    /// The version reported by `/api/v1/info` and the `X-Concourse-Version` header.
    pub version: String,
    /// The worker protocol version reported by `/api/v1/info`.
    pub worker_version: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The workers artifact uploads go to and downloads come from; without them, artifact
    /// routes answer 500.
    pub workers: Option<concorde_workers::WorkerPool>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            local_users: Vec::new(),
            token_ttl: Duration::from_secs(24 * 60 * 60),
            external_url: "http://127.0.0.1:8080".to_owned(),
            cluster_name: None,
            version: DEFAULT_VERSION.to_owned(),
            worker_version: "2.5".to_owned(),
            max_body_bytes: concorde_store::MAX_CONFIG_BYTES,
            workers: None,
        }
    }
}

/// The Concourse version Concorde speaks the API of; fly compares major.minor with it.
pub const DEFAULT_VERSION: &str = "7.14.0";

/// The shared state of every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: ApiConfig,
    pub(crate) login_guard: LoginGuard,
}

impl ApiState {
    /// The state over `store` with `config`.
    pub fn new(store: Store, config: ApiConfig) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                store,
                config,
                login_guard: LoginGuard::new(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub(crate) fn local_user(&self, name: &str) -> Option<&LocalUser> {
        self.inner
            .config
            .local_users
            .iter()
            .find(|user| user.name == name)
    }
}

/// Creates the admin team `main` if missing, and makes every local user one of its owners
/// (Concourse sets the main team's auth from its start-up flags on every start).
pub async fn ensure_main_team(
    store: &Store,
    local_users: &[LocalUser],
) -> Result<Team, SetupError> {
    let users: Vec<String> = local_users
        .iter()
        .map(|user| format!("local:{}", user.name))
        .collect();
    let auth = serde_json::json!({"owner": {"users": users, "groups": []}});
    match store.team_by_name(MAIN_TEAM).await {
        Ok(team) => {
            store.set_team_auth(team.id, &auth).await?;
            Ok(store.team_by_name(MAIN_TEAM).await?)
        }
        Err(StoreError::NotFound { .. }) => Ok(store.create_team(MAIN_TEAM, true, &auth).await?),
        Err(err) => Err(err.into()),
    }
}
