//! Running a resource type's `check`, `in` or `out` in a container, with the exact protocol:
//! JSON on stdin, only the first JSON value of stdout read, stderr streamed to the build log.

use concorde_config::model::VersionMap;
use concorde_worker::{
    ContainerSpec, ExitStatus, ImageSpec, Limits, Mount, ProcessIo, ProcessSpec,
};
use serde::Deserialize;

use crate::artifact::Artifact;
use crate::base_type::ScriptCommand;
use crate::event::MetadataField;
use crate::exec::{Exec, StepError, place_step, volume_on};
use crate::handles::new_container_handle;
use crate::io::{CappedBuffer, LogWriter};
use crate::placer::{StepNeeds, StepWorker};
use crate::plan::{PlanId, TypeImage};
use crate::worker_client::{ContainerPurpose, ContainerRole, ContainerVolume};

/// A script invocation.
pub(crate) struct ScriptRun<'a> {
    pub id: &'a PlanId,
    pub image: &'a TypeImage,
    /// The step's (or the checked resource's) name, for `fly containers`.
    pub name: &'a str,
    /// Whether the container does the step's work or fetches its image.
    pub role: ContainerRole,
    /// The worker it runs on.
    pub worker: &'a StepWorker,
    /// The type's image (on that worker) and command.
    pub resolved: (ImageSpec, ScriptCommand),
    /// `check`, `in` or `out`.
    pub action: &'static str,
    /// The directory argument (`/tmp/build/get`, `/tmp/build/put`), if any.
    pub dir: Option<&'static str>,
    pub stdin: serde_json::Value,
    /// Volumes made with the container and mounted in it (a get's fetch).
    pub volumes: Vec<ContainerVolume>,
    /// Existing volumes mounted in it (a put's inputs).
    pub mounts: Vec<Mount>,
    pub expose_created_by: bool,
}

/// What a script printed and how it exited.
pub(crate) struct ScriptOutput {
    pub exit_status: i32,
    pub stdout: Vec<u8>,
}

/// `{"version": {...}, "metadata": [...]}` as `in` and `out` print it.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionResult {
    pub version: Option<VersionMap>,
    #[serde(default)]
    pub metadata: Option<Vec<MetadataField>>,
}

/// Where a resource type's scripts come from, before the step has a worker: a base type the
/// worker must provide, or a custom type's image, fetched (by a nested get) on some worker.
pub(crate) enum TypeScripts {
    /// The worker's own base type of this name.
    Base(String),
    /// A custom type's image.
    Image(Artifact),
}

impl TypeScripts {
    /// Fetches a custom type's image first (a nested get, on a worker with `tags`).
    pub async fn prepare(
        exec: &Exec,
        image: &TypeImage,
        tags: &[String],
    ) -> Result<TypeScripts, StepError> {
        let Some(get_plan) = &image.get_plan else {
            return Ok(TypeScripts::Base(image.base_type.clone()));
        };
        let crate::plan::PlanStep::Get(get) = &get_plan.step else {
            return Err(StepError::Errored(
                "a resource type's image plan must be a get".to_owned(),
            ));
        };
        let fetched = crate::exec::fetch_image(exec, &get_plan.id, get, tags).await?;
        Ok(TypeScripts::Image(fetched))
    }

    /// Adds what running these scripts asks of a worker to `needs`.
    pub fn add_needs(&self, needs: &mut StepNeeds) {
        match self {
            TypeScripts::Base(name) => needs.base_type = Some(name.clone()),
            TypeScripts::Image(image) => needs.input_workers.push(image.worker_name().to_owned()),
        }
    }

    /// The custom type's image, if it is one.
    pub fn image(&self) -> Option<&Artifact> {
        match self {
            TypeScripts::Base(_) => None,
            TypeScripts::Image(image) => Some(image),
        }
    }

    /// The image and command on `worker` (the image streamed there if it is elsewhere).
    pub async fn on(
        &self,
        exec: &Exec,
        id: &PlanId,
        worker: &StepWorker,
    ) -> Result<(ImageSpec, ScriptCommand), StepError> {
        match self {
            TypeScripts::Base(name) => {
                let base = worker.base_types.get(name).ok_or_else(|| {
                    StepError::Errored(format!(
                        "worker {} does not provide the resource type '{name}'",
                        worker.name()
                    ))
                })?;
                Ok((base.image.clone(), base.command.clone()))
            }
            TypeScripts::Image(image) => {
                let volume = volume_on(exec, id, image, worker).await?;
                Ok((ImageSpec::Volume(volume), ScriptCommand::ImageScripts))
            }
        }
    }
}

