//! Decoding task configs, inline (`config:`) or from a file.
//!
//! Unknown keys are kept on the config: the validator reports them for inline configs, and the
//! file loader turns them into `unknown fields: [k]`.

use crate::decode::fields::expect_strings;
use crate::decode::{Decoder, MapReader, UnknownKeys};
use crate::model::{
    ContainerLimits, ImageResource, TaskCache, TaskConfig, TaskInput, TaskOutput, TaskRunConfig,
};
use crate::node::{Node, Value};

/// Decodes one task config; `path` is the config path of the node.
pub(crate) fn decode_task_config(decoder: &mut Decoder, node: &Node, path: &str) -> TaskConfig {
    let Some(mut map) = MapReader::new(decoder, node, path) else {
        return TaskConfig::default();
    };
    let image_path = map.field_path("image_resource");
    let limits_path = map.field_path("container_limits");
    let run_path = map.field_path("run");
    let mut config = TaskConfig {
        platform: map.string(decoder, "platform"),
        image_resource: map
            .take("image_resource")
            .and_then(|image| decode_image_resource(decoder, image, &image_path)),
        rootfs_uri: map.string(decoder, "rootfs_uri"),
        container_limits: map
            .take("container_limits")
            .map(|limits| decode_limits(decoder, limits, &limits_path)),
        params: map.object(decoder, "params"),
        run: map
            .take("run")
            .and_then(|run| decode_run(decoder, run, &run_path)),
        location: node.location,
        ..TaskConfig::default()
    };
    let inputs_path = map.field_path("inputs");
    if let Some(inputs) = map.take("inputs") {
        config.inputs = list_of_maps(decoder, inputs, &inputs_path, |decoder, item| TaskInput {
            name: item.string(decoder, "name").unwrap_or_default(),
            path: item.string(decoder, "path"),
            optional: item.bool(decoder, "optional"),
        });
    }
    let outputs_path = map.field_path("outputs");
    if let Some(outputs) = map.take("outputs") {
        config.outputs = list_of_maps(decoder, outputs, &outputs_path, |decoder, item| {
            TaskOutput {
                name: item.string(decoder, "name").unwrap_or_default(),
                path: item.string(decoder, "path"),
            }
        });
    }
    let caches_path = map.field_path("caches");
    if let Some(caches) = map.take("caches") {
        config.caches = list_of_maps(decoder, caches, &caches_path, |decoder, item| TaskCache {
            path: item.string(decoder, "path").unwrap_or_default(),
            ttl: item.string(decoder, "ttl"),
        });
    }
    config.unknown_fields = map.unconsumed_keys();
    config
}

/// Decodes a list whose items are strict maps (task inputs, outputs, caches).
fn list_of_maps<T>(
    decoder: &mut Decoder,
    node: &Node,
    path: &str,
    decode_item: impl Fn(&mut Decoder, &mut MapReader<'_>) -> T,
) -> Vec<T> {
    let Value::Seq(items) = &node.value else {
        decoder.error(
            path,
            node,
            format!("expected a list, found {}", node.kind_name()),
        );
        return Vec::new();
    };
    let mut decoded = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if let Some(mut reader) = MapReader::new(decoder, item, &format!("{path}[{index}]")) {
            decoded.push(decode_item(decoder, &mut reader));
            finish_strict(decoder, reader);
        }
    }
    decoded
}

/// Task config sub-structs are decoded strictly, like the task config itself.
fn finish_strict(decoder: &mut Decoder, reader: MapReader<'_>) {
    let saved = decoder.unknown_keys;
    decoder.unknown_keys = UnknownKeys::Reject;
    reader.finish(decoder);
    decoder.unknown_keys = saved;
}

fn decode_image_resource(decoder: &mut Decoder, node: &Node, path: &str) -> Option<ImageResource> {
    let mut map = MapReader::new(decoder, node, path)?;
    let image = ImageResource {
        kind: map.string(decoder, "type").unwrap_or_default(),
        source: map.object(decoder, "source"),
        params: map.object(decoder, "params"),
        version: map.version(decoder, "version"),
        tags: map.strings(decoder, "tags"),
    };
    finish_strict(decoder, map);
    Some(image)
}

fn decode_run(decoder: &mut Decoder, node: &Node, path: &str) -> Option<TaskRunConfig> {
    let mut map = MapReader::new(decoder, node, path)?;
    let args_path = map.field_path("args");
    let run = TaskRunConfig {
        path: map.string(decoder, "path").unwrap_or_default(),
        args: map
            .take("args")
            .map(|args| expect_strings(decoder, args, &args_path))
            .unwrap_or_default(),
        dir: map.string(decoder, "dir"),
        user: map.string(decoder, "user"),
    };
    finish_strict(decoder, map);
    Some(run)
}

/// `container_limits`, shared by task steps, `run` steps and task configs.
pub(crate) fn decode_limits(decoder: &mut Decoder, node: &Node, path: &str) -> ContainerLimits {
    let Some(mut map) = MapReader::new(decoder, node, path) else {
        return ContainerLimits::default();
    };
    let cpu = map.take("cpu").and_then(|cpu| match cpu.value {
        Value::Int(number) if number >= 0 => Some(number.unsigned_abs()),
        Value::UInt(number) => Some(number),
        _ => {
            decoder.error(&format!("{path}.cpu"), cpu, "cpu limit must be an integer");
            None
        }
    });
    let memory = map.take("memory").and_then(|memory| {
        let parsed = match &memory.value {
            Value::Int(number) if *number >= 0 => Some(number.unsigned_abs()),
            Value::UInt(number) => Some(*number),
            Value::String(text) => crate::duration::parse_memory(text),
            _ => None,
        };
        if parsed.is_none() {
            decoder.error(
                &format!("{path}.memory"),
                memory,
                "could not parse container memory limit",
            );
        }
        parsed
    });
    map.finish(decoder);
    ContainerLimits { cpu, memory }
}
