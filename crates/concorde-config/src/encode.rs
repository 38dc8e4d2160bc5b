//! The canonical JSON form of a pipeline: Concourse's field names, empty values omitted, and
//! steps flattened back into one map per step (wrappers merged with the step they wrap).
//!
//! This is what the web node stores and serves, what `format-pipeline` prints (as YAML with
//! sorted keys), and what "two configs mean the same" is checked against.

use serde_json::Value as Json;

use crate::model::{
    AcrossValues, BuildLogRetention, CheckEvery, ContainerLimits, GetVersion, Group, ImageResource,
    Job, JsonMap, MaxInFlight, Pipeline, PutInputs, Resource, ResourceType, Step, StepBody,
    TaskConfig, VarSource,
};

/// Builds a JSON object, skipping empty values as Go's `omitempty` does.
#[derive(Default)]
struct Obj(JsonMap);

impl Obj {
    fn put(mut self, key: &str, value: Json) -> Self {
        let empty = match &value {
            Json::Null => true,
            Json::Bool(flag) => !flag,
            Json::Number(number) => number.as_i64() == Some(0) || number.as_u64() == Some(0),
            Json::String(text) => text.is_empty(),
            Json::Array(items) => items.is_empty(),
            Json::Object(map) => map.is_empty(),
        };
        if !empty {
            self.0.insert(key.to_owned(), value);
        }
        self
    }

    /// For required fields that stay even when empty (`get: ""` is still a get step).
    fn always(mut self, key: &str, value: Json) -> Self {
        self.0.insert(key.to_owned(), value);
        self
    }

    fn done(self) -> Json {
        Json::Object(self.0)
    }
}

fn text(value: &Option<String>) -> Json {
    value.clone().map_or(Json::Null, Json::String)
}

fn strings(values: &[String]) -> Json {
    Json::Array(values.iter().cloned().map(Json::String).collect())
}

fn object(value: &Option<JsonMap>) -> Json {
    value.clone().map_or(Json::Null, Json::Object)
}

fn list<T>(items: &[T], encode: fn(&T) -> Json) -> Json {
    Json::Array(items.iter().map(encode).collect())
}

fn version(value: &Option<crate::model::VersionMap>) -> Json {
    value.as_ref().map_or(Json::Null, |map| {
        Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect(),
        )
    })
}

/// The canonical JSON of a pipeline.
pub fn pipeline_to_json(pipeline: &Pipeline) -> Json {
    Obj::default()
        .put("groups", list(&pipeline.groups, group))
        .put("var_sources", list(&pipeline.var_sources, var_source))
        .put("resources", list(&pipeline.resources, resource))
        .put(
            "resource_types",
            list(&pipeline.resource_types, resource_type),
        )
        .put("prototypes", list(&pipeline.prototypes, resource_type))
        .put("jobs", list(&pipeline.jobs, job))
        .put(
            "display",
            pipeline.display.as_ref().map_or(Json::Null, |display| {
                Obj::default()
                    .put("background_image", text(&display.background_image))
                    .put("background_filter", text(&display.background_filter))
                    .done()
            }),
        )
        .put(
            "user_data",
            pipeline.user_data.clone().unwrap_or(Json::Null),
        )
        .done()
}

fn group(group: &Group) -> Json {
    Obj::default()
        .always("name", Json::String(group.name.clone()))
        .put("jobs", strings(&group.jobs))
        .put("resources", strings(&group.resources))
        .done()
}

fn var_source(source: &VarSource) -> Json {
    Obj::default()
        .always("name", Json::String(source.name.clone()))
        .put("type", Json::String(source.kind.clone()))
        .put("config", source.config.clone().unwrap_or(Json::Null))
        .done()
}

fn check_every(value: &Option<CheckEvery>) -> Json {
    value
        .as_ref()
        .map_or(Json::Null, |every| Json::String(every.as_str().to_owned()))
}

fn resource(resource: &Resource) -> Json {
    Obj::default()
        .always("name", Json::String(resource.name.clone()))
        .put("old_name", text(&resource.old_name))
        .put("public", Json::Bool(resource.public))
        .put("webhook_token", text(&resource.webhook_token))
        .put("type", Json::String(resource.kind.clone()))
        .put("source", object(&resource.source))
        .put("check_every", check_every(&resource.check_every))
        .put("check_timeout", text(&resource.check_timeout))
        .put("tags", strings(&resource.tags))
        .put("version", version(&resource.version))
        .put("icon", text(&resource.icon))
        .put(
            "expose_build_created_by",
            Json::Bool(resource.expose_build_created_by),
        )
        .done()
}

fn resource_type(kind: &ResourceType) -> Json {
    Obj::default()
        .always("name", Json::String(kind.name.clone()))
        .put("type", Json::String(kind.kind.clone()))
        .put("source", object(&kind.source))
        .put("defaults", object(&kind.defaults))
        .put("privileged", Json::Bool(kind.privileged))
        .put("check_every", check_every(&kind.check_every))
        .put("tags", strings(&kind.tags))
        .put("params", object(&kind.params))
        .done()
}

