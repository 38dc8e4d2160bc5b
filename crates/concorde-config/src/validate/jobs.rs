//! Validation of `jobs`: names, retention settings, plans, and cycles through `passed`.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Job, Pipeline, StepBody};
use crate::validate::sections::{push_identifier, section_location};
use crate::validate::steps::validate_job_plan;
use crate::validate::{Diagnostic, ErrorGroup, WarningKind};

pub(crate) fn validate_jobs(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let group = ErrorGroup::Jobs;
    if pipeline.jobs.is_empty() {
        diagnostics.push(Diagnostic::error(
            group,
            "jobs: pipeline must contain at least one job",
            Default::default(),
        ));
        return;
    }
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, job) in pipeline.jobs.iter().enumerate() {
        let context = section_location("jobs", index, &job.name);
        if job.name.is_empty() {
            diagnostics.push(Diagnostic::error(
                group,
                format!("{context} has no name"),
                job.location,
            ));
        } else {
            push_identifier(diagnostics, group, &context, &job.name, job.location);
            if let Some(first) = first_seen.get(job.name.as_str()) {
                let message = format!(
                    "jobs[{first}] and jobs[{index}] have the same name ('{}')",
                    job.name
                );
                diagnostics.push(Diagnostic::error(group, message, job.location));
            } else {
                first_seen.insert(job.name.as_str(), index);
            }
        }
        validate_retention(job, &context, diagnostics);
    }
    let job_resources = resources_per_job(pipeline);
    for (index, job) in pipeline.jobs.iter().enumerate() {
        let context = format!("{}.plan", section_location("jobs", index, &job.name));
        validate_job_plan(pipeline, &job_resources, job, &context, diagnostics);
    }
}

fn validate_retention(job: &Job, context: &str, diagnostics: &mut Vec<Diagnostic>) {
    let group = ErrorGroup::Jobs;
    let mut error =
        |message: String| diagnostics.push(Diagnostic::error(group, message, job.location));
    if job.build_log_retention.is_some() && job.build_logs_to_retain.is_some() {
        error(format!(
            "{context} can't use both build_log_retention and build_logs_to_retain"
        ));
    }
    if let Some(count) = job.build_logs_to_retain
        && count < 0
    {
        error(format!(
            "{context} has negative build_logs_to_retain: {count}"
        ));
    }
    if let Some(retention) = &job.build_log_retention {
        if retention.builds < 0 {
            error(format!(
                "{context} has negative build_log_retention.builds: {}",
                retention.builds
            ));
        }
        if retention.days < 0 {
            error(format!(
                "{context} has negative build_log_retention.days: {}",
                retention.days
            ));
        }
        let minimum = retention.minimum_succeeded_builds;
        if minimum < 0 {
            error(format!(
                "{context} has negative build_log_retention.min_success_builds: {minimum}"
            ));
        }
        if retention.builds > 0 && minimum > retention.builds {
            // The second label repeats the first: Concourse prints it this way.
            error(format!(
                "{context} has build_log_retention.min_success_builds: {minimum} greater than \
                 build_log_retention.min_success_builds: {}",
                retention.builds
            ));
        }
    }
    if job.build_logs_to_retain.is_some() {
        diagnostics.push(Diagnostic::warning(
            WarningKind::DeprecatedField,
            group,
            format!(
                "{context}.build_logs_to_retain is deprecated. Use build_log_retention instead."
            ),
            job.location,
        ));
    }
}

/// For every job, the resources its gets and puts touch (hooks included).
fn resources_per_job(pipeline: &Pipeline) -> HashMap<&str, HashSet<&str>> {
    pipeline
        .jobs
        .iter()
        .map(|job| {
            let mut resources = HashSet::new();
            for step in job.top_level_steps() {
                step.for_each(&mut |inner| match &inner.body {
                    StepBody::Get(get) => {
                        resources.insert(get.resource_name());
                    }
                    StepBody::Put(put) => {
                        resources.insert(put.resource_name());
                    }
                    _ => {}
                });
            }
            (job.name.as_str(), resources)
        })
        .collect()
}

/// `pipeline contains a cycle that starts at Job 'j'`, for the first job (in config order)
/// from which following `passed` edges leads back to a job on the current path.
pub(crate) fn validate_cycles(pipeline: &Pipeline, diagnostics: &mut Vec<Diagnostic>) {
    let mut upstream: HashMap<&str, Vec<&str>> = HashMap::new();
    for job in &pipeline.jobs {
        let mut edges = Vec::new();
        for step in job.top_level_steps() {
            step.for_each(&mut |inner| {
                if let StepBody::Get(get) = &inner.body {
                    for entry in &get.passed {
                        edges.extend(pipeline.jobs_matching(entry));
                    }
                }
            });
        }
        upstream.insert(job.name.as_str(), edges);
    }
    let mut finished: HashSet<&str> = HashSet::new();
    for job in &pipeline.jobs {
        let mut on_path = Vec::new();
        if has_cycle(job.name.as_str(), &upstream, &mut on_path, &mut finished) {
            diagnostics.push(Diagnostic::error(
                ErrorGroup::JobCycles,
                format!(
                    "pipeline contains a cycle that starts at Job '{}'",
                    job.name
                ),
                job.location,
            ));
            return;
        }
    }
}

fn has_cycle<'a>(
    job: &'a str,
    upstream: &HashMap<&'a str, Vec<&'a str>>,
    on_path: &mut Vec<&'a str>,
    finished: &mut HashSet<&'a str>,
) -> bool {
    if on_path.contains(&job) {
        return true;
    }
    if finished.contains(job) {
        return false;
    }
    on_path.push(job);
    let found = upstream
        .get(job)
        .into_iter()
        .flatten()
        .any(|next| has_cycle(next, upstream, on_path, finished));
    on_path.pop();
    finished.insert(job);
    found
}
