//! Decoding the top level and the plain sections of a pipeline.

use crate::decode::fields::{expect_int, expect_string};
use crate::decode::{Decoder, MapReader, step};
use crate::duration::parse_duration;
use crate::model::{
    BuildLogRetention, CheckEvery, Display, Group, Job, Pipeline, Resource, ResourceType, VarSource,
};
use crate::node::{Node, Value};

/// The top level: known keys only; unknown top-level keys are dropped, as Concourse does.
pub(crate) fn decode_pipeline(decoder: &mut Decoder, root: &Node) -> Pipeline {
    let mut pipeline = Pipeline::default();
    if matches!(root.value, Value::Null) {
        return pipeline;
    }
    let Some(mut top) = MapReader::new(decoder, root, "") else {
        return pipeline;
    };
    pipeline.groups = section(decoder, &mut top, "groups", decode_group);
    pipeline.var_sources = section(decoder, &mut top, "var_sources", decode_var_source);
    pipeline.resources = section(decoder, &mut top, "resources", decode_resource);
    pipeline.resource_types = section(decoder, &mut top, "resource_types", decode_resource_type);
    pipeline.prototypes = section(decoder, &mut top, "prototypes", decode_resource_type);
    pipeline.jobs = section(decoder, &mut top, "jobs", decode_job);
    pipeline.display = top
        .take("display")
        .and_then(|node| decode_display(decoder, node));
    pipeline.user_data = top.any("user_data");
    pipeline
}

/// Decodes a list section, naming each item `section.name` (or `section[i]` when unnamed).
fn section<T>(
    decoder: &mut Decoder,
    top: &mut MapReader<'_>,
    key: &str,
    decode_item: fn(&mut Decoder, &mut MapReader<'_>) -> T,
) -> Vec<T> {
    let Some(node) = top.take(key) else {
        return Vec::new();
    };
    let Value::Seq(items) = &node.value else {
        decoder.error(
            key,
            node,
            format!("expected a list, found {}", node.kind_name()),
        );
        return Vec::new();
    };
    let mut decoded = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(|name| match &name.value {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            _ => None,
        });
        let path = match name {
            Some(name) => format!("{key}.{name}"),
            None => format!("{key}[{index}]"),
        };
        if let Some(mut reader) = MapReader::new(decoder, item, &path) {
            decoded.push(decode_item(decoder, &mut reader));
            reader.finish(decoder);
        }
    }
    decoded
}