fn retention(retention: &Option<BuildLogRetention>) -> Json {
    retention.as_ref().map_or(Json::Null, |retention| {
        // An all-zero retention still says "retention configured", so it is kept as `{}`.
        let mut map = JsonMap::new();
        for (key, value) in [
            ("builds", retention.builds),
            (
                "minimum_succeeded_builds",
                retention.minimum_succeeded_builds,
            ),
            ("days", retention.days),
        ] {
            if value != 0 {
                map.insert(key.to_owned(), Json::from(value));
            }
        }
        Json::Object(map)
    })
}

fn job(job: &Job) -> Json {
    let hook = |step: &Option<Box<Step>>| step.as_deref().map_or(Json::Null, step_to_json);
    let mut obj = Obj::default()
        .always("name", Json::String(job.name.clone()))
        .put("old_name", text(&job.old_name))
        .put("public", Json::Bool(job.public))
        .put(
            "disable_manual_trigger",
            Json::Bool(job.disable_manual_trigger),
        )
        .put("disable_reruns", Json::Bool(job.disable_reruns))
        .put("serial", Json::Bool(job.serial))
        .put("interruptible", Json::Bool(job.interruptible))
        .put("serial_groups", strings(&job.serial_groups))
        .put("max_in_flight", Json::from(job.max_in_flight))
        .put(
            "build_logs_to_retain",
            job.build_logs_to_retain.map_or(Json::Null, Json::from),
        )
        .put("tags", strings(&job.tags))
        .put("on_success", hook(&job.on_success))
        .put("on_failure", hook(&job.on_failure))
        .put("on_abort", hook(&job.on_abort))
        .put("on_error", hook(&job.on_error))
        .put("ensure", hook(&job.ensure))
        .always("plan", list(&job.plan, step_to_json));
    if job.build_log_retention.is_some() {
        obj = obj.always("build_log_retention", retention(&job.build_log_retention));
    }
    obj.done()
}

/// One step as a single map: wrappers contribute their keys to the wrapped step's map.
pub fn step_to_json(step: &Step) -> Json {
    let mut map = JsonMap::new();
    merge_step(step, &mut map);
    Json::Object(map)
}

fn merge_step(step: &Step, into: &mut JsonMap) {
    let own = match &step.body {
        StepBody::Hook(hook) => {
            into.insert(hook.kind.key().to_owned(), step_to_json(&hook.hook));
            return merge_step(&hook.step, into);
        }
        StepBody::Across(across) => {
            let vars = across
                .vars
                .iter()
                .map(|var| {
                    let values = match &var.values {
                        AcrossValues::List(values) => Json::Array(values.clone()),
                        AcrossValues::Var(text) => Json::String(text.clone()),
                    };
                    let max_in_flight = match var.max_in_flight {
                        None => Json::Null,
                        Some(MaxInFlight::All) => Json::String("all".to_owned()),
                        Some(MaxInFlight::Count(count)) => Json::from(count),
                    };
                    let mut obj = Obj::default().always("var", Json::String(var.var.clone()));
                    obj = obj.always("values", values);
                    obj.put("max_in_flight", max_in_flight).done()
                })
                .collect();
            into.insert("across".to_owned(), Json::Array(vars));
            if across.fail_fast {
                into.insert("fail_fast".to_owned(), Json::Bool(true));
            }
            return merge_step(&across.step, into);
        }
        StepBody::Retry(retry) => {
            into.insert("attempts".to_owned(), Json::from(retry.attempts));
            return merge_step(&retry.step, into);
        }
        StepBody::Timeout(timeout) => {
            into.insert("timeout".to_owned(), Json::String(timeout.duration.clone()));
            return merge_step(&timeout.step, into);
        }
        StepBody::Get(get) => Obj::default()
            .always("get", Json::String(get.name.clone()))
            .put("resource", text(&get.resource))
            .put("passed", strings(&get.passed))
            .put("trigger", Json::Bool(get.trigger))
            .put(
                "version",
                match &get.version {
                    None => Json::Null,
                    Some(GetVersion::Latest) => Json::String("latest".to_owned()),
                    Some(GetVersion::Every) => Json::String("every".to_owned()),
                    Some(GetVersion::Pinned(pinned)) => version(&Some(pinned.clone())),
                },
            )
            .put("params", object(&get.params))
            .put("tags", strings(&get.tags))
            .put("timeout", text(&get.timeout)),
        StepBody::Put(put) => Obj::default()
            .always("put", Json::String(put.name.clone()))
            .put("resource", text(&put.resource))
            .put("params", object(&put.params))
            .put(
                "inputs",
                match &put.inputs {
                    None => Json::Null,
                    Some(PutInputs::All) => Json::String("all".to_owned()),
                    Some(PutInputs::Detect) => Json::String("detect".to_owned()),
                    Some(PutInputs::List(names)) => strings(names),
                },
            )
            .put("get_params", object(&put.get_params))
            .put("no_get", Json::Bool(put.no_get))
            .put("tags", strings(&put.tags))
            .put("timeout", text(&put.timeout)),
        StepBody::Task(task) => Obj::default()
            .always("task", Json::String(task.name.clone()))
            .put("file", text(&task.file))
            .put(
                "config",
                task.config.as_ref().map_or(Json::Null, task_config_to_json),
            )
            .put("image", text(&task.image))
            .put("privileged", Json::Bool(task.privileged))
            .put("params", object(&task.params))
            .put("vars", object(&task.vars))
            .put("input_mapping", string_map(&task.input_mapping))
            .put("output_mapping", string_map(&task.output_mapping))
            .put("container_limits", limits(&task.container_limits))
            .put("hermetic", Json::Bool(task.hermetic))
            .put("tags", strings(&task.tags))
            .put("timeout", text(&task.timeout)),
        StepBody::SetPipeline(set) => Obj::default()
            .always("set_pipeline", Json::String(set.name.clone()))
            .put("file", text(&set.file))
            .put("vars", object(&set.vars))
            .put("var_files", strings(&set.var_files))
            .put("team", text(&set.team))
            .put("instance_vars", object(&set.instance_vars)),
        StepBody::LoadVar(load) => Obj::default()
            .always("load_var", Json::String(load.name.clone()))
            .put("file", text(&load.file))
            .put("format", text(&load.format))
            .put("reveal", Json::Bool(load.reveal)),
        StepBody::Try(inner) => Obj::default().always("try", step_to_json(&inner.step)),
        StepBody::Do(sequence) => Obj::default()
            .always("do", list(&sequence.steps, step_to_json))
            .put("tags", strings(&sequence.tags)),
        StepBody::InParallel(parallel) => {
            let steps = list(&parallel.steps, step_to_json);
            let body = if parallel.list_form && parallel.limit.is_none() && !parallel.fail_fast {
                steps
            } else {
                Obj::default()
                    .always("steps", steps)
                    .put("limit", parallel.limit.map_or(Json::Null, Json::from))
                    .put("fail_fast", Json::Bool(parallel.fail_fast))
                    .done()
            };
            Obj::default()
                .always("in_parallel", body)
                .put("tags", strings(&parallel.tags))
        }
        StepBody::Run(run) => Obj::default()
            .always("run", Json::String(run.message.clone()))
            .put("type", Json::String(run.prototype.clone()))
            .put("params", object(&run.params))
            .put("privileged", Json::Bool(run.privileged))
            .put("tags", strings(&run.tags))
            .put("container_limits", limits(&run.container_limits))
            .put("timeout", text(&run.timeout)),
    };
    if let Json::Object(own) = own.done() {
        into.extend(own);
    }
}

