//! Compiling a job's config into a [`Plan`], with the scheduler's chosen versions baked in.
//!
//! The job's plan becomes `do`, wrapped in its hooks; each `put` gets its implicit `get`;
//! `attempts` expand to one plan per attempt; custom resource types get a nested plan that
//! fetches their image. Plan ids are hex counters, unique within the build.

use std::collections::BTreeMap;

use concorde_config::model::{
    AcrossValues, GetVersion, HookKind, ImageResource, Job, JsonMap, MaxInFlight, Pipeline,
    PutInputs, Step, StepBody, VersionMap,
};

use crate::plan::{
    AcrossPlan, AcrossVarPlan, EnsurePlan, GetPlan, InParallelPlan, LimitsPlan, LoadVarPlan,
    OnAbortPlan, OnErrorPlan, OnFailurePlan, OnSuccessPlan, Plan, PlanId, PlanStep, PutPlan,
    ResourceTypePlan, SetPipelinePlan, TaskPlan, TimeoutPlan, TryPlan, TypeImage,
};

/// Why a job cannot be compiled (the config refers to things that do not exist).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A get or put names a resource the pipeline lacks.
    #[error("unknown resource '{0}'")]
    UnknownResource(String),
    /// A step kind the engine does not run (the experimental `run` step).
    #[error("{0} is not supported")]
    Unsupported(String),
}

/// Compiles `job` of `pipeline`; `versions` maps each get's name to the version the scheduler
/// chose for it (gets without one check for the latest when they run).
pub fn compile_job_plan(
    pipeline: &Pipeline,
    job: &Job,
    versions: &BTreeMap<String, VersionMap>,
) -> Result<Plan, CompileError> {
    let mut compiler = Compiler {
        pipeline,
        versions,
        types: resource_type_plans(pipeline),
        next_id: 0,
    };
    let body = compiler.steps(&job.plan, &job.tags)?;
    let mut plan = compiler.node(PlanStep::Do(body));
    let hooks = [
        (HookKind::OnSuccess, &job.on_success),
        (HookKind::OnFailure, &job.on_failure),
        (HookKind::OnAbort, &job.on_abort),
        (HookKind::OnError, &job.on_error),
        (HookKind::Ensure, &job.ensure),
    ];
    for (kind, hook) in hooks {
        if let Some(hook) = hook {
            let hook = compiler.step(hook, &job.tags)?;
            plan = compiler.hook(kind, plan, hook);
        }
    }
    Ok(plan)
}

/// The pipeline's custom resource types as plans carry them.
pub fn resource_type_plans(pipeline: &Pipeline) -> Vec<ResourceTypePlan> {
    pipeline
        .resource_types
        .iter()
        .map(|kind| ResourceTypePlan {
            name: kind.name.clone(),
            kind: kind.kind.clone(),
            source: kind.source.clone().unwrap_or_default(),
            defaults: kind.defaults.clone().unwrap_or_default(),
            privileged: kind.privileged,
        })
        .collect()
}

/// How to run resources of type `kind`: a base type, or a custom type whose image is fetched by
/// a nested get (ids `<owner>/image-get`, recursively). A type never refers to itself.
pub fn type_image(types: &[ResourceTypePlan], kind: &str, owner: &PlanId) -> TypeImage {
    type_image_without(types, kind, owner, &mut Vec::new())
}

fn type_image_without<'a>(
    types: &'a [ResourceTypePlan],
    kind: &str,
    owner: &PlanId,
    excluded: &mut Vec<&'a str>,
) -> TypeImage {
    let Some(custom) = types
        .iter()
        .find(|t| t.name == kind && !excluded.contains(&t.name.as_str()))
    else {
        return TypeImage {
            base_type: kind.to_owned(),
            privileged: false,
            get_plan: None,
        };
    };
    excluded.push(&custom.name);
    let id = PlanId(format!("{owner}/image-get"));
    let inner = type_image_without(types, &custom.kind, &id, excluded);
    let source = effective_source(types, &custom.kind, &custom.source);
    let get = GetPlan {
        name: custom.name.clone(),
        kind: custom.kind.clone(),
        resource: None,
        source,
        image: inner.clone(),
        version: None,
        version_from: None,
        params: JsonMap::new(),
        tags: Vec::new(),
        timeout: None,
    };
    TypeImage {
        base_type: inner.base_type,
        privileged: custom.privileged,
        get_plan: Some(Box::new(Plan {
            id,
            attempts: Vec::new(),
            step: PlanStep::Get(get),
        })),
    }
}

/// A source as scripts of type `kind` receive it: laid over the type's `defaults`.
pub fn effective_source(types: &[ResourceTypePlan], kind: &str, source: &JsonMap) -> JsonMap {
    let mut merged = types
        .iter()
        .find(|t| t.name == kind)
        .map(|t| t.defaults.clone())
        .unwrap_or_default();
    merged.extend(source.clone());
    merged
}

