//! Decoding steps with Concourse's fixed key precedence.
//!
//! A step map is read by walking [`STEP_PRECEDENCE`]: each key present is parsed from the same
//! map; wrappers (hooks, `across`, `attempts`, `timeout`) then parse the rest of the map as the
//! step they wrap, and the first core step ends the walk. Keys no step type consumed are kept as
//! the step's unknown fields for the validator.

use crate::decode::fields::{expect_int, expect_strings, node_to_json};
use crate::decode::{Decoder, MapReader, task};
use crate::model::{
    AcrossStep, AcrossValues, AcrossVar, DoStep, GetStep, GetVersion, HookKind, HookStep,
    InParallelStep, LoadVarStep, MaxInFlight, PutInputs, PutStep, RetryStep, RunStep,
    SetPipelineStep, Step, StepBody, TaskStep, TimeoutStep, TryStep,
};
use crate::node::{Node, Value};

/// The order in which step keys are recognised, outermost wrapper first.
pub const STEP_PRECEDENCE: [&str; 17] = [
    "ensure",
    "on_error",
    "on_abort",
    "on_failure",
    "on_success",
    "across",
    "attempts",
    "run",
    "task",
    "put",
    "get",
    "timeout",
    "set_pipeline",
    "load_var",
    "try",
    "do",
    "in_parallel",
];

