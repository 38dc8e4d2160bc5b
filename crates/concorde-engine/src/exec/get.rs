//! `get`: find the version (given, from a put, or the latest by a check), then fetch it into a
//! resource cache volume with the type's `in` script.

use concorde_config::model::VersionMap;
use concorde_config::vars::{Missing, interpolate_json};
use concorde_worker::{ImageSpec, VolumeStrategy};
use futures::future::BoxFuture;

use concorde_core::EventKind;

use crate::artifact::Artifact;
use crate::base_type::ScriptCommand;
use crate::event::{BuildEvent, MetadataField, Origin, now_unix};
use crate::exec::script::{
    ScriptRun, TypeScripts, first_json_value, parse_version_result, run_script,
};
use crate::exec::{Exec, StepError, StepResult, place_step, with_step_timeout};
use crate::handles::new_volume_handle;
use crate::placer::{StepNeeds, StepWorker};
use crate::plan::{GetPlan, PlanId};
use crate::worker_client::{CacheIdentity, ContainerRole, ContainerVolume};

/// A fetched version in a volume.
pub(crate) struct Fetched {
    pub artifact: Artifact,
}

/// The `get` step: registers the artifact on success.
pub(crate) async fn run_get(
    exec: &Exec,
    id: &PlanId,
    get: &GetPlan,
) -> Result<Option<Fetched>, StepError> {
    exec.emit_lifecycle(id, EventKind::InitializeGet).await;
    let mut fetched = None;
    let result: StepResult = with_step_timeout(exec, id, get.timeout.as_deref(), |sub| {
        let fetched = &mut fetched;
        async move {
            *fetched = fetch(&sub, id, get, true, &get.tags).await?;
            Ok(fetched.is_some())
        }
    })
    .await;
    result?;
    if let Some(fetched) = &fetched {
        exec.env.set_artifact(&get.name, fetched.artifact.clone());
    }
    Ok(fetched)
}

/// Fetches a custom type's or a task's image: like a get, but no artifact and no events of its
/// own beyond the script's logs. An image get with no tags of its own runs on a worker with
/// the tags of the step it is for.
pub(crate) async fn fetch_image(
    exec: &Exec,
    id: &PlanId,
    get: &GetPlan,
    step_tags: &[String],
) -> Result<Artifact, StepError> {
    let tags = if get.tags.is_empty() {
        step_tags
    } else {
        &get.tags
    };
    match fetch(exec, id, get, false, tags).await? {
        Some(fetched) => Ok(fetched.artifact),
        None => Err(StepError::Errored(format!(
            "fetching the image of type '{}' failed",
            get.kind
        ))),
    }
}

/// Boxed because fetching a custom type's image is itself a fetch.
fn fetch<'a>(
    exec: &'a Exec,
    id: &'a PlanId,
    get: &'a GetPlan,
    report: bool,
    tags: &'a [String],
) -> BoxFuture<'a, Result<Option<Fetched>, StepError>> {
    Box::pin(fetch_inner(exec, id, get, report, tags))
}

