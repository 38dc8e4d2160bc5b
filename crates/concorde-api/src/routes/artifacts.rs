//! Artifacts: `fly execute` uploads each input as a tar.gz, which lands in a new volume of the
//! local worker (recorded as the artifact's before it is made), and downloads the outputs a build kept as tar.gz. Both stream: neither holds
//! an artifact in memory, whatever its size.

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use concorde_engine::StepNeeds;
use concorde_proto as proto;
use concorde_store::{Artifact, ArtifactId, PlacementQuery, Timestamp};
use concorde_worker::VolumeHandle;
use concorde_workers::{RecordedWorker, WorkerPool, unsatisfied};
use futures::TryStreamExt;
use serde::Deserialize;
use tokio::io::BufReader;
use tokio_util::io::{ReaderStream, StreamReader};
use tracing::{instrument, warn};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, TeamPath};
use crate::lookup;
use crate::state::ApiState;

/// Largest artifact upload accepted, compressed.
pub const MAX_ARTIFACT_BYTES: usize = 4 * 1024 * 1024 * 1024;

/// `:team_name/artifacts/:artifact_id`.
#[derive(Debug, Deserialize)]
pub struct ArtifactPath {
    /// The team.
    pub team_name: String,
    /// The artifact.
    pub artifact_id: i64,
}

/// The wire form of an artifact.
pub fn present(artifact: &Artifact) -> proto::WorkerArtifact {
    proto::WorkerArtifact {
        id: artifact.id.0,
        name: artifact.name.clone(),
        build_id: artifact.build_id.map_or(0, |build| build.0),
        created_at: artifact.created_at.0 / 1000,
    }
}

fn pool(state: &ApiState) -> ApiResult<WorkerPool> {
    state
        .config()
        .workers
        .clone()
        .ok_or_else(|| ApiError::Internal("this node reaches no workers".into()))
}

/// `POST /api/v1/teams/:team_name/artifacts`: the tar.gz body becomes a new volume; 201.
#[instrument(skip_all)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<TeamPath>,
    body: Body,
) -> ApiResult<(StatusCode, Json<proto::WorkerArtifact>)> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    // An upload goes to any untagged worker of the team (or a global one); the build's
    // steps are placed near it, or stream it to where they run.
    let query = PlacementQuery {
        team: Some(team.id),
        ..PlacementQuery::default()
    };
    let needs = StepNeeds {
        step_type: "artifact",
        ..StepNeeds::default()
    };
    let worker = pool(&state)?
        .place(&query, &needs)
        .await?
        .placed()
        .ok_or_else(|| ApiError::Unavailable(unsatisfied(&needs)))?
        .worker;
    let volume = VolumeHandle(format!("artifact-{}", unique_suffix()));
    let artifact = state
        .store()
        .create_artifact(team.id, "", None, &volume.0, Timestamp::now())
        .await?;
    let discard = |worker: RecordedWorker, volume: VolumeHandle| async move {
        let _ = worker.destroy_volume(&volume).await;
        if let Err(err) = state.store().delete_artifact(artifact.id).await {
            warn!(artifact = %artifact.id, error = %err, "could not forget a failed upload");
        }
    };
    if let Err(err) = worker
        .create_artifact_volume(&volume, team.id, artifact.id)
        .await
    {
        discard(worker, volume).await;
        return Err(ApiError::Internal(format!(
            "could not create a volume: {err}"
        )));
    }
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let tar = GzipDecoder::new(BufReader::new(StreamReader::new(stream)));
    if let Err(err) = worker
        .transport()
        .stream_in(&volume, ".", Box::new(tar))
        .await
    {
        discard(worker, volume).await;
        return Err(ApiError::BadRequest(format!(
            "could not unpack the upload (a tar.gz is expected): {err}"
        )));
    }
    Ok((StatusCode::CREATED, Json(present(&artifact))))
}

/// `GET /api/v1/teams/:team_name/artifacts/:artifact_id`: the artifact as tar.gz.
#[instrument(skip_all)]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(path): ApiPath<ArtifactPath>,
) -> ApiResult<Response> {
    caller.require_role(&path.team_name, Role::Member)?;
    let team = lookup::team(state.store(), &path.team_name).await?;
    let artifact = state.store().artifact(ArtifactId(path.artifact_id)).await?;
    let volume = artifact
        .volume
        .filter(|_| artifact.team_id == Some(team.id))
        .map(VolumeHandle)
        .ok_or_else(|| ApiError::NotFound("artifact".into()))?;
    let row = state
        .store()
        .volume(&concorde_store::VolumeHandle(volume.0.clone()))
        .await
        .map_err(|_| ApiError::NotFound("artifact".into()))?;
    let runtime = pool(&state)?
        .named(&row.worker_name)
        .await?
        .worker
        .transport()
        .clone();
    let exists = runtime
        .lookup_volume(&volume)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    if exists.is_none() {
        return Err(ApiError::NotFound("artifact".into()));
    }
    let (reader, writer) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Err(err) = runtime.stream_out(&volume, ".", Box::new(writer)).await {
            warn!(volume = %volume.0, error = %err, "streaming an artifact out failed");
        }
    });
    let gzipped = GzipEncoder::new(BufReader::new(reader));
    let body = Body::from_stream(ReaderStream::new(gzipped));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// A suffix no other volume of this node has.
fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{count}", Timestamp::now().0)
}
