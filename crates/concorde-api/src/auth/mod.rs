//! Who is calling and what they may do: the [`Caller`] extractor reads the bearer token (or the
//! web UI's cookie, with its CSRF rule), and the gate methods implement Concourse's wrappers
//! (`authn`, `authz`, `pipeline`, `admin`) with its 401/403 split.

pub mod token;

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use concorde_store::{StoreError, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::state::ApiState;

/// A team role; a higher role satisfies a lower requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read-only.
    Viewer,
    /// May trigger, pause, pin.
    PipelineOperator,
    /// May set pipelines.
    Member,
    /// May change the team.
    Owner,
}

impl Role {
    /// The name used in team auth documents and `/api/v1/user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::PipelineOperator => "pipeline-operator",
            Role::Member => "member",
            Role::Owner => "owner",
        }
    }

    fn parse(name: &str) -> Option<Role> {
        Some(match name {
            "viewer" => Role::Viewer,
            "pipeline-operator" => Role::PipelineOperator,
            "member" => Role::Member,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// The identity a token was issued to; stored as the token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Subject.
    pub sub: String,
    /// The connector (`local`).
    pub connector: String,
    /// The user id within the connector.
    pub user_id: String,
    /// The user name within the connector.
    pub user_name: String,
    /// Groups, as `connector:group`.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The caller of a request: anonymous, or an identity with its roles per team.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Who, when a valid token came with the request.
    pub identity: Option<Identity>,
    /// Lower-cased team name to the caller's highest role on it.
    roles: HashMap<String, Role>,
    /// Owner of an admin team.
    is_admin: bool,
}

impl Caller {
    /// Whether the caller is an administrator.
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// The caller's highest role on a team.
    pub fn role_on(&self, team: &str) -> Option<Role> {
        self.roles.get(&team.to_lowercase()).copied()
    }

    /// Team names and roles, for `/api/v1/user`.
    pub fn roles(&self) -> impl Iterator<Item = (&str, Role)> {
        self.roles.iter().map(|(team, role)| (team.as_str(), *role))
    }

    /// The user name, for `created_by` and `paused_by`.
    pub fn user_name(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .map(|identity| identity.user_name.as_str())
    }

    /// `authn`: any valid token.
    pub fn require_authenticated(&self) -> ApiResult<&Identity> {
        self.identity.as_ref().ok_or(ApiError::Unauthorized)
    }

    /// `authz`: at least `role` on `team`, or admin. 401 anonymous, 403 otherwise.
    pub fn require_role(&self, team: &str, role: Role) -> ApiResult<()> {
        self.require_authenticated()?;
        if self.is_admin || self.role_on(team).is_some_and(|held| held >= role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Whether the caller may read a team's private objects (viewer or admin).
    pub fn can_view(&self, team: &str) -> bool {
        self.require_role(team, Role::Viewer).is_ok()
    }

    /// `pipeline`: the pipeline is public, or `authz` viewer passes.
    pub fn require_pipeline_read(&self, team: &str, public: bool) -> ApiResult<()> {
        if public {
            Ok(())
        } else {
            self.require_role(team, Role::Viewer)
        }
    }

    /// `admin`.
    pub fn require_admin(&self) -> ApiResult<()> {
        self.require_authenticated()?;
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

const AUTH_COOKIE: &str = "skymarshal_auth";
const CSRF_COOKIE: &str = "skymarshal_csrf";
const CSRF_HEADER: &str = "x-csrf-token";

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<Caller> {
        let Some(token) = request_token(parts)? else {
            return Ok(Caller::default());
        };
        let stored = match state.store().access_token(&token, Timestamp::now()).await {
            Ok(stored) => stored,
            // An unknown or expired token counts as none; gates that need one answer 401.
            Err(StoreError::NotFound { .. }) => return Ok(Caller::default()),
            Err(err) => return Err(err.into()),
        };
        let identity: Identity = serde_json::from_value(stored.claims)
            .map_err(|err| ApiError::Internal(format!("stored token claims: {err}")))?;
        // A local user removed from the node's flags loses their tokens at once.
        if identity.connector == "local" && state.local_user(&identity.user_id).is_none() {
            return Ok(Caller::default());
        }
        caller_for(state, identity).await
    }
}

/// Computes the roles of an identity from the teams' auth documents.
pub(crate) async fn caller_for(state: &ApiState, identity: Identity) -> ApiResult<Caller> {
    let mut roles = HashMap::new();
    let mut is_admin = false;
    for team in state.store().list_teams().await? {
        let auth: HashMap<String, concorde_proto::RoleConfig> = serde_json::from_value(team.auth)
            .map_err(|err| {
            ApiError::Internal(format!("team {}'s stored auth: {err}", team.name))
        })?;
        let held = auth
            .iter()
            .filter(|(_, members)| matches_members(&identity, members))
            .filter_map(|(role, _)| Role::parse(role))
            .max();
        if let Some(role) = held {
            is_admin |= team.admin && role == Role::Owner;
            roles.insert(team.name.to_lowercase(), role);
        }
    }
    Ok(Caller {
        identity: Some(identity),
        roles,
        is_admin,
    })
}

fn matches_members(identity: &Identity, members: &concorde_proto::RoleConfig) -> bool {
    let user_keys = [
        format!("{}:{}", identity.connector, identity.user_id),
        format!("{}:{}", identity.connector, identity.user_name),
    ];
    members
        .users
        .iter()
        .any(|user| user_keys.iter().any(|key| key.eq_ignore_ascii_case(user)))
        || members.groups.iter().any(|group| {
            identity
                .groups
                .iter()
                .any(|held| held.eq_ignore_ascii_case(group))
        })
}

/// The token of a request: `Authorization: Bearer <token>`, or the web UI's cookie, which
/// for state-changing methods must come with a matching CSRF header.
fn request_token(parts: &Parts) -> ApiResult<Option<String>> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        return Ok(bearer(value));
    }
    let cookies = cookies(parts);
    let Some(value) = cookies.get(AUTH_COOKIE) else {
        return Ok(None);
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        // An empty token matches nothing: a header and cookie both empty prove nothing.
        let header = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty());
        if header.is_none() || header != cookies.get(CSRF_COOKIE).map(String::as_str) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(bearer(value))
}

fn bearer(value: &str) -> Option<String> {
    let (kind, token) = value.trim().split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

fn cookies(parts: &Parts) -> HashMap<String, String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('"').to_owned()))
        .collect()
}
