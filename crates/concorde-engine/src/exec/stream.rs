//! Bringing an artifact to the worker a step was placed on: the artifact's own volume when it
//! lives there, otherwise a copy streamed from its worker into a new volume of the build (a
//! `streaming-volume` event says so): pushed straight from worker to worker when both can
//! (peer to peer), else through the web node. Each volume is streamed to a worker once per
//! build; steps that need it there again share the copy.

use concorde_worker::VolumeHandle;

use crate::artifact::Artifact;
use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::{Exec, StepError};
use crate::handles::new_volume_handle;
use crate::placer::StepWorker;
use crate::plan::PlanId;

/// Bytes in flight between the source worker's stream and the destination's.
const STREAM_BUFFER: usize = 256 * 1024;

/// `artifact` as a volume on `to`, streamed there first if it lives elsewhere.
pub(crate) async fn volume_on(
    exec: &Exec,
    id: &PlanId,
    artifact: &Artifact,
    to: &StepWorker,
) -> Result<VolumeHandle, StepError> {
    if artifact.worker_name() == to.name() {
        return Ok(artifact.volume.clone());
    }
    let cell = exec.env.streamed.copy(&artifact.volume, to.name());
    cell.get_or_try_init(|| stream_copy(exec, id, artifact, to))
        .await
        .cloned()
}

async fn stream_copy(
    exec: &Exec,
    id: &PlanId,
    artifact: &Artifact,
    to: &StepWorker,
) -> Result<VolumeHandle, StepError> {
    exec.emit(BuildEvent::StreamingVolume {
        origin: Origin::step(id),
        volume: artifact.volume.0.clone(),
        source_worker: artifact.worker_name().to_owned(),
        dest_worker: to.name().to_owned(),
        time: now_unix(),
    })
    .await;
    let failed = |err: &dyn std::fmt::Display| {
        StepError::Errored(format!(
            "streaming volume {} from worker {} to worker {}: {err}",
            artifact.volume.0,
            artifact.worker_name(),
            to.name()
        ))
    };
    let copy = new_volume_handle(exec.env.context.build_id, id, "stream");
    to.client
        .create_streamed_volume(&copy)
        .await
        .map_err(|err| failed(&err))?;
    exec.env.track_volume(&to.client, &copy);
    let pushed = async {
        let Some(url) = to.client.p2p_stream_in_url(&copy).await? else {
            return Ok(false);
        };
        artifact
            .worker
            .stream_p2p_out(&artifact.volume, &url)
            .await?;
        Ok::<bool, concorde_worker::WorkerError>(true)
    };
    let pushed = tokio::select! {
        pushed = pushed => pushed,
        () = exec.cancel.cancelled() => return Err(StepError::Interrupted),
    };
    match pushed {
        Ok(true) => return Ok(copy),
        Ok(false) => {}
        // Through the web node instead, over what the push may have left.
        Err(err) => tracing::warn!(
            volume = %artifact.volume.0,
            from = artifact.worker_name(),
            to = to.name(),
            error = %err,
            "streaming peer to peer failed; streaming through the web node"
        ),
    }
    let (reader, writer) = tokio::io::duplex(STREAM_BUFFER);
    let sending = artifact
        .worker
        .stream_out(&artifact.volume, ".", Box::new(writer));
    let receiving = to.client.stream_in(&copy, ".", Box::new(reader));
    let both = async { tokio::join!(sending, receiving) };
    let (sent, received) = tokio::select! {
        both = both => both,
        () = exec.cancel.cancelled() => return Err(StepError::Interrupted),
    };
    sent.map_err(|err| failed(&err))?;
    received.map_err(|err| failed(&err))?;
    Ok(copy)
}
