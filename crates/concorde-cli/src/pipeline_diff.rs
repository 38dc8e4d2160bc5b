//! The diff `set-pipeline` shows before asking: per section (groups, resources, resource types,
//! jobs), each item added, removed or changed, rendered as a line diff of its YAML the way fly
//! prints it.

use std::io::Write;

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, json_to_yaml, load_pipeline, pipeline_to_json, sort_keys};
use serde_json::Value;

use crate::fly::style::Style;

/// The sections fly compares, in its order: config key, header, item label.
const SECTIONS: &[(&str, &str, &str)] = &[
    ("groups", "groups:", "group"),
    ("resources", "resources:", "resource"),
    ("resource_types", "resource types:", "resource type"),
    ("jobs", "jobs:", "job"),
];

/// The canonical JSON of a config the server returned: decoded and re-encoded like a local
/// file, so that both sides of the diff have the same defaults and key order. A config that does
/// not decode is compared as it came.
pub fn normalize_remote(config: &Value) -> Value {
    let bytes = config.to_string().into_bytes();
    match load_pipeline(&bytes, &StaticVars::default(), UnknownKeys::Ignore) {
        Ok(loaded) => sort_keys(pipeline_to_json(&loaded.pipeline)),
        Err(_) => sort_keys(config.clone()),
    }
}

/// One item that differs.
struct ItemDiff<'a> {
    before: Option<&'a Value>,
    after: Option<&'a Value>,
}

/// Writes the diff of `old` to `new` and says whether there was any.
pub fn write_diff(
    old: &Value,
    new: &Value,
    out: &mut dyn Write,
    color: bool,
) -> std::io::Result<bool> {
    let mut any = false;
    for (key, header, label) in SECTIONS {
        let before = items(old, key);
        let after = items(new, key);
        let diffs = diff_items(&before, &after, *key == "groups");
        if diffs.is_empty() {
            continue;
        }
        any = true;
        writeln!(out, "{header}")?;
        for diff in diffs {
            render(&diff, label, out, color)?;
        }
    }
    Ok(any)
}

fn items<'a>(config: &'a Value, key: &str) -> Vec<&'a Value> {
    config
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

fn name(item: &Value) -> &str {
    item.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// Removed and changed items in old order, then added ones in new order. Groups also count a
/// move to another position as a change, since their order is what the UI shows.
fn diff_items<'a>(before: &[&'a Value], after: &[&'a Value], ordered: bool) -> Vec<ItemDiff<'a>> {
    let mut diffs = Vec::new();
    for (old_index, old) in before.iter().enumerate() {
        match after.iter().position(|new| name(new) == name(old)) {
            None => diffs.push(ItemDiff {
                before: Some(old),
                after: None,
            }),
            Some(new_index) => {
                let new = after[new_index];
                if old != &new {
                    diffs.push(ItemDiff {
                        before: Some(old),
                        after: Some(new),
                    });
                }
                if ordered && old_index != new_index {
                    diffs.push(ItemDiff {
                        before: Some(old),
                        after: Some(new),
                    });
                }
            }
        }
    }
    for new in after {
        if !before.iter().any(|old| name(old) == name(new)) {
            diffs.push(ItemDiff {
                before: None,
                after: Some(new),
            });
        }
    }
    diffs
}

fn render(
    diff: &ItemDiff<'_>,
    label: &str,
    out: &mut dyn Write,
    color: bool,
) -> std::io::Result<()> {
    let (what, item) = match (diff.before, diff.after) {
        (Some(before), Some(_)) => ("has changed:", before),
        (Some(before), None) => ("has been removed:", before),
        (None, Some(after)) => ("has been added:", after),
        (None, None) => return Ok(()),
    };
    let title = format!("{label} {} {what}", name(item));
    writeln!(out, "  {}", Style::Yellow.paint(&title, color))?;
    let yaml = |value: Option<&Value>| {
        value
            .map(|value| json_to_yaml(value).unwrap_or_default())
            .unwrap_or_default()
    };
    let before = yaml(diff.before);
    let after = yaml(diff.after);
    for line in line_diff(
        &before.split('\n').collect::<Vec<_>>(),
        &after.split('\n').collect::<Vec<_>>(),
    ) {
        match line {
            Line::Common(text) => writeln!(out, "  {text}")?,
            Line::Removed(text) => writeln!(
                out,
                "{} {}",
                Style::Red.paint("-", color),
                Style::Red.paint(text, color)
            )?,
            Line::Added(text) => writeln!(
                out,
                "{} {}",
                Style::Green.paint("+", color),
                Style::Green.paint(text, color)
            )?,
        }
    }
    Ok(())
}

/// One line of a line diff.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Common(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A longest-common-subsequence line diff, removals before additions at each change.
fn line_diff<'a>(before: &[&'a str], after: &[&'a str]) -> Vec<Line<'a>> {
    let (rows, columns) = (before.len(), after.len());
    // lengths[i][j] = LCS length of before[i..] and after[j..].
    let mut lengths = vec![vec![0u32; columns + 1]; rows + 1];
    for i in (0..rows).rev() {
        for j in (0..columns).rev() {
            lengths[i][j] = if before[i] == after[j] {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::new();
    while i < rows || j < columns {
        if i < rows && j < columns && before[i] == after[j] {
            lines.push(Line::Common(before[i]));
            i += 1;
            j += 1;
        } else if i < rows && (j == columns || lengths[i + 1][j] >= lengths[i][j + 1]) {
            lines.push(Line::Removed(before[i]));
            i += 1;
        } else {
            lines.push(Line::Added(after[j]));
            j += 1;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_keeps_common_lines_and_orders_removals_first() {
        let lines = line_diff(&["a", "b", "c", ""], &["a", "x", "c", ""]);
        assert_eq!(
            lines,
            vec![
                Line::Common("a"),
                Line::Removed("b"),
                Line::Added("x"),
                Line::Common("c"),
                Line::Common("")
            ]
        );
    }

    #[test]
    fn moved_group_counts_as_changed() {
        let old = serde_json::json!({"groups": [{"name": "a"}, {"name": "b"}]});
        let new = serde_json::json!({"groups": [{"name": "b"}, {"name": "a"}]});
        let mut out = Vec::new();
        assert!(write_diff(&old, &new, &mut out, false).unwrap_or_default());
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.matches("has changed:").count(), 2, "{text}");
    }
}