fn decode_group(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Group {
    Group {
        name: map.string(decoder, "name").unwrap_or_default(),
        jobs: map.strings(decoder, "jobs"),
        resources: map.strings(decoder, "resources"),
        location: map.location,
    }
}

fn decode_var_source(decoder: &mut Decoder, map: &mut MapReader<'_>) -> VarSource {
    VarSource {
        name: map.string(decoder, "name").unwrap_or_default(),
        kind: map.string(decoder, "type").unwrap_or_default(),
        config: map.any("config"),
        location: map.location,
    }
}

fn decode_resource(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Resource {
    Resource {
        name: map.string(decoder, "name").unwrap_or_default(),
        old_name: map.string(decoder, "old_name"),
        kind: map.string(decoder, "type").unwrap_or_default(),
        source: map.object(decoder, "source"),
        check_every: check_every(decoder, map),
        check_timeout: duration_field(decoder, map, "check_timeout"),
        webhook_token: map.string(decoder, "webhook_token"),
        icon: map.string(decoder, "icon"),
        version: map.version(decoder, "version"),
        tags: map.strings(decoder, "tags"),
        public: map.bool(decoder, "public"),
        expose_build_created_by: map.bool(decoder, "expose_build_created_by"),
        location: map.location,
    }
}

fn decode_resource_type(decoder: &mut Decoder, map: &mut MapReader<'_>) -> ResourceType {
    ResourceType {
        name: map.string(decoder, "name").unwrap_or_default(),
        kind: map.string(decoder, "type").unwrap_or_default(),
        source: map.object(decoder, "source"),
        params: map.object(decoder, "params"),
        privileged: map.bool(decoder, "privileged"),
        check_every: check_every(decoder, map),
        tags: map.strings(decoder, "tags"),
        defaults: map.object(decoder, "defaults"),
        location: map.location,
    }
}

/// `check_every`: `never` or a duration; anything but a string is "non-string value provided".
fn check_every(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<CheckEvery> {
    let node = map.take("check_every")?;
    let path = map.field_path("check_every");
    let Value::String(text) = &node.value else {
        decoder.error(&path, node, "non-string value provided");
        return None;
    };
    let every = CheckEvery::from_text(text.clone());
    if every != CheckEvery::Never {
        check_duration_text(decoder, node, &path, text);
    }
    Some(every)
}

/// A duration-valued field decoded at save time (`check_timeout`).
fn duration_field(decoder: &mut Decoder, map: &mut MapReader<'_>, key: &str) -> Option<String> {
    let node = map.take(key)?;
    let path = map.field_path(key);
    let text = expect_string(decoder, node, &path)?;
    check_duration_text(decoder, node, &path, &text);
    Some(text)
}

/// A duration written with an unresolved `((var))` is left for run time.
fn check_duration_text(decoder: &mut Decoder, node: &Node, path: &str, text: &str) {
    if !text.contains("((")
        && let Err(err) = parse_duration(text)
    {
        decoder.error(path, node, err.to_string());
    }
}

fn decode_display(decoder: &mut Decoder, node: &Node) -> Option<Display> {
    let mut map = MapReader::new(decoder, node, "display")?;
    let display = Display {
        background_image: map.string(decoder, "background_image"),
        background_filter: map.string(decoder, "background_filter"),
        location: node.location,
    };
    map.finish(decoder);
    Some(display)
}

fn decode_job(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Job {
    let mut job = Job {
        name: map.string(decoder, "name").unwrap_or_default(),
        old_name: map.string(decoder, "old_name"),
        public: map.bool(decoder, "public"),
        disable_manual_trigger: map.bool(decoder, "disable_manual_trigger"),
        disable_reruns: map.bool(decoder, "disable_reruns"),
        serial: map.bool(decoder, "serial"),
        interruptible: map.bool(decoder, "interruptible"),
        serial_groups: map.strings(decoder, "serial_groups"),
        max_in_flight: map.int(decoder, "max_in_flight").unwrap_or(0),
        build_log_retention: None,
        build_logs_to_retain: map.int(decoder, "build_logs_to_retain"),
        tags: map.strings(decoder, "tags"),
        location: map.location,
        ..Job::default()
    };
    if let Some(node) = map.take("build_log_retention") {
        job.build_log_retention =
            decode_retention(decoder, node, &map.field_path("build_log_retention"));
    }
    let path = map.path.clone();
    job.on_success = job_hook(decoder, map, &path, "on_success");
    job.on_failure = job_hook(decoder, map, &path, "on_failure");
    job.on_abort = job_hook(decoder, map, &path, "on_abort");
    job.on_error = job_hook(decoder, map, &path, "on_error");
    job.ensure = job_hook(decoder, map, &path, "ensure");
    if let Some(node) = map.take("plan") {
        job.plan = step::decode_step_list(decoder, node, &format!("{path}.plan"));
    }
    job
}

fn job_hook(
    decoder: &mut Decoder,
    map: &mut MapReader<'_>,
    path: &str,
    key: &str,
) -> Option<Box<crate::model::Step>> {
    let node = map.take(key)?;
    step::decode_step(decoder, node, &format!("{path}.{key}")).map(Box::new)
}

fn decode_retention(decoder: &mut Decoder, node: &Node, path: &str) -> Option<BuildLogRetention> {
    let mut map = MapReader::new(decoder, node, path)?;
    let mut read = |key: &str| {
        map.take(key)
            .and_then(|value| expect_int(decoder, value, &format!("{path}.{key}")))
    };
    let retention = BuildLogRetention {
        builds: read("builds").unwrap_or(0),
        minimum_succeeded_builds: read("minimum_succeeded_builds").unwrap_or(0),
        days: read("days").unwrap_or(0),
    };
    map.finish(decoder);
    Some(retention)
}
