//! Validation of the plain sections: groups, resources, resource types, prototypes, display.

use std::collections::{BTreeMap, HashSet};

use crate::model::{Pipeline, ResourceType, StepBody};
use crate::node::Location;
use crate::validate::identifier::check_identifier;
use crate::validate::{Diagnostic, ErrorGroup, GroupGlob, WarningKind};

/// `section.name`, or `section[index]` when the name is empty.
pub(crate) fn section_location(section: &str, index: usize, name: &str) -> String {
    if name.is_empty() {
        format!("{section}[{index}]")
    } else {
        format!("{section}.{name}")
    }
}

/// Reports an identifier problem: an error when empty, a warning otherwise.
pub(crate) fn push_identifier(
    diagnostics: &mut Vec<Diagnostic>,
    group: ErrorGroup,
    context: &str,
    identifier: &str,
    location: Location,
) {
    if let Some((is_error, message)) = check_identifier(context, identifier) {
        diagnostics.push(if is_error {
            Diagnostic::error(group, message, location)
        } else {
            Diagnostic::warning(WarningKind::InvalidIdentifier, group, message, location)
        });
    }
}

/// Reports `a and b have the same name ('n')` for every later duplicate of an earlier name.
fn push_duplicates<'a>(
    diagnostics: &mut Vec<Diagnostic>,
    group: ErrorGroup,
    items: impl Iterator<Item = (String, &'a str, Location)>,
) {
    let mut first_seen: BTreeMap<&str, String> = BTreeMap::new();
    for (index_location, name, location) in items {
        if name.is_empty() {
            continue;
        }
        match first_seen.get(name) {
            Some(first) => diagnostics.push(Diagnostic::error(
                group,
                format!("{first} and {index_location} have the same name ('{name}')"),
                location,
            )),
            None => {
                first_seen.insert(name, index_location);
            }
        }
    }
}

pub(crate) fn validate_groups(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let group = ErrorGroup::Groups;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in &pipeline.groups {
        *counts.entry(entry.name.as_str()).or_default() += 1;
    }
    let resource_names: HashSet<&str> =
        pipeline.resources.iter().map(|r| r.name.as_str()).collect();
    let mut grouped_jobs: HashSet<&str> = HashSet::new();
    let mut reported_duplicates: HashSet<&str> = HashSet::new();
    for (index, entry) in pipeline.groups.iter().enumerate() {
        let context = section_location("groups", index, &entry.name);
        push_identifier(diagnostics, group, &context, &entry.name, entry.location);
        let count = counts.get(entry.name.as_str()).copied().unwrap_or(0);
        if count > 1 && reported_duplicates.insert(entry.name.as_str()) {
            let message = format!(
                "group '{}' appears {count} times. Duplicate names are not allowed.",
                entry.name
            );
            diagnostics.push(Diagnostic::error(group, message, entry.location));
        }
        for pattern in &entry.jobs {
            let Some(glob) = GroupGlob::compile(pattern) else {
                let message = format!(
                    "invalid glob expression '{pattern}' for group '{}'",
                    entry.name
                );
                diagnostics.push(Diagnostic::error(group, message, entry.location));
                continue;
            };
            let mut matched = false;
            for job in pipeline.jobs.iter().filter(|job| glob.matches(&job.name)) {
                matched = true;
                grouped_jobs.insert(job.name.as_str());
            }
            if !matched {
                let message = format!("no jobs match '{pattern}' for group '{}'", entry.name);
                diagnostics.push(Diagnostic::error(group, message, entry.location));
            }
        }
        for resource in entry
            .resources
            .iter()
            .filter(|r| !resource_names.contains(r.as_str()))
        {
            let message = format!("group '{}' has unknown resource '{resource}'", entry.name);
            diagnostics.push(Diagnostic::error(group, message, entry.location));
        }
    }
    if !pipeline.groups.is_empty() {
        for job in pipeline
            .jobs
            .iter()
            .filter(|job| !grouped_jobs.contains(job.name.as_str()))
        {
            diagnostics.push(Diagnostic::error(
                group,
                format!("job '{}' belongs to no group", job.name),
                job.location,
            ));
        }
    }
}

