//! What every handler shares: the store, the local users, and the settings of the web node.
//! The state holds no component: handlers talk to the scheduler, checker and build tracker only
//! through the store (schedule requests, check requests, aborts, notifications).

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use concorde_store::{MAIN_TEAM, Store, StoreError, Team};

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
        }
    }
}

/// The Concourse version Concorde speaks the API of; fly compares major.minor with it.
pub const DEFAULT_VERSION: &str = "7.14.0";

/// A local user: a name and an argon2 hash of the password. The password itself is dropped
/// as soon as it is hashed.
#[derive(Clone)]
pub struct LocalUser {
    /// The login name.
    pub name: String,
    password_hash: String,
}

impl std::fmt::Debug for LocalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why the API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `--add-local-user` value is not `NAME:PASSWORD`.
    #[error("invalid local user {0:?}: expected NAME:PASSWORD with a non-empty name and password")]
    InvalidLocalUser(String),
    /// Hashing a password failed.
    #[error("cannot hash the password of local user {name:?}: {detail}")]
    Hash {
        /// The user.
        name: String,
        /// What argon2 said.
        detail: String,
    },
    /// The `main` team could not be created or updated.
    #[error("cannot set up the main team: {0}")]
    Store(#[from] StoreError),
}

impl LocalUser {
    /// Parses `NAME:PASSWORD` and hashes the password.
    pub fn parse(spec: &str) -> Result<LocalUser, SetupError> {
        let (name, password) = spec
            .split_once(':')
            .filter(|(name, password)| !name.is_empty() && !password.is_empty())
            .ok_or_else(|| {
                SetupError::InvalidLocalUser(spec.split(':').next().unwrap_or_default().to_owned())
            })?;
        LocalUser::new(name, password)
    }

    /// A user with this name and password.
    pub fn new(name: &str, password: &str) -> Result<LocalUser, SetupError> {
        let mut salt = [0_u8; 16];
        let hash_error = |detail: String| SetupError::Hash {
            name: name.to_owned(),
            detail,
        };
        getrandom::fill(&mut salt).map_err(|err| hash_error(err.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|err| hash_error(err.to_string()))?;
        let password_hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|err| hash_error(err.to_string()))?
            .to_string();
        Ok(LocalUser {
            name: name.to_owned(),
            password_hash,
        })
    }

    /// Whether `password` is this user's password, hashing in `memory` (grown to the hash's
    /// memory cost and kept by the caller): a thread that checks passwords reuses one buffer
    /// instead of allocating argon2's memory per check, which the allocator would keep.
    pub fn verify_in(&self, password: &str, memory: &mut Vec<argon2::Block>) -> bool {
        let Ok(hash) = PasswordHash::new(&self.password_hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let (Ok(params), Ok(algorithm)) = (
            argon2::Params::try_from(&hash),
            argon2::Algorithm::new(hash.algorithm),
        ) else {
            return false;
        };
        let version = hash
            .version
            .and_then(|version| argon2::Version::try_from(version).ok())
            .unwrap_or_default();
        let mut salt_bytes = [0_u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        memory.resize(params.block_count(), argon2::Block::default());
        let expected = expected.as_bytes();
        let mut actual = vec![0_u8; expected.len()];
        let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut actual,
            memory.as_mut_slice(),
        );
        // Compare every byte whatever the first difference, so timing says nothing.
        hashed.is_ok()
            && actual
                .iter()
                .zip(expected)
                .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// The shared state of every handler; cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: ApiConfig,
    pub(crate) login_guard: crate::auth::login_guard::LoginGuard,
}

impl ApiState {
    /// The state over `store` with `config`.
    pub fn new(store: Store, config: ApiConfig) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                store,
                config,
                login_guard: crate::auth::login_guard::LoginGuard::new(),
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