fn string_map(value: &Option<std::collections::BTreeMap<String, String>>) -> Json {
    value.as_ref().map_or(Json::Null, |map| {
        Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect(),
        )
    })
}

fn limits(value: &Option<ContainerLimits>) -> Json {
    value.as_ref().map_or(Json::Null, |limits| {
        Obj::default()
            .put("cpu", limits.cpu.map_or(Json::Null, Json::from))
            .put("memory", limits.memory.map_or(Json::Null, Json::from))
            .done()
    })
}

fn image_resource(image: &ImageResource) -> Json {
    Obj::default()
        .always("type", Json::String(image.kind.clone()))
        .put("source", object(&image.source))
        .put("params", object(&image.params))
        .put("version", version(&image.version))
        .put("tags", strings(&image.tags))
        .done()
}

/// The canonical JSON of a task config.
pub fn task_config_to_json(config: &TaskConfig) -> Json {
    Obj::default()
        .put("platform", text(&config.platform))
        .put(
            "image_resource",
            config
                .image_resource
                .as_ref()
                .map_or(Json::Null, image_resource),
        )
        .put("rootfs_uri", text(&config.rootfs_uri))
        .put("container_limits", limits(&config.container_limits))
        .put("params", object(&config.params))
        .put(
            "run",
            config.run.as_ref().map_or(Json::Null, |run| {
                Obj::default()
                    .always("path", Json::String(run.path.clone()))
                    .put("args", strings(&run.args))
                    .put("dir", text(&run.dir))
                    .put("user", text(&run.user))
                    .done()
            }),
        )
        .put(
            "inputs",
            Json::Array(
                config
                    .inputs
                    .iter()
                    .map(|input| {
                        Obj::default()
                            .always("name", Json::String(input.name.clone()))
                            .put("path", text(&input.path))
                            .put("optional", Json::Bool(input.optional))
                            .done()
                    })
                    .collect(),
            ),
        )
        .put(
            "outputs",
            Json::Array(
                config
                    .outputs
                    .iter()
                    .map(|output| {
                        Obj::default()
                            .always("name", Json::String(output.name.clone()))
                            .put("path", text(&output.path))
                            .done()
                    })
                    .collect(),
            ),
        )
        .put(
            "caches",
            Json::Array(
                config
                    .caches
                    .iter()
                    .map(|cache| {
                        Obj::default()
                            .always("path", Json::String(cache.path.clone()))
                            .put("ttl", text(&cache.ttl))
                            .done()
                    })
                    .collect(),
            ),
        )
        .done()
}
