//! `task`: load and interpolate the task config, fetch its image, mount inputs, outputs and
//! caches, and run the command in a container.

use concorde_config::model::TaskConfig;
use concorde_config::sha256_hex;
use concorde_config::vars::{Missing, StaticVars, interpolate_json, interpolate_node};
use concorde_config::{load_task_config, node_to_json, parse_yaml_bytes, validate_task_config};
use concorde_worker::{
    ContainerSpec, ExitStatus, ImageSpec, Limits, Mount, ProcessIo, ProcessSpec, VolumeStrategy,
};
use serde_json::{Value as Json, json};

use concorde_core::EventKind;

use crate::artifact::Artifact;
use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::{
    Exec, StepError, StepResult, place_step, read_artifact_file, volume_on, with_step_timeout,
};
use crate::handles::{new_container_handle, new_volume_handle};
use crate::io::LogWriter;
use crate::placer::{StepNeeds, StepWorker};
use crate::plan::{PlanId, TaskPlan};
use crate::worker_client::{ContainerPurpose, ContainerRole, ContainerVolume};

pub(crate) async fn run_task(exec: &Exec, id: &PlanId, task: &TaskPlan) -> StepResult {
    with_step_timeout(exec, id, task.timeout.as_deref(), |sub| async move {
        task_once(&sub, id, task).await
    })
    .await
}

fn errored(err: impl std::fmt::Display) -> StepError {
    StepError::Errored(err.to_string())
}

