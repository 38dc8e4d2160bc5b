//! Issuing tokens (`POST /sky/issuer/token`, the OAuth2 password grant fly sends) and telling
//! a token's owner who they are (`GET /api/v1/user`).
//!
//! Tokens are opaque, as Concourse's: 20 random bytes then the expiry as 8-byte little-endian
//! unix seconds, unpadded standard base64. Only the store knows what a token means; fly reads
//! the expiry out of the trailing bytes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use concorde_proto::{TokenResponse, UserInfo};
use concorde_store::{AccessToken, Timestamp, User};
use tracing::instrument;

use crate::auth::{Caller, Identity};
use crate::error::{ApiError, ApiResult, OAuthError};
use crate::state::ApiState;

/// The only OAuth client: fly (secret `Zmx5`, i.e. base64 of "fly").
const FLY_CLIENT: &str = "fly";

/// `POST /sky/issuer/token`: exchanges a local user's name and password for a bearer token.
#[instrument(skip_all)]
pub async fn issue(
    State(state): State<ApiState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TokenResponse>> {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let client = basic_client(&headers).or_else(|| form.get("client_id").cloned());
    if client.as_deref().is_some_and(|client| client != FLY_CLIENT) {
        return Err(ApiError::OAuth(OAuthError::InvalidClient));
    }
    if form.get("grant_type").map(String::as_str) != Some("password") {
        return Err(ApiError::OAuth(OAuthError::UnsupportedGrantType));
    }
    let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
        return Err(ApiError::OAuth(OAuthError::InvalidRequest(
            "username and password are required".into(),
        )));
    };
    let peer = peer.map(|Extension(ConnectInfo(address))| address.ip());
    let guard = &state.inner.login_guard;
    guard.attempt(peer, username, Instant::now())?;
    // Argon2 is deliberately slow: it runs on the guard's check threads. An unknown name
    // costs the same check as a known one, so timing tells no names apart.
    let user = state.local_user(username).cloned();
    let verified = guard.check(user, password.clone()).await?;
    if !verified {
        return Err(ApiError::OAuth(OAuthError::AccessDenied));
    }
    guard.succeeded(peer, username);
    let identity = Identity {
        sub: format!("local:{username}"),
        connector: "local".into(),
        user_id: username.clone(),
        user_name: username.clone(),
        groups: Vec::new(),
    };
    Ok(Json(issue_token(&state, &identity).await?))
}

/// Issues and stores a token for `identity`, recording the login.
pub async fn issue_token(state: &ApiState, identity: &Identity) -> ApiResult<TokenResponse> {
    let now = Timestamp::now();
    let ttl = state.config().token_ttl;
    let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = now.plus_millis(ttl_secs.saturating_mul(1000));
    let mut bytes = [0_u8; 28];
    getrandom::fill(&mut bytes[..20])
        .map_err(|err| ApiError::Internal(format!("random token: {err}")))?;
    bytes[20..].copy_from_slice(&(expires_at.0 / 1000).to_le_bytes());
    let token = STANDARD_NO_PAD.encode(bytes);
    let claims =
        serde_json::to_value(identity).map_err(|err| ApiError::Internal(err.to_string()))?;
    let store = state.store();
    store
        .upsert_user(&User {
            sub: identity.sub.clone(),
            username: identity.user_name.clone(),
            connector: identity.connector.clone(),
            last_login: now,
        })
        .await?;
    store
        .create_access_token(&AccessToken {
            token: token.clone(),
            sub: identity.sub.clone(),
            claims,
            expires_at,
        })
        .await?;
    Ok(TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        expires_in: ttl_secs,
        id_token: None,
    })
}

/// The client id of an `Authorization: Basic` header, if any.
fn basic_client(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, encoded) = value.split_once(' ')?;
    if !kind.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (client, _secret) = text.split_once(':')?;
    // Clients URL-encode the id in the header (RFC 6749 §2.3.1).
    Some(
        form_urlencoded::parse(format!("c={client}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    )
}

/// `GET /api/v1/user`.
#[instrument(skip_all)]
pub async fn user(caller: Caller) -> ApiResult<Json<UserInfo>> {
    let identity = caller.require_authenticated()?;
    let mut teams: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (team, role) in caller.roles() {
        teams
            .entry(team.to_owned())
            .or_default()
            .push(role.as_str().to_owned());
    }
    Ok(Json(UserInfo {
        sub: identity.sub.clone(),
        name: identity.user_name.clone(),
        user_id: identity.user_id.clone(),
        user_name: identity.user_name.clone(),
        email: String::new(),
        is_admin: caller.is_admin(),
        is_system: false,
        teams,
        connector: identity.connector.clone(),
        display_user_id: identity.user_name.clone(),
    }))
}
