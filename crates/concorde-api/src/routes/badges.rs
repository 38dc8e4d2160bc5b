//! Badges: an SVG showing the status of a job's latest finished build, or the worst of a
//! pipeline's jobs, for READMEs (`?title=` replaces the word `build`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use concorde_store::{BuildId, BuildStatus, Store};
use tracing::instrument;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiPath, JobPath, PipelinePath, QueryParams};
use crate::lookup;
use crate::state::ApiState;

/// `:pipeline_name/jobs/:job_name` under the legacy `/api/v1/pipelines` (team `main`).
#[derive(Debug, serde::Deserialize)]
pub struct MainJobPath {
    /// The pipeline.
    pub pipeline_name: String,
    /// The job.
    pub job_name: String,
}

/// `GET .../jobs/:job_name/badge`.
#[instrument(skip_all)]
pub async fn job(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<JobPath>,
    query: QueryParams,
) -> ApiResult<Response> {
    job_badge(
        &state,
        &caller,
        (&path.team_name, &path.pipeline_name),
        &path.job_name,
        &query,
    )
    .await
}

/// `GET /api/v1/pipelines/:pipeline_name/jobs/:job_name/badge`: a job of team `main`.
#[instrument(skip_all)]
pub async fn main_job(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<MainJobPath>,
    query: QueryParams,
) -> ApiResult<Response> {
    let pair = (concorde_store::MAIN_TEAM, path.pipeline_name.as_str());
    job_badge(&state, &caller, pair, &path.job_name, &query).await
}

async fn job_badge(
    state: &ApiState,
    caller: &Caller,
    pair: (&str, &str),
    job_name: &str,
    query: &QueryParams,
) -> ApiResult<Response> {
    let scoped = lookup::readable_pipeline(state, caller, pair, query).await?;
    let job = lookup::job(state.store(), &scoped, job_name).await?;
    let status = status_of(state.store(), job.latest_completed_build_id).await?;
    Ok(svg(query, status))
}

/// `GET .../pipelines/:pipeline_name/badge`: the worst latest status of its jobs.
#[instrument(skip_all)]
pub async fn pipeline(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<PipelinePath>,
    query: QueryParams,
) -> ApiResult<Response> {
    let pair = (path.team_name.as_str(), path.pipeline_name.as_str());
    let scoped = lookup::readable_pipeline(&state, &caller, pair, &query).await?;
    let mut worst = None;
    for job in state.store().list_jobs(scoped.pipeline.id).await? {
        let status = status_of(state.store(), job.latest_completed_build_id).await?;
        if rank(status) > rank(worst) {
            worst = status;
        }
    }
    Ok(svg(&query, worst))
}

async fn status_of(store: &Store, build: Option<BuildId>) -> ApiResult<Option<BuildStatus>> {
    Ok(match build {
        Some(id) => Some(store.build(id).await?.status),
        None => None,
    })
}

/// How bad a status is, for a pipeline's badge: failing beats erroring beats aborted beats
/// passing beats nothing at all.
fn rank(status: Option<BuildStatus>) -> u8 {
    match status {
        Some(BuildStatus::Failed) => 4,
        Some(BuildStatus::Errored) => 3,
        Some(BuildStatus::Aborted) => 2,
        Some(BuildStatus::Succeeded) => 1,
        _ => 0,
    }
}

/// The badge's word and colour for a status.
fn look(status: Option<BuildStatus>) -> (&'static str, &'static str) {
    match status {
        Some(BuildStatus::Succeeded) => ("passing", "#44cc11"),
        Some(BuildStatus::Failed) => ("failing", "#e05d44"),
        Some(BuildStatus::Errored) => ("errored", "#fe7d37"),
        Some(BuildStatus::Aborted) => ("aborted", "#8f4b2d"),
        _ => ("unknown", "#9f9f9f"),
    }
}

fn svg(query: &QueryParams, status: Option<BuildStatus>) -> Response {
    let title = escape(query.get("title").unwrap_or("build"));
    let (word, colour) = look(status);
    // Verdana 11px averages about 7 px a character; 10 px of padding each side.
    let width = |text: &str| 7 * text.chars().count() + 10;
    let (left, right) = (width(&title), width(word));
    let total = left + right;
    let body = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}: {word}"><title>{title}: {word}</title><rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{colour}"/><g fill="#fff" text-anchor="middle" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11"><text x="{lx}" y="14">{title}</text><text x="{rx}" y="14">{word}</text></g></svg>"##,
        lx = left / 2,
        rx = left + right / 2,
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        ],
        body,
    )
        .into_response()
}

/// `text` safe inside SVG text and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