async fn task_once(exec: &Exec, id: &PlanId, task: &TaskPlan) -> StepResult {
    let config = load_config(exec, task).await?;
    let image = resolve_image(exec, id, task, &config).await?;
    let mut inputs = Vec::new();
    let mut missing = Vec::new();
    for input in &config.inputs {
        let artifact_name = task.input_mapping.get(&input.name).unwrap_or(&input.name);
        match exec.env.artifact(artifact_name) {
            Some(artifact) => inputs.push((input, artifact)),
            None if input.optional => {}
            None => missing.push(input.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(StepError::Errored(format!(
            "missing inputs: {}",
            missing.join(", ")
        )));
    }
    let mut needs = StepNeeds {
        plan_id: id.clone(),
        step_type: "task",
        tags: task.tags.clone(),
        ..StepNeeds::default()
    };
    needs.input_workers = inputs
        .iter()
        .map(|(_, artifact)| artifact.worker_name().to_owned())
        .collect();
    if let TaskImage::Artifact(image) = &image {
        needs.input_workers.push(image.worker_name().to_owned());
    }
    let worker = place_step(exec, &needs).await?;
    let ran = run_placed(exec, id, task, &config, image, &inputs, &worker).await;
    exec.env.placer.finished(&needs, &worker).await;
    ran
}

/// Runs the task on the worker it was placed on.
async fn run_placed(
    exec: &Exec,
    id: &PlanId,
    task: &TaskPlan,
    config: &TaskConfig,
    image: TaskImage,
    inputs: &[(&concorde_config::model::TaskInput, Artifact)],
    worker: &StepWorker,
) -> StepResult {
    let image = match image {
        TaskImage::Spec(spec) => spec,
        TaskImage::Artifact(artifact) => {
            ImageSpec::Volume(volume_on(exec, id, &artifact, worker).await?)
        }
    };
    let client = &worker.client;
    let work_dir = format!("/tmp/build/{}", short_hash(&task.name));
    let build_id = exec.env.context.build_id;
    let mut volumes = Vec::new();
    // Each mount in order: a job's task cache, or `None` for the next of `volumes`.
    let mut order: Vec<Option<Mount>> = Vec::new();
    for (input, artifact) in inputs {
        let parent = volume_on(exec, id, artifact, worker).await?;
        let path = input.path.as_deref().unwrap_or(&input.name);
        order.push(None);
        volumes.push(ContainerVolume {
            handle: new_volume_handle(build_id, id, &format!("input-{}", input.name)),
            strategy: VolumeStrategy::CopyOnWrite(parent),
            path: format!("{work_dir}/{}", clean_relative(path)),
        });
    }
    let mut outputs = Vec::new();
    for output in &config.outputs {
        let handle = new_volume_handle(build_id, id, &format!("output-{}", output.name));
        let path = output.path.as_deref().unwrap_or(&output.name);
        order.push(None);
        volumes.push(ContainerVolume {
            handle: handle.clone(),
            strategy: VolumeStrategy::Empty,
            path: format!("{work_dir}/{}", clean_relative(path)),
        });
        outputs.push((output.name.clone(), handle));
    }
    for cache in &config.caches {
        let path = format!("{work_dir}/{}", clean_relative(&cache.path));
        match client
            .task_cache(&task.name, &cache.path)
            .await
            .map_err(errored)?
        {
            Some(volume) => order.push(Some(Mount {
                volume,
                path,
                read_only: false,
            })),
            // No job to keep it for: the cache lasts this build.
            None => {
                order.push(None);
                volumes.push(ContainerVolume {
                    handle: new_volume_handle(build_id, id, "cache"),
                    strategy: VolumeStrategy::Empty,
                    path,
                });
            }
        }
    }
    // Mounted in the config's order (inputs, outputs, caches), so a path inside another is
    // mounted after it.
    let mut made = volumes.iter();
    let mut ordered = Vec::new();
    for cache_or_volume in order {
        match cache_or_volume {
            Some(mount) => ordered.push(mount),
            None => {
                if let Some(volume) = made.next() {
                    ordered.push(Mount {
                        volume: volume.handle.clone(),
                        path: volume.path.clone(),
                        read_only: false,
                    });
                }
            }
        }
    }
    let mounts = ordered;
    let run = config.run.clone().unwrap_or_default();
    let summary = json!({
        "platform": config.platform,
        "image": match &image { ImageSpec::RawPath(path) => path.display().to_string(), _ => String::new() },
        "run": {"path": run.path, "args": run.args, "dir": run.dir},
        "inputs": config.inputs.iter().map(|i| json!({"name": i.name, "path": i.path})).collect::<Vec<_>>(),
    });
    exec.emit(BuildEvent::TaskConfig {
        kind: EventKind::InitializeTask,
        origin: Origin::step(id),
        config: summary.clone(),
        time: now_unix(),
    })
    .await;
    if run.path.is_empty() {
        return Err(StepError::Errored(format!(
            "No executable defined for task '{}'",
            task.name
        )));
    }
    let limits = config
        .container_limits
        .as_ref()
        .map_or_else(Limits::default, |limits| Limits {
            cpu_shares: limits.cpu.filter(|cpu| *cpu > 0),
            memory_bytes: limits.memory.filter(|memory| *memory > 0),
        });
    let handle = new_container_handle(build_id, id, "task");
    let dir = match run.dir.as_deref() {
        Some(dir) if dir.starts_with('/') => dir.to_owned(),
        Some(dir) => format!("{work_dir}/{}", clean_relative(dir)),
        None => work_dir.clone(),
    };
    let purpose = ContainerPurpose {
        plan_id: id.clone(),
        role: ContainerRole::Step,
        step_type: "task",
        step_name: task.name.clone(),
        working_directory: dir.clone(),
        user: run.user.clone().unwrap_or_default(),
    };
    let spec = ContainerSpec {
        handle: handle.clone(),
        image,
        mounts,
        env: task_env(config),
        privileged: task.privileged,
        limits,
    };
    let created = client
        .create_container(&purpose, spec, volumes.clone())
        .await;
    // Whatever was made goes with the build's other volumes; outputs may outlive the task.
    for volume in &volumes {
        exec.env.track_volume(client, &volume.handle);
    }
    created.map_err(errored)?;
    exec.env.track_container(client, &handle);
    exec.emit(BuildEvent::TaskConfig {
        kind: EventKind::StartTask,
        origin: Origin::step(id),
        config: summary,
        time: now_unix(),
    })
    .await;
    let io = ProcessIo {
        stdin: None,
        stdout: Box::new(LogWriter::new(exec.env.events.clone(), id, "stdout")),
        stderr: Box::new(LogWriter::new(exec.env.events.clone(), id, "stderr")),
    };
    let process = ProcessSpec {
        path: run.path.clone(),
        args: run.args.clone(),
        env: Vec::new(),
        dir: Some(dir),
        user: run.user.clone(),
    };
    // The container stays until the build ends, with the volumes it made.
    let status = client.run(&handle, process, io, exec.cancel.clone()).await;
    let exit_status = match status.map_err(errored)? {
        ExitStatus::Exited(code) => code,
        ExitStatus::Cancelled => return Err(StepError::Interrupted),
    };
    for (name, volume) in outputs {
        let artifact = task.output_mapping.get(&name).unwrap_or(&name);
        exec.env
            .set_artifact(artifact, Artifact::new(client.clone(), volume));
    }
    exec.emit(BuildEvent::FinishTask {
        origin: Origin::step(id),
        exit_status,
        time: now_unix(),
    })
    .await;
    Ok(exit_status == 0)
}

/// The config: inline or from a file (with the step's static `vars`), the step's params and
/// limits laid over it, then every remaining `((var))` resolved; all must resolve.
async fn load_config(exec: &Exec, task: &TaskPlan) -> Result<TaskConfig, StepError> {
    let mut config = match (&task.config, &task.config_path) {
        (Some(inline), _) => inline.clone(),
        (None, Some(path)) => {
            let bytes = read_artifact_file(exec, path).await?;
            let mut node = parse_yaml_bytes(&bytes).map_err(|err| {
                StepError::Errored(format!("invalid task configuration in {path}: {err}"))
            })?;
            let mut vars = StaticVars::default();
            for (key, value) in &task.vars {
                vars.add_yaml(&format!("{key}={value}")).map_err(errored)?;
            }
            interpolate_node(&mut node, &vars, Missing::Leave).map_err(errored)?;
            node_to_json(&node)
        }
        (None, None) => {
            return Err(StepError::Errored(
                "must specify either `file:` or `config:`".to_owned(),
            ));
        }
    };
    if let Json::Object(map) = &mut config {
        if !task.params.is_empty() {
            let params = map
                .entry("params")
                .or_insert_with(|| Json::Object(Default::default()));
            if let Json::Object(params) = params {
                params.extend(task.params.clone());
            }
        }
        if let Some(limits) = &task.container_limits {
            let entry = map
                .entry("container_limits")
                .or_insert_with(|| Json::Object(Default::default()));
            if let Json::Object(existing) = entry {
                if let Some(cpu) = limits.cpu {
                    existing.insert("cpu".to_owned(), json!(cpu));
                }
                if let Some(memory) = limits.memory {
                    existing.insert("memory".to_owned(), json!(memory));
                }
            }
        }
    }
    interpolate_json(&mut config, &exec.vars(), Missing::Error).map_err(errored)?;
    let config = load_task_config(config.to_string().as_bytes()).map_err(|err| {
        StepError::Errored(format!(
            "invalid task configuration: {}",
            err.lines().join("; ")
        ))
    })?;
    let problems = validate_task_config(&config);
    if !problems.is_empty() {
        return Err(StepError::Errored(format!(
            "invalid task configuration:\n{}",
            problems.join("\n")
        )));
    }
    Ok(config)
}

/// A task's image: an artifact on some worker (`image:` or a fetched `image_resource`), or
/// one that needs no volume.
enum TaskImage {
    Artifact(Artifact),
    Spec(ImageSpec),
}

async fn resolve_image(
    exec: &Exec,
    id: &PlanId,
    task: &TaskPlan,
    config: &TaskConfig,
) -> Result<TaskImage, StepError> {
    if let Some(artifact) = &task.image {
        return exec
            .env
            .artifact(artifact)
            .map(TaskImage::Artifact)
            .ok_or_else(|| StepError::Errored(format!("image artifact '{artifact}' not found")));
    }
    if let Some(image) = &config.image_resource {
        let plan = crate::compile::image_get_plan(id, image, &task.resource_types);
        let crate::plan::PlanStep::Get(get) = &plan.step else {
            return Err(StepError::Errored("image plan must be a get".to_owned()));
        };
        let fetched = crate::exec::fetch_image(exec, &plan.id, get, &task.tags).await?;
        return Ok(TaskImage::Artifact(fetched));
    }
    if let Some(uri) = &config.rootfs_uri {
        return match uri.strip_prefix("raw://") {
            Some(path) => Ok(TaskImage::Spec(ImageSpec::RawPath(path.into()))),
            None => Err(StepError::Errored(format!(
                "unsupported rootfs_uri '{uri}': only raw:///path is supported"
            ))),
        };
    }
    Ok(TaskImage::Spec(ImageSpec::None))
}

/// Task params as environment variables: strings verbatim, numbers as written, `null` empty,
/// maps and lists as JSON.
fn task_env(config: &TaskConfig) -> Vec<String> {
    let mut env: Vec<String> = config
        .params
        .iter()
        .flatten()
        .map(|(name, value)| {
            let text = match value {
                Json::String(text) => text.clone(),
                Json::Null => String::new(),
                other => other.to_string(),
            };
            format!("{name}={text}")
        })
        .collect();
    env.sort();
    env
}

/// The first 4 bytes of the SHA-256 of `text`, in hex: the task's working directory name.
fn short_hash(text: &str) -> String {
    let mut hex = sha256_hex(text.as_bytes());
    hex.truncate(8);
    hex
}

/// A relative path with `..` and leading `/` removed.
fn clean_relative(path: &str) -> String {
    path.split('/')
        .filter(|segment| !segment.is_empty() && *segment != "." && *segment != "..")
        .collect::<Vec<_>>()
        .join("/")
}