/// Decodes a list of steps (a plan, `do`, `in_parallel`).
pub(crate) fn decode_step_list(decoder: &mut Decoder, node: &Node, path: &str) -> Vec<Step> {
    let Value::Seq(items) = &node.value else {
        decoder.error(
            path,
            node,
            format!("expected a list of steps, found {}", node.kind_name()),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| decode_step(decoder, item, &format!("{path}[{index}]")))
        .collect()
}

/// Decodes one step map. Returns `None` (with an error recorded) when it is not a step at all.
pub(crate) fn decode_step(decoder: &mut Decoder, node: &Node, path: &str) -> Option<Step> {
    let mut map = MapReader::new(decoder, node, path)?;
    let body = decode_step_body(decoder, &mut map)?;
    Some(Step {
        body,
        unknown_fields: map.unconsumed_keys(),
        location: node.location,
    })
}

/// Parses the remaining keys of `map` as one step, wrappers first.
fn decode_step_body(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<StepBody> {
    for key in STEP_PRECEDENCE {
        if !map.has_unconsumed_key(key) {
            continue;
        }
        if let Some(kind) = HookKind::ALL.into_iter().find(|kind| kind.key() == key) {
            return decode_hook(decoder, map, kind);
        }
        let errors_before = decoder.errors.len();
        let body = match key {
            "across" => decode_across(decoder, map),
            "attempts" => decode_attempts(decoder, map),
            "timeout" => decode_timeout_wrapper(decoder, map),
            _ => Some(decode_core(decoder, map, key)),
        };
        for error in &mut decoder.errors[errors_before..] {
            if !error.message.starts_with("malformed ") {
                error.message =
                    format!("malformed {} step: {}", step_type_name(key), error.message);
            }
        }
        return body;
    }
    let message = if map.has_consumed() {
        "no core step type declared (e.g. get, put, task, etc.)"
    } else {
        "no step configured"
    };
    decoder.errors.push(crate::decode::DecodeError {
        path: map.path.clone(),
        message: message.to_owned(),
        location: map.location,
    });
    None
}

fn step_type_name(key: &str) -> &str {
    match key {
        "attempts" => "retry",
        other => other,
    }
}

fn decode_hook(decoder: &mut Decoder, map: &mut MapReader<'_>, kind: HookKind) -> Option<StepBody> {
    let hook_node = map.take(kind.key());
    let hook_path = map.field_path(kind.key());
    let inner = decode_wrapped(decoder, map)?;
    let hook = match hook_node {
        Some(node) => decode_step(decoder, node, &hook_path)?,
        None => {
            decoder.errors.push(crate::decode::DecodeError {
                path: hook_path,
                message: "no step configured".to_owned(),
                location: map.location,
            });
            return None;
        }
    };
    Some(StepBody::Hook(HookStep {
        kind,
        step: Box::new(inner),
        hook: Box::new(hook),
    }))
}

/// The step a wrapper wraps: the rest of the same map.
fn decode_wrapped(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<Step> {
    let location = map.location;
    let body = decode_step_body(decoder, map)?;
    Some(Step {
        body,
        unknown_fields: Vec::new(),
        location,
    })
}

fn decode_across(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<StepBody> {
    let path = map.field_path("across");
    let vars_node = map.take("across");
    let fail_fast = map.bool(decoder, "fail_fast");
    let mut vars = Vec::new();
    match vars_node.map(|node| (node, &node.value)) {
        Some((_, Value::Seq(items))) => {
            for (index, item) in items.iter().enumerate() {
                if let Some(var) = decode_across_var(decoder, item, &format!("{path}[{index}]")) {
                    vars.push(var);
                }
            }
        }
        Some((node, _)) => decoder.error(
            &path,
            node,
            format!("expected a list, found {}", node.kind_name()),
        ),
        None => {}
    }
    let step = decode_wrapped(decoder, map)?;
    Some(StepBody::Across(AcrossStep {
        step: Box::new(step),
        vars,
        fail_fast,
    }))
}

/// Across vars decode strictly: an unknown key inside a var entry is an error.
fn decode_across_var(decoder: &mut Decoder, node: &Node, path: &str) -> Option<AcrossVar> {
    let mut var_map = MapReader::new(decoder, node, path)?;
    let var = var_map.string(decoder, "var").unwrap_or_default();
    let values = match var_map.take("values") {
        Some(Node {
            value: Value::Seq(items),
            ..
        }) => AcrossValues::List(items.iter().map(node_to_json).collect()),
        Some(Node {
            value: Value::String(text),
            ..
        }) => AcrossValues::Var(text.clone()),
        Some(other) => {
            decoder.error(
                &format!("{path}.values"),
                other,
                format!("expected a list, found {}", other.kind_name()),
            );
            AcrossValues::List(Vec::new())
        }
        None => AcrossValues::List(Vec::new()),
    };
    let max_in_flight = match var_map.take("max_in_flight") {
        None => None,
        Some(Node {
            value: Value::Int(count),
            ..
        }) => Some(MaxInFlight::Count(*count)),
        Some(Node {
            value: Value::String(text),
            ..
        }) if text == "all" => Some(MaxInFlight::All),
        Some(
            other @ Node {
                value: Value::String(text),
                ..
            },
        ) => {
            decoder.error(
                &format!("{path}.max_in_flight"),
                other,
                format!("invalid max_in_flight \"{text}\""),
            );
            None
        }
        Some(other) => {
            let message = format!(
                "expected an integer or \"all\", found {}",
                other.kind_name()
            );
            decoder.error(&format!("{path}.max_in_flight"), other, message);
            None
        }
    };
    for key in var_map.unconsumed_keys() {
        decoder.error(path, node, format!("unknown field \"{key}\""));
    }
    Some(AcrossVar {
        var,
        values,
        max_in_flight,
        location: node.location,
    })
}

fn decode_attempts(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<StepBody> {
    let attempts = map.int(decoder, "attempts").unwrap_or(0);
    let step = decode_wrapped(decoder, map)?;
    Some(StepBody::Retry(RetryStep {
        step: Box::new(step),
        attempts,
    }))
}

fn decode_timeout_wrapper(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<StepBody> {
    let duration = map.string(decoder, "timeout").unwrap_or_default();
    let step = decode_wrapped(decoder, map)?;
    Some(StepBody::Timeout(TimeoutStep {
        step: Box::new(step),
        duration,
    }))
}

/// Decodes a core step from the keys it owns.
fn decode_core(decoder: &mut Decoder, map: &mut MapReader<'_>, key: &str) -> StepBody {
    match key {
        "get" => StepBody::Get(decode_get(decoder, map)),
        "put" => StepBody::Put(decode_put(decoder, map)),
        "task" => StepBody::Task(decode_task(decoder, map)),
        "set_pipeline" => StepBody::SetPipeline(SetPipelineStep {
            name: map.string(decoder, "set_pipeline").unwrap_or_default(),
            file: map.string(decoder, "file"),
            vars: map.object(decoder, "vars"),
            var_files: map.strings(decoder, "var_files"),
            team: map.string(decoder, "team"),
            instance_vars: map.object(decoder, "instance_vars"),
        }),
        "load_var" => StepBody::LoadVar(LoadVarStep {
            name: map.string(decoder, "load_var").unwrap_or_default(),
            file: map.string(decoder, "file"),
            format: map.string(decoder, "format"),
            reveal: map.bool(decoder, "reveal"),
        }),
        "try" => {
            let path = map.field_path("try");
            let step = match map.take("try") {
                Some(node) => decode_step(decoder, node, &path),
                None => None,
            };
            match step {
                Some(step) => StepBody::Try(TryStep {
                    step: Box::new(step),
                }),
                None => StepBody::Do(DoStep::default()),
            }
        }
        "do" => {
            let path = map.field_path("do");
            let steps = map
                .take("do")
                .map(|node| decode_step_list(decoder, node, &path))
                .unwrap_or_default();
            StepBody::Do(DoStep {
                steps,
                tags: map.strings(decoder, "tags"),
            })
        }
        "in_parallel" => StepBody::InParallel(decode_in_parallel(decoder, map)),
        _ => StepBody::Run(decode_run(decoder, map)),
    }
}

fn decode_get(decoder: &mut Decoder, map: &mut MapReader<'_>) -> GetStep {
    GetStep {
        name: map.string(decoder, "get").unwrap_or_default(),
        resource: map.string(decoder, "resource"),
        passed: map.strings(decoder, "passed"),
        trigger: map.bool(decoder, "trigger"),
        version: decode_get_version(decoder, map),
        params: map.object(decoder, "params"),
        tags: map.strings(decoder, "tags"),
        timeout: map.string(decoder, "timeout"),
    }
}

fn decode_get_version(decoder: &mut Decoder, map: &mut MapReader<'_>) -> Option<GetVersion> {
    let path = map.field_path("version");
    let node = map.take("version")?;
    match &node.value {
        Value::String(text) if text == "latest" => Some(GetVersion::Latest),
        Value::String(text) if text == "every" => Some(GetVersion::Every),
        Value::String(text) => {
            decoder.error(
                &path,
                node,
                format!("unknown version: '{text}' (expected latest, every or a map)"),
            );
            None
        }
        _ => {
            crate::decode::fields::decode_version_map(decoder, node, &path).map(GetVersion::Pinned)
        }
    }
}

fn decode_put(decoder: &mut Decoder, map: &mut MapReader<'_>) -> PutStep {
    let name = map.string(decoder, "put").unwrap_or_default();
    let resource = map.string(decoder, "resource");
    let params = map.object(decoder, "params");
    let inputs_path = map.field_path("inputs");
    let inputs = map.take("inputs").and_then(|node| match &node.value {
        Value::String(text) if text == "all" => Some(PutInputs::All),
        Value::String(text) if text == "detect" => Some(PutInputs::Detect),
        Value::String(text) => {
            decoder.error(
                &inputs_path,
                node,
                format!("unknown inputs value '{text}' (expected all, detect or a list)"),
            );
            None
        }
        _ => Some(PutInputs::List(expect_strings(decoder, node, &inputs_path))),
    });
    PutStep {
        name,
        resource,
        params,
        inputs,
        get_params: map.object(decoder, "get_params"),
        no_get: map.bool(decoder, "no_get"),
        tags: map.strings(decoder, "tags"),
        timeout: map.string(decoder, "timeout"),
    }
}

fn decode_task(decoder: &mut Decoder, map: &mut MapReader<'_>) -> TaskStep {
    let name = map.string(decoder, "task").unwrap_or_default();
    let config_path = map.field_path("config");
    let config = map
        .take("config")
        .map(|node| task::decode_task_config(decoder, node, &config_path));
    let limits_path = map.field_path("container_limits");
    TaskStep {
        name,
        file: map.string(decoder, "file"),
        config,
        image: map.string(decoder, "image"),
        privileged: map.bool(decoder, "privileged"),
        params: map.object(decoder, "params"),
        vars: map.object(decoder, "vars"),
        input_mapping: map.string_map(decoder, "input_mapping"),
        output_mapping: map.string_map(decoder, "output_mapping"),
        container_limits: map
            .take("container_limits")
            .map(|node| task::decode_limits(decoder, node, &limits_path)),
        hermetic: map.bool(decoder, "hermetic"),
        tags: map.strings(decoder, "tags"),
        timeout: map.string(decoder, "timeout"),
    }
}

fn decode_in_parallel(decoder: &mut Decoder, map: &mut MapReader<'_>) -> InParallelStep {
    let path = map.field_path("in_parallel");
    let tags = map.strings(decoder, "tags");
    let Some(node) = map.take("in_parallel") else {
        return InParallelStep {
            tags,
            ..InParallelStep::default()
        };
    };
    if let Value::Seq(_) = node.value {
        let steps = decode_step_list(decoder, node, &path);
        return InParallelStep {
            steps,
            limit: None,
            fail_fast: false,
            list_form: true,
            tags,
        };
    }
    let Some(mut inner) = MapReader::new(decoder, node, &path) else {
        return InParallelStep::default();
    };
    let steps_path = inner.field_path("steps");
    let steps = inner
        .take("steps")
        .map(|steps| decode_step_list(decoder, steps, &steps_path))
        .unwrap_or_default();
    let limit = inner
        .take("limit")
        .and_then(|limit| expect_int(decoder, limit, &format!("{path}.limit")));
    let fail_fast = inner.bool(decoder, "fail_fast");
    for key in inner.unconsumed_keys() {
        decoder.error(&path, node, format!("unknown field \"{key}\""));
    }
    InParallelStep {
        steps,
        limit,
        fail_fast,
        list_form: false,
        tags,
    }
}

fn decode_run(decoder: &mut Decoder, map: &mut MapReader<'_>) -> RunStep {
    let limits_path = map.field_path("container_limits");
    RunStep {
        message: map.string(decoder, "run").unwrap_or_default(),
        prototype: map.string(decoder, "type").unwrap_or_default(),
        params: map.object(decoder, "params"),
        privileged: map.bool(decoder, "privileged"),
        tags: map.strings(decoder, "tags"),
        container_limits: map
            .take("container_limits")
            .map(|node| task::decode_limits(decoder, node, &limits_path)),
        timeout: map.string(decoder, "timeout"),
    }
}
