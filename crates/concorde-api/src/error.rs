//! The API's one error type. Every handler returns `Result<_, ApiError>`; [`ApiError::status_code`]
//! is the single place that decides the status, and 5xx bodies never carry internal details
//! (the detail travels in a response extension for the trace layer to log).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use concorde_proto::SaveConfigResponse;
use concorde_store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid token where one is needed.
    #[error("not authorized")]
    Unauthorized,
    /// A valid token without the role the route needs.
    #[error("forbidden")]
    Forbidden,
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed: bad JSON, a non-numeric id, a bad query value, ...
    #[error("{0}")]
    BadRequest(String),
    /// A pipeline config was refused; the body is `{"errors": [...]}`.
    #[error("invalid pipeline config")]
    InvalidConfig(SaveConfigResponse),
    /// The pipeline is archived and the route changes it.
    #[error("action not allowed for an archived pipeline")]
    Archived,
    /// The action is switched off in the config (manual triggers, reruns); empty body.
    #[error("")]
    Disabled,
    /// The action conflicts with the current state, e.g. pinning a resource pinned in its config.
    #[error("{0}")]
    Conflict(String),
    /// The request body's content type is not one the route reads.
    #[error("unsupported media type {0:?}; use application/json or application/x-yaml")]
    UnsupportedMediaType(String),
    /// The request body is larger than the route accepts.
    #[error("request body too large: {0}")]
    PayloadTooLarge(String),
    /// A save raced another one (Concourse answers 500 with this exact message).
    #[error("failed to save config: comparison with existing config failed during save")]
    ConfigVersionMismatch,
    /// The webhook token is missing from the query.
    #[error("missing webhook_token")]
    MissingWebhookToken,
    /// The token endpoint refused the request; the body is OAuth2's `{"error", "error_description"}`.
    #[error("{}", .0.description())]
    OAuth(OAuthError),
    /// Too many failed logins from this client or for this user, or too many password checks
    /// waiting: 429 with `Retry-After`.
    #[error("too many login attempts; try again in {retry_after}s")]
    TooManyRequests {
        /// Seconds until a new attempt may be admitted.
        retry_after: u64,
    },
    /// Nothing can serve the request now (no worker fits); the message says what is missing.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else; the client sees "internal error".
    #[error("internal error: {0}")]
    Internal(String),
}

/// An OAuth2 error of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// The client is not `fly`.
    InvalidClient,
    /// Wrong user name or password.
    AccessDenied,
    /// Only the password grant is served.
    UnsupportedGrantType,
    /// A parameter is missing or malformed.
    InvalidRequest(String),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidRequest(_) => "invalid_request",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> String {
        match self {
            OAuthError::InvalidClient => "Invalid client credentials.".to_owned(),
            OAuthError::AccessDenied => "Invalid username or password".to_owned(),
            OAuthError::UnsupportedGrantType => "Only the password grant is supported.".to_owned(),
            OAuthError::InvalidRequest(detail) => detail.clone(),
        }
    }
}

/// The internal detail of a 5xx response, for the trace layer to log; never sent.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, .. } => ApiError::NotFound(kind.to_owned()),
            StoreError::AlreadyExists { kind, name } => {
                ApiError::Conflict(format!("{kind} {name:?} already exists"))
            }
            StoreError::ConfigVersionMismatch { .. } => ApiError::ConfigVersionMismatch,
            StoreError::InvalidConfig { errors } => {
                ApiError::InvalidConfig(concorde_proto::SaveConfigResponse {
                    errors,
                    warnings: Vec::new(),
                })
            }
            StoreError::SetOtherTeamsPipeline => ApiError::Forbidden,
            StoreError::ConfigTooLarge { .. } => ApiError::PayloadTooLarge(err.to_string()),
            StoreError::InvalidJson { .. }
            | StoreError::EmptyVersion
            | StoreError::InvalidUtf8 { .. } => ApiError::BadRequest(err.to_string()),
            StoreError::InvalidTransition { .. } => ApiError::Conflict(err.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_)
            | ApiError::InvalidConfig(_)
            | ApiError::MissingWebhookToken => StatusCode::BAD_REQUEST,
            ApiError::OAuth(OAuthError::InvalidClient | OAuthError::AccessDenied) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::OAuth(OAuthError::UnsupportedGrantType | OAuthError::InvalidRequest(_)) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Archived | ApiError::Disabled | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ConfigVersionMismatch | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = match &self {
            ApiError::InvalidConfig(body) => (status, axum::Json(body)).into_response(),
            ApiError::Disabled => status.into_response(),
            ApiError::OAuth(oauth) => {
                let body = serde_json::json!({"error": oauth.code(), "error_description": oauth.description()});
                (status, axum::Json(body)).into_response()
            }
            ApiError::TooManyRequests { retry_after } => {
                let body = serde_json::json!({"error": "too_many_requests", "error_description": self.to_string()});
                let mut response = (status, axum::Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                response
            }
            ApiError::Internal(_) => (status, "internal error").into_response(),
            ApiError::Unavailable(message) => (status, message.clone()).into_response(),
            other => (status, other.to_string()).into_response(),
        };
        if status.is_server_error() {
            response
                .extensions_mut()
                .insert(ErrorDetail(self.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            // Concourse clears the web UI's auth cookies on any 401.
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static("skymarshal_auth=; Path=/; Max-Age=0; HttpOnly"),
            );
        }
        response
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