pub(crate) fn validate_resources(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let group = ErrorGroup::Resources;
    push_duplicates(
        diagnostics,
        group,
        pipeline
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("resources[{i}]"), r.name.as_str(), r.location)),
    );
    let used = used_resources(pipeline);
    for (index, resource) in pipeline.resources.iter().enumerate() {
        let context = section_location("resources", index, &resource.name);
        if resource.name.is_empty() {
            diagnostics.push(Diagnostic::error(
                group,
                format!("{context} has no name"),
                resource.location,
            ));
        } else {
            push_identifier(
                diagnostics,
                group,
                &context,
                &resource.name,
                resource.location,
            );
        }
        if resource.kind.is_empty() {
            diagnostics.push(Diagnostic::error(
                group,
                format!("{context} has no type"),
                resource.location,
            ));
        }
        if !resource.name.is_empty() && !used.contains(resource.name.as_str()) {
            let message = format!("resource '{}' is not used", resource.name);
            diagnostics.push(Diagnostic::error(group, message, resource.location));
        }
    }
}

/// Names of resources used by any get or put, in plans and hooks.
fn used_resources(pipeline: &Pipeline) -> HashSet<&str> {
    let mut used = HashSet::new();
    for job in &pipeline.jobs {
        for step in job.top_level_steps() {
            step.for_each(&mut |inner| match &inner.body {
                StepBody::Get(get) => {
                    used.insert(get.resource_name());
                }
                StepBody::Put(put) => {
                    used.insert(put.resource_name());
                }
                _ => {}
            });
        }
    }
    used
}

pub(crate) fn validate_resource_types(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let types = pipeline
        .resource_types
        .iter()
        .enumerate()
        .map(|(i, t)| ("resource_types", i, t));
    let prototypes = pipeline
        .prototypes
        .iter()
        .enumerate()
        .map(|(i, t)| ("prototypes", i, t));
    let all: Vec<(&str, usize, &ResourceType)> = types.chain(prototypes).collect();
    let mut first_seen: BTreeMap<&str, String> = BTreeMap::new();
    for (section, index, kind) in &all {
        let group = if *section == "resource_types" {
            ErrorGroup::ResourceTypes
        } else {
            ErrorGroup::Prototypes
        };
        let context = section_location(section, *index, &kind.name);
        if kind.name.is_empty() {
            diagnostics.push(Diagnostic::error(
                group,
                format!("{context} has no name"),
                kind.location,
            ));
        } else {
            push_identifier(diagnostics, group, &context, &kind.name, kind.location);
            let here = format!("{section}[{index}]");
            match first_seen.get(kind.name.as_str()) {
                Some(first) => diagnostics.push(Diagnostic::error(
                    group,
                    format!("{first} and {here} have the same name ('{}')", kind.name),
                    kind.location,
                )),
                None => {
                    first_seen.insert(kind.name.as_str(), here);
                }
            }
        }
        if kind.kind.is_empty() {
            diagnostics.push(Diagnostic::error(
                group,
                format!("{context} has no type"),
                kind.location,
            ));
        }
    }
}

pub(crate) fn validate_display(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let Some(display) = &pipeline.display else {
        return;
    };
    let Some(image) = &display.background_image else {
        return;
    };
    match url_scheme(image) {
        Err(()) => diagnostics.push(Diagnostic::error(
            ErrorGroup::Display,
            format!("background_image is not a valid URL: {image}"),
            display.location,
        )),
        Ok(Some(scheme)) if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") => {
            diagnostics.push(Diagnostic::error(
                ErrorGroup::Display,
                "background_image scheme must be either http, https or relative",
                display.location,
            ));
        }
        Ok(_) => {}
    }
}

/// The URL's scheme (`None` for a relative URL), or `Err` when the text is not a URL, following
/// the cases Go's `url.Parse` rejects: control characters, a leading colon, bad escapes.
fn url_scheme(text: &str) -> Result<Option<&str>, ()> {
    if text.chars().any(|c| c.is_control()) || text.starts_with(':') {
        return Err(());
    }
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'%' {
            let valid = bytes
                .get(index + 1..index + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit));
            if !valid {
                return Err(());
            }
        }
    }
    let Some(colon) = text.find(':') else {
        return Ok(None);
    };
    let candidate = &text[..colon];
    if candidate.contains(['/', '?', '#']) {
        return Ok(None);
    }
    let mut characters = candidate.chars();
    let valid = characters.next().is_some_and(|c| c.is_ascii_alphabetic())
        && characters.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if valid { Ok(Some(candidate)) } else { Err(()) }
}
