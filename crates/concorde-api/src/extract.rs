//! Request parsing with Concourse's 4xx answers: JSON bodies (400 with the decode error, 413
//! when too large), query strings (instance vars, pagination) and path parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use concorde_proto::{InstanceVars, Page};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// A JSON request body; malformed JSON is a 400 naming the problem, never a 500.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> ApiResult<Self> {
        let bytes = body_bytes(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|err| ApiError::BadRequest(format!("malformed request body: {err}")))
    }
}

/// Reads a whole body, turning the size limit into 413 and other failures into 400.
pub async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> ApiResult<Bytes> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(rejection.body_text())
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })
}

/// The decoded query string, in order; never rejects.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(QueryParams(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl QueryParams {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `key`.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Whether `key` is present at all (e.g. `?force`).
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(name, _)| name == key)
    }

    /// A pipeline's instance vars: `vars=<JSON object>` or `vars.<dotted key>=<JSON value>`
    /// (a value that is not JSON is taken as a string). `None` for a plain pipeline.
    pub fn instance_vars(&self) -> ApiResult<Option<InstanceVars>> {
        let mut vars = match self.get("vars") {
            Some(text) => serde_json::from_str::<InstanceVars>(text)
                .map_err(|err| ApiError::BadRequest(format!("invalid instance vars: {err}")))?,
            None => InstanceVars::new(),
        };
        for (name, text) in &self.0 {
            let Some(path) = name.strip_prefix("vars.") else {
                continue;
            };
            let value = serde_json::from_str(text)
                .unwrap_or_else(|_| serde_json::Value::String(text.clone()));
            insert_dotted(&mut vars, path, value)?;
        }
        Ok((!vars.is_empty()).then_some(vars))
    }

    /// The pagination query: `from`, `to`, `limit`; a non-integer is a 400.
    pub fn page(&self) -> ApiResult<Page> {
        let number = |key: &str| {
            self.get(key)
                .map(|text| {
                    text.parse::<i64>()
                        .map_err(|_| ApiError::BadRequest(format!("invalid {key}: {text:?}")))
                })
                .transpose()
        };
        Ok(Page {
            from: number("from")?,
            to: number("to")?,
            limit: number("limit")?,
        })
    }
}

fn insert_dotted(vars: &mut InstanceVars, path: &str, value: serde_json::Value) -> ApiResult<()> {
    let mut keys = path.split('.').peekable();
    let mut map = vars;
    while let Some(key) = keys.next() {
        if keys.peek().is_none() {
            map.insert(key.to_owned(), value);
            return Ok(());
        }
        let entry = map
            .entry(key.to_owned())
            .or_insert_with(|| serde_json::Value::Object(InstanceVars::new()));
        map = entry.as_object_mut().ok_or_else(|| {
            ApiError::BadRequest(format!("invalid instance vars: {path} overlaps a value"))
        })?;
    }
    Ok(())
}

/// `:team_name`.
#[derive(Debug, Deserialize)]
pub struct TeamPath {
    /// The team.
    pub team_name: String,
}

/// `:team_name/pipelines/:pipeline_name`.
#[derive(Debug, Deserialize)]
pub struct PipelinePath {
    /// The team.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_name: String,
}

/// `.../jobs/:job_name`.
#[derive(Debug, Deserialize)]
pub struct JobPath {
    /// The team.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_name: String,
    /// The job.
    pub job_name: String,
}

/// `.../jobs/:job_name/builds/:build_name`.
#[derive(Debug, Deserialize)]
pub struct JobBuildPath {
    /// The team.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_name: String,
    /// The job.
    pub job_name: String,
    /// The build's name within the job.
    pub build_name: String,
}

/// `.../resources/:resource_name` (and `.../resource-types/:resource_type_name`).
#[derive(Debug, Deserialize)]
pub struct ResourcePath {
    /// The team.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_name: String,
    /// The resource or resource type.
    #[serde(alias = "resource_type_name")]
    pub resource_name: String,
}

/// `.../resources/:resource_name/versions/:resource_config_version_id`.
#[derive(Debug, Deserialize)]
pub struct VersionPath {
    /// The team.
    pub team_name: String,
    /// The pipeline.
    pub pipeline_name: String,
    /// The resource.
    pub resource_name: String,
    /// The version's id.
    pub resource_config_version_id: i64,
}

/// `/api/v1/builds/:build_id`.
#[derive(Debug, Deserialize)]
pub struct BuildPath {
    /// The build.
    pub build_id: i64,
}

/// Path parameters; a parameter that does not parse (a non-numeric build id) or that holds a
/// control character (a NUL, which PostgreSQL cannot store and SQLite would) is a 400.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        if let Some((name, _)) = raw
            .iter()
            .find(|(_, value)| value.chars().any(char::is_control))
        {
            return Err(ApiError::BadRequest(format!(
                "path parameter {name} holds a control character"
            )));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}
