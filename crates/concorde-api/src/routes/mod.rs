//! The route table: the paths of `reference/api.md` served so far (over half of its 108; the
//! rest, such as teams and containers' hijack, come with their issues), each with its
//! handler. Paths use Concourse's parameter names so handlers' path
//! types match the reference.

mod artifacts;
mod badges;
mod builds;
mod config;
mod events;
mod info;
mod jobs;
mod one_off;
mod pipelines;
mod preparation;
mod resources;
mod versions;
mod worker_lifecycle;
mod workers;

use axum::Router;
use axum::routing::{delete, get, post, put};

pub use artifacts::MAX_ARTIFACT_BYTES;

use crate::auth::token;
use crate::state::ApiState;

const PIPELINE: &str = "/api/v1/teams/{team_name}/pipelines/{pipeline_name}";

fn pipeline_path(rest: &str) -> String {
    format!("{PIPELINE}{rest}")
}

/// Every route, without state.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/sky/issuer/token", post(token::issue))
        .route("/api/v1/info", get(info::info))
        .route("/api/v1/user", get(token::user))
        .route("/api/v1/teams", get(info::list_teams))
        .route("/api/v1/teams/{team_name}", get(info::get_team))
        .route("/api/v1/pipelines", get(pipelines::list_all))
        .route("/api/v1/teams/{team_name}/pipelines", get(pipelines::list))
        .route(
            "/api/v1/teams/{team_name}/pipelines/ordering",
            put(pipelines::order),
        )
        .route(PIPELINE, get(pipelines::get).delete(pipelines::delete))
        .route(&pipeline_path("/pause"), put(pipelines::pause))
        .route(&pipeline_path("/unpause"), put(pipelines::unpause))
        .route(&pipeline_path("/archive"), put(pipelines::archive))
        .route(&pipeline_path("/ordering"), put(pipelines::order_instances))
        .route(&pipeline_path("/badge"), get(badges::pipeline))
        .route(&pipeline_path("/jobs/{job_name}/badge"), get(badges::job))
        .route(
            "/api/v1/pipelines/{pipeline_name}/jobs/{job_name}/badge",
            get(badges::main_job),
        )
        .route(&pipeline_path("/expose"), put(pipelines::expose))
        .route(&pipeline_path("/hide"), put(pipelines::hide))
        .route(&pipeline_path("/rename"), put(pipelines::rename))
        .route(
            &pipeline_path("/config"),
            get(config::get).put(config::save),
        )
        .route(
            &pipeline_path("/builds"),
            get(builds::list_pipeline).post(one_off::create_in_pipeline),
        )
        .route("/api/v1/jobs", get(jobs::list_all))
        .route(&pipeline_path("/jobs"), get(jobs::list))
        .route(&pipeline_path("/jobs/{job_name}"), get(jobs::get))
        .route(
            &pipeline_path("/jobs/{job_name}/builds"),
            get(builds::list_job).post(jobs::trigger),
        )
        .route(
            &pipeline_path("/jobs/{job_name}/builds/{build_name}"),
            get(builds::get_job_build).post(jobs::rerun),
        )
        .route(&pipeline_path("/jobs/{job_name}/inputs"), get(jobs::inputs))
        .route(&pipeline_path("/jobs/{job_name}/pause"), put(jobs::pause))
        .route(
            &pipeline_path("/jobs/{job_name}/unpause"),
            put(jobs::unpause),
        )
        .route(
            &pipeline_path("/jobs/{job_name}/schedule"),
            put(jobs::schedule),
        )
        .route("/api/v1/builds", get(builds::list_all))
        .route(
            "/api/v1/teams/{team_name}/builds",
            get(builds::list_team).post(one_off::create),
        )
        .route(
            "/api/v1/teams/{team_name}/artifacts/{artifact_id}",
            get(artifacts::get),
        )
        .route(
            "/api/v1/builds/{build_id}/artifacts",
            get(one_off::list_artifacts),
        )
        .route("/api/v1/builds/{build_id}", get(builds::get))
        .route("/api/v1/builds/{build_id}/plan", get(builds::plan))
        .route(
            "/api/v1/builds/{build_id}/preparation",
            get(preparation::get),
        )
        .route("/api/v1/builds/{build_id}/events", get(events::stream))
        .route(
            "/api/v1/builds/{build_id}/resources",
            get(builds::resources),
        )
        .route("/api/v1/builds/{build_id}/abort", put(builds::abort))
        .route("/api/v1/resources", get(resources::list_all))
        .route(&pipeline_path("/resources"), get(resources::list))
        .route(
            &pipeline_path("/resource-types"),
            get(resources::list_types),
        )
        .route(
            &pipeline_path("/resources/{resource_name}"),
            get(resources::get),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/check"),
            post(resources::check),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/check/webhook"),
            post(resources::webhook),
        )
        .route(
            &pipeline_path("/resource-types/{resource_type_name}/check"),
            post(resources::check_type),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/unpin"),
            put(versions::unpin),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/pin_comment"),
            put(versions::pin_comment),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/versions"),
            get(versions::list).delete(versions::clear),
        )
        .route(
            &pipeline_path("/resource-types/{resource_type_name}/versions"),
            delete(versions::clear_type),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/versions/{resource_config_version_id}"),
            get(versions::get),
        )
        .route(
            &pipeline_path(
                "/resources/{resource_name}/versions/{resource_config_version_id}/enable",
            ),
            put(versions::enable),
        )
        .route(
            &pipeline_path(
                "/resources/{resource_name}/versions/{resource_config_version_id}/disable",
            ),
            put(versions::disable),
        )
        .route(
            &pipeline_path("/resources/{resource_name}/versions/{resource_config_version_id}/pin"),
            put(versions::pin),
        )
        .route(
            &pipeline_path(
                "/resources/{resource_name}/versions/{resource_config_version_id}/input_to",
            ),
            get(versions::input_to),
        )
        .route(
            &pipeline_path(
                "/resources/{resource_name}/versions/{resource_config_version_id}/output_of",
            ),
            get(versions::output_of),
        )
        .route("/api/v1/workers", get(workers::list_workers))
        .route(
            "/api/v1/workers/{worker_name}/land",
            put(worker_lifecycle::land),
        )
        .route(
            "/api/v1/workers/{worker_name}/retire",
            put(worker_lifecycle::retire),
        )
        .route(
            "/api/v1/workers/{worker_name}/prune",
            put(worker_lifecycle::prune),
        )
        .route(
            "/api/v1/teams/{team_name}/containers",
            get(workers::list_containers),
        )
        .route(
            "/api/v1/teams/{team_name}/containers/{id}",
            get(workers::get_container),
        )
        .route(
            "/api/v1/teams/{team_name}/volumes",
            get(workers::list_volumes),
        )
}

/// Routes whose bodies stream past the API's usual body limit (artifact uploads), without
/// state.
pub fn upload_routes() -> Router<ApiState> {
    Router::new().route(
        "/api/v1/teams/{team_name}/artifacts",
        post(artifacts::create),
    )
}