/// The get that fetches a task's `image_resource`.
pub fn image_get_plan(task_id: &PlanId, image: &ImageResource, types: &[ResourceTypePlan]) -> Plan {
    let id = PlanId(format!("{task_id}/image-get"));
    let get = GetPlan {
        name: "image".to_owned(),
        kind: image.kind.clone(),
        resource: None,
        source: effective_source(
            types,
            &image.kind,
            &image.source.clone().unwrap_or_default(),
        ),
        image: type_image(types, &image.kind, &id),
        version: image.version.clone(),
        version_from: None,
        params: image.params.clone().unwrap_or_default(),
        tags: image.tags.clone(),
        timeout: None,
    };
    Plan {
        id,
        attempts: Vec::new(),
        step: PlanStep::Get(get),
    }
}

struct Compiler<'a> {
    pipeline: &'a Pipeline,
    versions: &'a BTreeMap<String, VersionMap>,
    types: Vec<ResourceTypePlan>,
    next_id: u64,
}

impl Compiler<'_> {
    fn next_id(&mut self) -> PlanId {
        self.next_id += 1;
        PlanId(format!("{:x}", self.next_id))
    }

    fn node(&mut self, step: PlanStep) -> Plan {
        Plan {
            id: self.next_id(),
            attempts: Vec::new(),
            step,
        }
    }

    fn steps(&mut self, steps: &[Step], tags: &[String]) -> Result<Vec<Plan>, CompileError> {
        steps.iter().map(|step| self.step(step, tags)).collect()
    }

    fn hook(&mut self, kind: HookKind, step: Plan, hook: Plan) -> Plan {
        let (step, hook) = (Box::new(step), Box::new(hook));
        let body = match kind {
            HookKind::OnSuccess => PlanStep::OnSuccess(OnSuccessPlan {
                step,
                on_success: hook,
            }),
            HookKind::OnFailure => PlanStep::OnFailure(OnFailurePlan {
                step,
                on_failure: hook,
            }),
            HookKind::OnAbort => PlanStep::OnAbort(OnAbortPlan {
                step,
                on_abort: hook,
            }),
            HookKind::OnError => PlanStep::OnError(OnErrorPlan {
                step,
                on_error: hook,
            }),
            HookKind::Ensure => PlanStep::Ensure(EnsurePlan { step, ensure: hook }),
        };
        self.node(body)
    }

    /// `tags` are the defaults from the job or an enclosing `do`/`in_parallel`.
    fn step(&mut self, step: &Step, tags: &[String]) -> Result<Plan, CompileError> {
        let pick = |own: &[String]| {
            if own.is_empty() {
                tags.to_vec()
            } else {
                own.to_vec()
            }
        };
        Ok(match &step.body {
            StepBody::Get(get) => {
                let id = self.next_id();
                let resource = self.resource(get.resource_name())?.clone();
                let version =
                    self.versions
                        .get(&get.name)
                        .cloned()
                        .or_else(|| match &get.version {
                            Some(GetVersion::Pinned(version)) => Some(version.clone()),
                            _ => resource.version.clone(),
                        });
                let plan = GetPlan {
                    name: get.name.clone(),
                    kind: resource.kind.clone(),
                    resource: Some(resource.name.clone()),
                    source: effective_source(
                        &self.types,
                        &resource.kind,
                        &resource.source.clone().unwrap_or_default(),
                    ),
                    image: type_image(&self.types, &resource.kind, &id),
                    version,
                    version_from: None,
                    params: get.params.clone().unwrap_or_default(),
                    tags: pick(&get.tags),
                    timeout: get.timeout.clone(),
                };
                Plan {
                    id,
                    attempts: Vec::new(),
                    step: PlanStep::Get(plan),
                }
            }
            StepBody::Put(put) => {
                let id = self.next_id();
                let resource = self.resource(put.resource_name())?.clone();
                let source = effective_source(
                    &self.types,
                    &resource.kind,
                    &resource.source.clone().unwrap_or_default(),
                );
                let image = type_image(&self.types, &resource.kind, &id);
                let plan = PutPlan {
                    name: put.name.clone(),
                    kind: resource.kind.clone(),
                    resource: resource.name.clone(),
                    source: source.clone(),
                    image: image.clone(),
                    params: put.params.clone().unwrap_or_default(),
                    inputs: put.inputs.as_ref().map(|inputs| match inputs {
                        PutInputs::All => serde_json::json!("all"),
                        PutInputs::Detect => serde_json::json!("detect"),
                        PutInputs::List(names) => serde_json::json!(names),
                    }),
                    tags: pick(&put.tags),
                    timeout: put.timeout.clone(),
                    expose_build_created_by: resource.expose_build_created_by,
                };
                let put_plan = Plan {
                    id: id.clone(),
                    attempts: Vec::new(),
                    step: PlanStep::Put(plan),
                };
                if put.no_get {
                    return Ok(put_plan);
                }
                let get_id = self.next_id();
                let get = GetPlan {
                    name: put.name.clone(),
                    kind: resource.kind.clone(),
                    resource: Some(resource.name.clone()),
                    source,
                    image: type_image(&self.types, &resource.kind, &get_id),
                    version: None,
                    version_from: Some(id),
                    params: put.get_params.clone().unwrap_or_default(),
                    tags: pick(&put.tags),
                    timeout: put.timeout.clone(),
                };
                let get_plan = Plan {
                    id: get_id,
                    attempts: Vec::new(),
                    step: PlanStep::Get(get),
                };
                self.hook(HookKind::OnSuccess, put_plan, get_plan)
            }
            StepBody::Task(task) => {
                let plan = TaskPlan {
                    name: task.name.clone(),
                    privileged: task.privileged,
                    config_path: task.file.clone(),
                    config: task
                        .config
                        .as_ref()
                        .map(concorde_config::task_config_to_json),
                    image: task.image.clone(),
                    vars: task.vars.clone().unwrap_or_default(),
                    params: task.params.clone().unwrap_or_default(),
                    input_mapping: task.input_mapping.clone().unwrap_or_default(),
                    output_mapping: task.output_mapping.clone().unwrap_or_default(),
                    container_limits: task.container_limits.as_ref().map(LimitsPlan::from),
                    tags: pick(&task.tags),
                    timeout: task.timeout.clone(),
                    resource_types: self.types.clone(),
                };
                self.node(PlanStep::Task(plan))
            }
            StepBody::SetPipeline(set) => self.node(PlanStep::SetPipeline(SetPipelinePlan {
                name: set.name.clone(),
                file: set.file.clone().unwrap_or_default(),
                team: set.team.clone(),
                vars: set.vars.clone().unwrap_or_default(),
                var_files: set.var_files.clone(),
                instance_vars: set.instance_vars.clone().unwrap_or_default(),
            })),
            StepBody::LoadVar(load) => self.node(PlanStep::LoadVar(LoadVarPlan {
                name: load.name.clone(),
                file: load.file.clone().unwrap_or_default(),
                format: load.format.clone(),
                reveal: load.reveal,
            })),
            StepBody::InParallel(parallel) => {
                let tags = pick(&parallel.tags);
                let steps = self.steps(&parallel.steps, &tags)?;
                let limit = parallel
                    .limit
                    .filter(|limit| *limit > 0)
                    .map_or(0, |limit| usize::try_from(limit).unwrap_or(0));
                self.node(PlanStep::InParallel(InParallelPlan {
                    steps,
                    limit,
                    fail_fast: parallel.fail_fast,
                }))
            }
            StepBody::Do(sequence) => {
                let tags = pick(&sequence.tags);
                let steps = self.steps(&sequence.steps, &tags)?;
                self.node(PlanStep::Do(steps))
            }
            StepBody::Try(inner) => {
                let step = Box::new(self.step(&inner.step, tags)?);
                self.node(PlanStep::Try(TryPlan { step }))
            }
            StepBody::Run(run) => {
                return Err(CompileError::Unsupported(format!(
                    "run step (prototype '{}')",
                    run.prototype
                )));
            }
            StepBody::Timeout(timeout) => {
                let step = Box::new(self.step(&timeout.step, tags)?);
                self.node(PlanStep::Timeout(TimeoutPlan {
                    step,
                    duration: timeout.duration.clone(),
                }))
            }
            StepBody::Retry(retry) => {
                let count = u32::try_from(retry.attempts.max(1)).unwrap_or(1);
                let mut attempts = Vec::new();
                for attempt in 1..=count {
                    let mut plan = self.step(&retry.step, tags)?;
                    plan.attempts.insert(0, attempt);
                    attempts.push(plan);
                }
                self.node(PlanStep::Retry(attempts))
            }
            StepBody::Across(across) => {
                let template = Box::new(self.step(&across.step, tags)?);
                let vars = across
                    .vars
                    .iter()
                    .map(|var| AcrossVarPlan {
                        name: var.var.clone(),
                        values: match &var.values {
                            AcrossValues::List(values) => serde_json::Value::Array(values.clone()),
                            AcrossValues::Var(text) => serde_json::Value::String(text.clone()),
                        },
                        max_in_flight: match var.max_in_flight {
                            None => 1,
                            Some(MaxInFlight::All) => 0,
                            Some(MaxInFlight::Count(count)) => {
                                usize::try_from(count.max(1)).unwrap_or(1)
                            }
                        },
                    })
                    .collect();
                self.node(PlanStep::Across(AcrossPlan {
                    vars,
                    substep_template: template,
                    fail_fast: across.fail_fast,
                }))
            }
            StepBody::Hook(hook) => {
                let step = self.step(&hook.step, tags)?;
                let hook_plan = self.step(&hook.hook, tags)?;
                self.hook(hook.kind, step, hook_plan)
            }
        })
    }

    fn resource(&self, name: &str) -> Result<&concorde_config::model::Resource, CompileError> {
        self.pipeline
            .resources
            .iter()
            .find(|resource| resource.name == name)
            .ok_or_else(|| CompileError::UnknownResource(name.to_owned()))
    }
}
