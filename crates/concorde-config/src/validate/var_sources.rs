//! Validation of `var_sources`: types allowed in pipelines, names, and their dependency order.

use std::collections::{BTreeMap, HashSet};

use crate::model::{Pipeline, VarSource};
use crate::validate::sections::{push_identifier, section_location};
use crate::validate::{Diagnostic, ErrorGroup};
use crate::vars::{VarRef, find_var_refs};

/// Credential managers a pipeline may declare.
const SUPPORTED: [&str; 5] = ["vault", "dummy", "ssm", "secretsmanager", "idtoken"];
/// Managers the web node knows but pipelines may not use.
const CLUSTER_ONLY: [&str; 3] = ["credhub", "kubernetes", "conjur"];

pub(crate) fn validate_var_sources(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let group = ErrorGroup::VarSources;
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, source) in pipeline.var_sources.iter().enumerate() {
        let context = section_location("var_sources", index, &source.name);
        push_identifier(diagnostics, group, &context, &source.name, source.location);
        if let Some(first) = first_seen.get(source.name.as_str()) {
            let message = format!(
                "var_sources[{first}] and var_sources[{index}] have the same name ('{}')",
                source.name
            );
            diagnostics.push(Diagnostic::error(group, message, source.location));
        } else {
            first_seen.insert(source.name.as_str(), index);
        }
        let kind = source.kind.as_str();
        if CLUSTER_ONLY.contains(&kind) {
            let message =
                format!("credential manager type {kind} is not supported in pipeline yet");
            diagnostics.push(Diagnostic::error(group, message, source.location));
        } else if !SUPPORTED.contains(&kind) {
            diagnostics.push(Diagnostic::error(
                group,
                format!("unknown credential manager type: {kind}"),
                source.location,
            ));
        } else if let Some(reason) = config_problem(source) {
            let message = format!("credential manager {} is invalid: {reason}", source.name);
            diagnostics.push(Diagnostic::error(group, message, source.location));
        }
    }
    if let Some(unresolved) = dependency_cycle(&pipeline.var_sources) {
        let message = format!(
            "failed to order by dependency: could not resolve inter-dependent var sources: {}",
            unresolved.join(", ")
        );
        let location = pipeline
            .var_sources
            .first()
            .map(|s| s.location)
            .unwrap_or_default();
        diagnostics.push(Diagnostic::error(group, message, location));
    }
}

/// The shape every manager's config needs: a map; `dummy` also needs `vars` to be a map.
fn config_problem(source: &VarSource) -> Option<String> {
    let config = match &source.config {
        None => return (source.kind != "dummy").then(|| "config is missing".to_owned()),
        Some(serde_json::Value::Object(config)) => config,
        Some(_) => return Some("config must be a map".to_owned()),
    };
    if source.kind == "dummy" {
        if let Some(vars) = config.get("vars")
            && !vars.is_object()
        {
            return Some("vars must be a map".to_owned());
        }
        if let Some(key) = config.keys().find(|key| key.as_str() != "vars") {
            return Some(format!("unknown field '{key}'"));
        }
    }
    if source.kind == "vault" && !config.contains_key("url") {
        return Some("url is missing".to_owned());
    }
    None
}

/// Var sources whose configs reference each other in a cycle, in config order; `None` when
/// every source can be ordered.
fn dependency_cycle(sources: &[VarSource]) -> Option<Vec<String>> {
    let names: HashSet<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let mut remaining: Vec<(&str, HashSet<String>)> = sources
        .iter()
        .map(|source| {
            let mut deps = HashSet::new();
            if let Some(config) = &source.config {
                collect_sources(config, &mut deps);
            }
            deps.retain(|dep| names.contains(dep.as_str()));
            (source.name.as_str(), deps)
        })
        .collect();
    let mut resolved: HashSet<String> = HashSet::new();
    loop {
        let before = remaining.len();
        remaining.retain(|(name, deps)| {
            if deps.iter().all(|dep| resolved.contains(dep)) {
                resolved.insert((*name).to_owned());
                false
            } else {
                true
            }
        });
        if remaining.is_empty() {
            return None;
        }
        if remaining.len() == before {
            return Some(
                remaining
                    .into_iter()
                    .map(|(name, _)| name.to_owned())
                    .collect(),
            );
        }
    }
}

fn collect_sources(value: &serde_json::Value, sources: &mut HashSet<String>) {
    match value {
        serde_json::Value::String(text) => {
            for (_, inner) in find_var_refs(text) {
                if let Ok(var) = VarRef::parse(inner)
                    && let Some(source) = var.source
                {
                    sources.insert(source);
                }
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_sources(item, sources))
        }
        serde_json::Value::Object(map) => {
            map.values().for_each(|item| collect_sources(item, sources))
        }
        _ => {}
    }
}
