//! Replacing `((vars))` in strings, YAML node trees and JSON values.
//!
//! A scalar that is exactly one `((ref))` takes the var's value with its type (a map, a list, a
//! number); a ref inside longer text is replaced by the value's text, which must be a string or
//! a number. Map keys are interpolated too.

use crate::node::{Location, Node, Value};
use crate::vars::{VarError, VarRef, find_var_refs, go_type_name};

/// Where var values come from.
pub trait Variables {
    /// The value of the var named by `var.source` and `var.name` (fields are walked by the
    /// caller). `Ok(None)` means "not known here".
    fn lookup(&self, var: &VarRef) -> Result<Option<serde_json::Value>, VarError>;
}

/// What to do with a var no source knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Leave `((ref))` in place, to be resolved later (static vars).
    Leave,
    /// Fail with `undefined vars: ...` (run time).
    Error,
}

/// The result of interpolating one string.
enum Interpolated {
    /// The string was exactly one ref: the var's value, type preserved.
    Whole(serde_json::Value),
    /// The string with its refs replaced.
    Text(String),
    /// Nothing to replace.
    Unchanged,
}

/// Resolves a ref to its value, walking fields. `Ok(None)` when the var is unknown.
fn resolve(vars: &dyn Variables, var: &VarRef) -> Result<Option<serde_json::Value>, VarError> {
    let Some(mut value) = vars.lookup(var)? else {
        return Ok(None);
    };
    for field in &var.fields {
        value = match value {
            serde_json::Value::Object(mut map) => {
                map.remove(field).ok_or_else(|| VarError::MissingField {
                    field: field.clone(),
                    var: var.raw.clone(),
                })?
            }
            other => {
                return Err(VarError::NotAMap {
                    field: field.clone(),
                    kind: go_type_name(&other).to_owned(),
                    var: var.raw.clone(),
                });
            }
        };
    }
    Ok(Some(value))
}

fn interpolate_str(
    text: &str,
    vars: &dyn Variables,
    undefined: &mut Vec<String>,
) -> Result<Interpolated, VarError> {
    let refs = find_var_refs(text);
    if refs.is_empty() {
        return Ok(Interpolated::Unchanged);
    }
    if refs.len() == 1 && refs[0].0 == (0..text.len()) {
        let var = VarRef::parse(refs[0].1)?;
        return match resolve(vars, &var)? {
            Some(value) => Ok(Interpolated::Whole(value)),
            None => {
                undefined.push(var.raw);
                Ok(Interpolated::Unchanged)
            }
        };
    }
    let mut output = String::with_capacity(text.len());
    let mut copied_up_to = 0;
    let mut changed = false;
    for (range, inner) in refs {
        let var = VarRef::parse(inner)?;
        output.push_str(&text[copied_up_to..range.start]);
        match resolve(vars, &var)? {
            Some(serde_json::Value::String(value)) => output.push_str(&value),
            Some(serde_json::Value::Number(number)) => output.push_str(&number.to_string()),
            Some(serde_json::Value::Bool(flag)) => output.push_str(&flag.to_string()),
            Some(other) => {
                return Err(VarError::NonPrimitive {
                    kind: go_type_name(&other).to_owned(),
                    var: var.raw,
                });
            }
            None => {
                output.push_str(&text[range.clone()]);
                undefined.push(var.raw);
                copied_up_to = range.end;
                continue;
            }
        }
        changed = true;
        copied_up_to = range.end;
    }
    output.push_str(&text[copied_up_to..]);
    Ok(if changed {
        Interpolated::Text(output)
    } else {
        Interpolated::Unchanged
    })
}

/// Interpolates a single string (for example a webhook token). A whole-string ref to a
/// non-string value yields that value's JSON text.
pub fn interpolate_text(
    text: &str,
    vars: &dyn Variables,
    missing: Missing,
) -> Result<String, VarError> {
    let mut undefined = Vec::new();
    let result = match interpolate_str(text, vars, &mut undefined)? {
        Interpolated::Whole(serde_json::Value::String(value)) | Interpolated::Text(value) => value,
        Interpolated::Whole(value) => value.to_string(),
        Interpolated::Unchanged => text.to_owned(),
    };
    finish(undefined, missing).map(|()| result)
}

fn finish(mut undefined: Vec<String>, missing: Missing) -> Result<(), VarError> {
    if missing == Missing::Error && !undefined.is_empty() {
        undefined.sort();
        undefined.dedup();
        return Err(VarError::Undefined(undefined));
    }
    Ok(())
}

/// Interpolates a YAML tree in place, keeping locations.
pub fn interpolate_node(
    node: &mut Node,
    vars: &dyn Variables,
    missing: Missing,
) -> Result<(), VarError> {
    let mut undefined = Vec::new();
    walk_node(node, vars, &mut undefined)?;
    finish(undefined, missing)
}

fn walk_node(
    node: &mut Node,
    vars: &dyn Variables,
    undefined: &mut Vec<String>,
) -> Result<(), VarError> {
    match &mut node.value {
        Value::String(text) => match interpolate_str(text, vars, undefined)? {
            Interpolated::Whole(value) => node.value = json_to_node(&value, node.location).value,
            Interpolated::Text(replaced) => *text = replaced,
            Interpolated::Unchanged => {}
        },
        Value::Seq(items) => {
            for item in items {
                walk_node(item, vars, undefined)?;
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                walk_node(key, vars, undefined)?;
                walk_node(value, vars, undefined)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => {}
    }
    Ok(())
}

/// Interpolates a JSON value in place.
pub fn interpolate_json(
    value: &mut serde_json::Value,
    vars: &dyn Variables,
    missing: Missing,
) -> Result<(), VarError> {
    let mut undefined = Vec::new();
    walk_json(value, vars, &mut undefined)?;
    finish(undefined, missing)
}

fn walk_json(
    value: &mut serde_json::Value,
    vars: &dyn Variables,
    undefined: &mut Vec<String>,
) -> Result<(), VarError> {
    match value {
        serde_json::Value::String(text) => match interpolate_str(text, vars, undefined)? {
            Interpolated::Whole(replacement) => *value = replacement,
            Interpolated::Text(replaced) => *text = replaced,
            Interpolated::Unchanged => {}
        },
        serde_json::Value::Array(items) => {
            for item in items {
                walk_json(item, vars, undefined)?;
            }
        }
        serde_json::Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                walk_json(&mut item, vars, undefined)?;
                let key = match interpolate_str(&key, vars, undefined)? {
                    Interpolated::Whole(serde_json::Value::String(text))
                    | Interpolated::Text(text) => text,
                    Interpolated::Whole(other) => other.to_string(),
                    Interpolated::Unchanged => key,
                };
                map.insert(key, item);
            }
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
    Ok(())
}

/// Converts a JSON value into a node tree whose nodes all carry `location`.
pub(crate) fn json_to_node(value: &serde_json::Value, location: Location) -> Node {
    let value = match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => {
            if let Some(small) = number.as_i64() {
                Value::Int(small)
            } else if let Some(big) = number.as_u64() {
                Value::UInt(big)
            } else {
                Value::Float(number.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(items) => Value::Seq(
            items
                .iter()
                .map(|item| json_to_node(item, location))
                .collect(),
        ),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(key, item)| {
                    (
                        Node {
                            value: Value::String(key.clone()),
                            location,
                        },
                        json_to_node(item, location),
                    )
                })
                .collect(),
        ),
    };
    Node { value, location }
}