/// Prepares a type's scripts and places step `needs` (a check, or an image's check) with
/// them: the worker and the image and command there.
pub(crate) async fn place_scripts(
    exec: &Exec,
    image: &TypeImage,
    mut needs: StepNeeds,
) -> Result<(StepWorker, (ImageSpec, ScriptCommand)), StepError> {
    let scripts = TypeScripts::prepare(exec, image, &needs.tags).await?;
    scripts.add_needs(&mut needs);
    let worker = place_step(exec, &needs).await?;
    let resolved = scripts.on(exec, &needs.plan_id, &worker).await?;
    Ok((worker, resolved))
}

/// Runs a script to completion. A non-zero exit is not an error here; the caller decides.
pub(crate) async fn run_script(exec: &Exec, run: ScriptRun<'_>) -> Result<ScriptOutput, StepError> {
    let (image, command) = run.resolved;
    let worker = &run.worker.client;
    let handle = new_container_handle(exec.env.context.build_id, run.id, run.action);
    let mut mounts = run.mounts;
    mounts.extend(run.volumes.iter().map(|volume| Mount {
        volume: volume.handle.clone(),
        path: volume.path.clone(),
        read_only: false,
    }));
    let spec = ContainerSpec {
        handle: handle.clone(),
        image,
        mounts,
        env: exec.env.build_env(run.expose_created_by),
        privileged: run.image.privileged,
        limits: Limits::default(),
    };
    let purpose = ContainerPurpose {
        plan_id: run.id.clone(),
        role: run.role,
        step_type: match run.action {
            "in" => "get",
            "out" => "put",
            _ => "check",
        },
        step_name: run.name.to_owned(),
        working_directory: run.dir.unwrap_or("/").to_owned(),
        user: String::new(),
    };
    worker
        .create_container(&purpose, spec, run.volumes)
        .await
        .map_err(|err| StepError::Errored(err.to_string()))?;
    exec.env.track_container(worker, &handle);
    let (path, mut args) = match command {
        ScriptCommand::ImageScripts => (format!("/opt/resource/{}", run.action), Vec::new()),
        ScriptCommand::Directory(dir) => (dir.join(run.action).display().to_string(), Vec::new()),
        ScriptCommand::Binary { path, args_prefix } => {
            let mut args = args_prefix;
            args.push(run.action.to_owned());
            (path.display().to_string(), args)
        }
    };
    if let Some(dir) = run.dir {
        args.push(dir.to_owned());
    }
    let stdout = CappedBuffer::new(exec.env.limits.max_script_stdout);
    let stdin_bytes =
        serde_json::to_vec(&run.stdin).map_err(|err| StepError::Errored(err.to_string()))?;
    let io = ProcessIo {
        stdin: Some(Box::new(std::io::Cursor::new(stdin_bytes))),
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(LogWriter::new(exec.env.events.clone(), run.id, "stderr")),
    };
    let process = ProcessSpec {
        path: path.clone(),
        args: args.clone(),
        env: Vec::new(),
        dir: None,
        user: None,
    };
    // The container stays until the build ends, with the volumes it made.
    let status = worker.run(&handle, process, io, exec.cancel.clone()).await;
    let status = status.map_err(|err| StepError::Errored(err.to_string()))?;
    let exit_status = match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Cancelled => return Err(StepError::Interrupted),
    };
    let (bytes, overflowed) = stdout.take();
    if overflowed {
        return Err(StepError::Errored(format!(
            "resource script ({path} {}) printed more than {} bytes on stdout",
            args.join(" "),
            exec.env.limits.max_script_stdout
        )));
    }
    Ok(ScriptOutput {
        exit_status,
        stdout: bytes,
    })
}

/// The first JSON value of a script's stdout, or `None` when it printed nothing.
pub(crate) fn first_json_value<T: serde::de::DeserializeOwned>(
    stdout: &[u8],
    script: &str,
) -> Result<Option<T>, StepError> {
    let mut values = serde_json::Deserializer::from_slice(stdout).into_iter::<serde_json::Value>();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let value = first.map_err(|err| {
        StepError::Errored(format!(
            "resource script ({script}) output invalid JSON: {err}"
        ))
    })?;
    if value.is_null() {
        return Ok(None);
    }
    serde_json::from_value(value).map(Some).map_err(|err| {
        StepError::Errored(format!(
            "resource script ({script}) output malformed JSON: {err}"
        ))
    })
}

/// Parses what an `in`/`out` script printed, with Concourse's rules for empty and null
/// versions. Never panics, whatever the bytes.
pub fn parse_version_result(
    stdout: &[u8],
    script: &str,
) -> Result<(VersionMap, Vec<MetadataField>), StepError> {
    let result: Option<VersionResult> = first_json_value(stdout, script)?;
    let Some(VersionResult {
        version: Some(version),
        metadata,
    }) = result
    else {
        return Err(StepError::Errored(format!(
            "resource script ({script}) output a null version"
        )));
    };
    if version.is_empty() {
        return Err(StepError::Errored(
            "resource output version is empty. Version must contain at least one key-value pair"
                .to_owned(),
        ));
    }
    Ok((version, metadata.unwrap_or_default()))
}
