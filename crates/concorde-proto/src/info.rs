//! Server information, the logged-in user, and the OAuth token response of `/sky/issuer/token`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The server's version; fly compares its own major.minor with it.
    pub version: String,
    /// The worker protocol version workers must speak.
    pub worker_version: String,
    /// Optional features the server has switched on.
    #[serde(default)]
    pub feature_flags: FeatureFlags,
    /// The URL users reach the server at, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// A display name for the installation, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
}

/// The `feature_flags` object of [`Info`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureFlags {
    /// Resources with equal config share version history.
    #[serde(default)]
    pub global_resources: bool,
    /// Builds can be re-run with their inputs (`POST .../builds/:name`).
    #[serde(default)]
    pub build_rerun: bool,
    /// Streamed volumes are cached on the receiving worker.
    #[serde(default)]
    pub cache_streamed_volumes: bool,
    /// The upstream/downstream causality routes are served.
    #[serde(default)]
    pub resource_causality: bool,
}

/// `GET /api/v1/user`: who the bearer token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The identity provider's subject.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// The user id within the connector.
    pub user_id: String,
    /// The user name within the connector.
    pub user_name: String,
    /// E-mail address, empty when unknown.
    pub email: String,
    /// Owner of an admin team.
    pub is_admin: bool,
    /// A system (worker) token rather than a person.
    pub is_system: bool,
    /// Team name to the roles the user has on it.
    pub teams: BTreeMap<String, Vec<String>>,
    /// The connector that authenticated the user (`local`, `github`, ...).
    pub connector: String,
    /// What the UI shows as the user's name.
    pub display_user_id: String,
}

/// The OAuth2 token response of `POST /sky/issuer/token` (password grant, as fly sends it).
///
/// `access_token` is the opaque bearer token: unpadded standard base64 of 28 bytes, 20 random
/// bytes then the expiry as 8-byte little-endian unix seconds; fly decodes the expiry from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token to send as `Authorization: <token_type> <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// An OpenID ID token, when the server issues one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