async fn fetch_inner(
    exec: &Exec,
    id: &PlanId,
    get: &GetPlan,
    report: bool,
    tags: &[String],
) -> Result<Option<Fetched>, StepError> {
    let mut source = serde_json::Value::Object(get.source.clone());
    let mut params = serde_json::Value::Object(get.params.clone());
    interpolate_json(&mut source, &exec.vars(), Missing::Error)
        .map_err(|err| StepError::Errored(err.to_string()))?;
    interpolate_json(&mut params, &exec.vars(), Missing::Error)
        .map_err(|err| StepError::Errored(err.to_string()))?;
    let scripts = TypeScripts::prepare(exec, &get.image, tags).await?;
    let mut needs = StepNeeds {
        plan_id: id.clone(),
        step_type: "get",
        tags: tags.to_vec(),
        ..StepNeeds::default()
    };
    scripts.add_needs(&mut needs);
    let worker = place_step(exec, &needs).await?;
    let resolved = scripts.on(exec, id, &worker).await?;
    let version = match (&get.version, &get.version_from) {
        (Some(version), _) => version.clone(),
        (None, Some(from)) => exec
            .env
            .put_versions
            .lock()
            .ok()
            .and_then(|versions| versions.get(from).cloned())
            .ok_or_else(|| StepError::Errored(format!("no version was produced by step {from}")))?,
        (None, None) => latest_version(exec, id, get, report, &worker, &resolved, &source).await?,
    };
    // A custom type's image is identified by the cache it was fetched into, wherever it runs.
    let type_image = scripts.image().map(|image| image.volume.clone());
    let identity = CacheIdentity {
        type_name: get.kind.clone(),
        base_type: type_image.is_none().then(|| get.image.base_type.clone()),
        type_image,
        source: source.clone(),
        version: version.clone(),
        params: params.clone(),
    };
    let cache_lock = exec.env.cache_locks.lock_for(&identity);
    let _held = cache_lock.lock().await;
    let client = &worker.client;
    if let Some(cached) = client
        .find_resource_cache(&identity)
        .await
        .map_err(|err| StepError::Errored(err.to_string()))?
    {
        let log = Origin {
            id: id.clone(),
            source: Some("stderr"),
        };
        exec.emit(BuildEvent::Log {
            origin: log,
            payload: "INFO: found existing resource cache\n\n".to_owned(),
            time: now_unix(),
        })
        .await;
        finish(
            exec,
            id,
            get,
            report,
            0,
            Some(&cached.version),
            &cached.metadata,
        )
        .await;
        return Ok(Some(Fetched {
            artifact: Artifact::new(client.clone(), cached.volume),
        }));
    }
    if report {
        exec.emit_lifecycle(id, EventKind::StartGet).await;
    }
    let mut stdin = serde_json::json!({"source": source, "version": version});
    if params.as_object().is_some_and(|map| !map.is_empty())
        && let Some(map) = stdin.as_object_mut()
    {
        map.insert("params".to_owned(), params.clone());
    }
    let volume = new_volume_handle(exec.env.context.build_id, id, "get");
    let run = ScriptRun {
        id,
        image: &get.image,
        name: &get.name,
        role: if report {
            ContainerRole::Step
        } else {
            ContainerRole::ImageGet
        },
        worker: &worker,
        resolved,
        action: "in",
        dir: Some("/tmp/build/get"),
        stdin,
        volumes: vec![ContainerVolume {
            handle: volume.clone(),
            strategy: VolumeStrategy::Empty,
            path: "/tmp/build/get".to_owned(),
        }],
        mounts: Vec::new(),
        expose_created_by: false,
    };
    // Until it is a cache, the volume is the build's, destroyed with its other volumes.
    let output = run_script(exec, run).await;
    exec.env.track_volume(client, &volume);
    let output = output?;
    if output.exit_status != 0 {
        finish(exec, id, get, report, output.exit_status, None, &[]).await;
        return Ok(None);
    }
    let (fetched_version, metadata) =
        parse_version_result(&output.stdout, "/opt/resource/in /tmp/build/get")?;
    client
        .init_resource_cache(&volume, &identity, &fetched_version, &metadata)
        .await
        .map_err(|err| StepError::Errored(err.to_string()))?;
    exec.env.keep_volume(&volume);
    finish(exec, id, get, report, 0, Some(&fetched_version), &metadata).await;
    Ok(Some(Fetched {
        artifact: Artifact::new(client.clone(), volume),
    }))
}

async fn finish(
    exec: &Exec,
    id: &PlanId,
    get: &GetPlan,
    report: bool,
    exit_status: i32,
    version: Option<&VersionMap>,
    metadata: &[MetadataField],
) {
    if let (Some(version), Some(resource), Some(recorder)) =
        (version, &get.resource, &exec.env.recorder)
    {
        recorder.input_fetched(resource, version, metadata);
    }
    if report {
        exec.emit(BuildEvent::FinishResource {
            kind: EventKind::FinishGet,
            origin: Origin::step(id),
            exit_status,
            version: version.cloned(),
            metadata: metadata.to_vec(),
            time: now_unix(),
        })
        .await;
    }
}

/// The newest version according to a `check` with no starting version.
async fn latest_version(
    exec: &Exec,
    id: &PlanId,
    get: &GetPlan,
    report: bool,
    worker: &StepWorker,
    resolved: &(ImageSpec, ScriptCommand),
    source: &serde_json::Value,
) -> Result<VersionMap, StepError> {
    let run = ScriptRun {
        id,
        image: &get.image,
        name: &get.name,
        role: if report {
            ContainerRole::Step
        } else {
            ContainerRole::ImageCheck
        },
        worker,
        resolved: resolved.clone(),
        action: "check",
        dir: None,
        stdin: serde_json::json!({"source": source}),
        volumes: Vec::new(),
        mounts: Vec::new(),
        expose_created_by: false,
    };
    let output = run_script(exec, run).await?;
    if output.exit_status != 0 {
        return Err(StepError::Errored(format!(
            "resource script '/opt/resource/check []' failed: exit status {}",
            output.exit_status
        )));
    }
    let versions: Vec<VersionMap> =
        first_json_value(&output.stdout, "/opt/resource/check []")?.unwrap_or_default();
    versions
        .into_iter()
        .next_back()
        .ok_or_else(|| StepError::Errored(format!("no versions of {} are available", get.name)))
}
