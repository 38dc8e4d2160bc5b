//! Concourse's HTTP API over the store: the routes of `reference/api.md`, bearer-token auth
//! for local users, and build events as server-sent events. The only crate that uses axum.
//!
//! [`router`] builds the whole HTTP surface from an [`ApiState`] (the store plus settings).
//! Handlers never talk to the web node's components: they write to the store and send its
//! notifications (schedule requests, check requests, aborts), which the components act on.
//! Setting a pipeline is the store's `set_pipeline`, shared with the engine's `set_pipeline`
//! step; this crate validates first only to report warnings and errors as Concourse does.

mod auth;
mod error;
mod extract;
mod local_user;
mod login_guard;
mod lookup;
mod present;
mod routes;
mod serve;
mod state;
mod validation;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use auth::token::issue_token;
pub use auth::{Caller, Identity, Role};
pub use error::{ApiError, ApiResult, ErrorDetail, OAuthError};
pub use local_user::{LocalUser, SetupError};
pub use serve::serve;
pub use state::{ApiConfig, ApiState, DEFAULT_VERSION, ensure_main_team};
pub use validation::validation_response;

/// The whole HTTP API: `/api/v1/...` and `/sky/issuer/token`.
///
/// Layers, outermost first: tracing (logs every request, and the detail of 5xx errors), the
/// `X-Concourse-Version` header, and the body size limit (413 past `max_body_bytes`; artifact
/// uploads, which stream, past `MAX_ARTIFACT_BYTES`).
pub fn router(state: ApiState) -> Router {
    let max_body = state.config().max_body_bytes;
    let version = HeaderValue::from_str(&state.config().version)
        .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
    let limited = routes::routes()
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body));
    let uploads = routes::upload_routes()
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(routes::MAX_ARTIFACT_BYTES));
    limited
        .merge(uploads)
        .with_state(state)
        .layer(axum::middleware::map_response(
            move |mut response: Response<axum::body::Body>| {
                let version = version.clone();
                async move {
                    response
                        .headers_mut()
                        .insert(concorde_proto::VERSION_HEADER, version);
                    response
                }
            },
        ))
        .layer(TraceLayer::new_for_http().on_response(log_response))
}

fn log_response<B>(response: &Response<B>, latency: std::time::Duration, _span: &tracing::Span) {
    let status = response.status().as_u16();
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    match response.extensions().get::<ErrorDetail>() {
        Some(ErrorDetail(detail)) => {
            tracing::error!(status, latency_ms, error = %detail, "request failed")
        }
        None => tracing::debug!(status, latency_ms, "request finished"),
    }
}
