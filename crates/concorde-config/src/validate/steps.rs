//! Validation of a job's plan, step by step, with the context paths Concourse prints
//! (`jobs.j.plan.do[0].in_parallel.steps[1].get(x)`).

use std::collections::{HashMap, HashSet};

use crate::duration::parse_duration;
use crate::glob::{has_glob_meta, path_match};
use crate::model::{AcrossValues, Job, MaxInFlight, Pipeline, Step, StepBody, TaskConfig};
use crate::validate::identifier::check_identifier;
use crate::validate::sections::push_identifier;
use crate::validate::{Diagnostic, ErrorGroup, WarningKind};

struct PlanValidator<'a> {
    pipeline: &'a Pipeline,
    job_resources: &'a HashMap<&'a str, HashSet<&'a str>>,
    resources: HashSet<&'a str>,
    prototypes: HashSet<&'a str>,
    seen_get_names: HashSet<String>,
    /// Local var scopes, outermost first; `across` opens a nested one.
    var_scopes: Vec<HashSet<String>>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// Validates a job's plan and job-level hooks under `context` (`jobs.<name>.plan`).
pub(crate) fn validate_job_plan<'a>(
    pipeline: &'a Pipeline,
    job_resources: &'a HashMap<&'a str, HashSet<&'a str>>,
    job: &'a Job,
    context: &str,
    diagnostics: &'a mut Vec<Diagnostic>,
) {
    let mut validator = PlanValidator {
        pipeline,
        job_resources,
        resources: pipeline.resources.iter().map(|r| r.name.as_str()).collect(),
        prototypes: pipeline
            .prototypes
            .iter()
            .map(|p| p.name.as_str())
            .collect(),
        seen_get_names: HashSet::new(),
        var_scopes: vec![HashSet::new()],
        diagnostics,
    };
    for (index, step) in job.plan.iter().enumerate() {
        validator.visit(step, &format!("{context}.do[{index}]"), false);
    }
    let hooks = [
        ("on_success", &job.on_success),
        ("on_failure", &job.on_failure),
        ("on_abort", &job.on_abort),
        ("on_error", &job.on_error),
        ("ensure", &job.ensure),
    ];
    for (key, hook) in hooks {
        if let Some(hook) = hook {
            validator.visit(hook, &format!("{context}.{key}"), false);
        }
    }
}

impl PlanValidator<'_> {
    fn error(&mut self, message: String, step: &Step) {
        self.diagnostics
            .push(Diagnostic::error(ErrorGroup::Jobs, message, step.location));
    }

    fn warning(&mut self, kind: WarningKind, message: String, step: &Step) {
        self.diagnostics.push(Diagnostic::warning(
            kind,
            ErrorGroup::Jobs,
            message,
            step.location,
        ));
    }

    fn identifier(&mut self, context: &str, name: &str, step: &Step) {
        push_identifier(
            self.diagnostics,
            ErrorGroup::Jobs,
            context,
            name,
            step.location,
        );
    }

    /// Visits one step; `under_across` skips the name check of tasks and set_pipeline steps,
    /// whose names usually hold `((.:var))`.
    fn visit(&mut self, step: &Step, context: &str, under_across: bool) {
        if !step.unknown_fields.is_empty() {
            let quoted: Vec<String> = step
                .unknown_fields
                .iter()
                .map(|key| format!("\"{key}\""))
                .collect();
            self.error(
                format!("{context}: unknown fields [{}]", quoted.join(" ")),
                step,
            );
        }
        match &step.body {
            StepBody::Get(get) => {
                let context = format!("{context}.get({})", get.name);
                self.identifier(&context, &get.name, step);
                if !self.seen_get_names.insert(get.name.clone()) {
                    self.error(format!("{context}: repeated name"), step);
                }
                let resource = get.resource_name();
                if !self.resources.contains(resource) {
                    self.error(format!("{context}: unknown resource '{resource}'"), step);
                }
                for entry in &get.passed {
                    self.check_passed(&context, entry, resource, step);
                }
            }
            StepBody::Put(put) => {
                let context = format!("{context}.put({})", put.name);
                self.identifier(&context, &put.name, step);
                let resource = put.resource_name();
                if !self.resources.contains(resource) {
                    self.error(format!("{context}: unknown resource '{resource}'"), step);
                }
            }
            StepBody::Task(task) => {
                let context = format!("{context}.task({})", task.name);
                if !under_across {
                    self.identifier(&context, &task.name, step);
                }
                match (&task.file, &task.config) {
                    (None, None) => self.error(
                        format!("{context}: must specify either `file:` or `config:`"),
                        step,
                    ),
                    (Some(_), Some(_)) => {
                        self.error(
                            format!(
                                "{context}: must specify one of `file:` or `config:`, not both"
                            ),
                            step,
                        );
                    }
                    _ => {}
                }
                if let Some(config) = &task.config {
                    self.check_task_config(&format!("{context}.config"), config, step);
                    if task.image.is_some()
                        && (config.image_resource.is_some() || config.rootfs_uri.is_some())
                    {
                        let message = format!(
                            "{context}: specifies image: on the step but also specifies an image under config: - \
                             the image: on the step takes precedence"
                        );
                        self.warning(WarningKind::Pipeline, message, step);
                    }
                }
                if task.hermetic {
                    let message = format!(
                        "{context}: specifies `hermetic:` only works against worker containerd runtime"
                    );
                    self.warning(WarningKind::Pipeline, message, step);
                }
            }
            StepBody::SetPipeline(set) => {
                let context = format!("{context}.set_pipeline({})", set.name);
                if !under_across {
                    self.identifier(&context, &set.name, step);
                }
                if set.file.as_deref().is_none_or(str::is_empty) {
                    self.error(format!("{context}: no file specified"), step);
                }
            }
            StepBody::LoadVar(load) => {
                let context = format!("{context}.load_var({})", load.name);
                self.identifier(&context, &load.name, step);
                if load.file.as_deref().is_none_or(str::is_empty) {
                    self.error(format!("{context}: no file specified"), step);
                }
                self.declare_var(&context, &load.name, step);
            }
            StepBody::Run(run) => {
                let context = format!("{context}.run({}.{})", run.prototype, run.message);
                if !self.prototypes.contains(run.prototype.as_str()) {
                    self.error(
                        format!("{context}: unknown prototype '{}'", run.prototype),
                        step,
                    );
                }
                if let Some((_, message)) = check_identifier(&context, &run.message) {
                    self.error(message, step);
                }
            }
            StepBody::Try(inner) => self.visit(&inner.step, &format!("{context}.try"), false),
            StepBody::Do(sequence) => {
                for (index, inner) in sequence.steps.iter().enumerate() {
                    self.visit(inner, &format!("{context}.do[{index}]"), false);
                }
            }
            StepBody::InParallel(parallel) => {
                for (index, inner) in parallel.steps.iter().enumerate() {
                    self.visit(
                        inner,
                        &format!("{context}.in_parallel.steps[{index}]"),
                        false,
                    );
                }
            }
            StepBody::Timeout(timeout) => {
                if parse_duration(&timeout.duration).is_err() && !timeout.duration.contains("((") {
                    self.error(
                        format!("{context}.timeout: invalid duration '{}'", timeout.duration),
                        step,
                    );
                }
                self.visit(&timeout.step, context, under_across);
            }
            StepBody::Retry(retry) => {
                if retry.attempts <= 0 {
                    self.error(format!("{context}.attempts: must be greater than 0"), step);
                }
                self.visit(&retry.step, context, under_across);
            }
            StepBody::Across(across) => self.visit_across(across, context, step),
            StepBody::Hook(hook) => {
                self.visit(&hook.step, context, under_across);
                self.visit(&hook.hook, &format!("{context}.{}", hook.kind.key()), false);
            }
        }
    }

    fn visit_across(&mut self, across: &crate::model::AcrossStep, context: &str, step: &Step) {
        if across.vars.is_empty() {
            self.error(format!("{context}: no vars specified"), step);
        }
        self.var_scopes.push(HashSet::new());
        for (index, var) in across.vars.iter().enumerate() {
            let var_context = format!("{context}.across[{index}]");
            self.declare_var(&var_context, &var.var, step);
            if let Some(MaxInFlight::Count(count)) = var.max_in_flight
                && count <= 0
            {
                self.error(
                    format!("{var_context}.max_in_flight: must be greater than 0"),
                    step,
                );
            }
            if let AcrossValues::Var(text) = &var.values
                && !text.contains("((")
            {
                self.error(
                    format!("{var_context}.values: must be a list or a ((var))"),
                    step,
                );
            }
        }
        self.visit(&across.step, context, true);
        self.var_scopes.pop();
    }

    /// Declares a local var in the innermost scope: `repeated var name` within one scope,
    /// `shadows local var` over an outer one.
    fn declare_var(&mut self, context: &str, name: &str, step: &Step) {
        let (innermost, outer) = match self.var_scopes.split_last_mut() {
            Some(split) => split,
            None => return,
        };
        if innermost.contains(name) {
            self.error(format!("{context}: repeated var name"), step);
            return;
        }
        let shadows = outer.iter().any(|scope| scope.contains(name));
        innermost.insert(name.to_owned());
        if shadows {
            self.warning(
                WarningKind::VarShadowed,
                format!("{context}: shadows local var '{name}'"),
                step,
            );
        }
    }

    fn check_passed(&mut self, context: &str, entry: &str, resource: &str, step: &Step) {
        if has_glob_meta(entry) && path_match(entry, "").is_none() {
            self.error(
                format!("{context}.passed: no matching job(s) for '{entry}'"),
                step,
            );
            return;
        }
        let jobs = self.pipeline.jobs_matching(entry);
        if jobs.is_empty() {
            self.error(
                format!("{context}.passed: no matching job(s) for '{entry}'"),
                step,
            );
            return;
        }
        for job in jobs {
            let interacts = self
                .job_resources
                .get(job)
                .is_some_and(|resources| resources.contains(resource));
            if !interacts {
                self.error(
                    format!(
                        "{context}.passed: job '{job}' does not interact with resource '{resource}'"
                    ),
                    step,
                );
            }
        }
    }

    fn check_task_config(&mut self, context: &str, config: &TaskConfig, step: &Step) {
        if !config.unknown_fields.is_empty() {
            let quoted: Vec<String> = config
                .unknown_fields
                .iter()
                .map(|key| format!("\"{key}\""))
                .collect();
            self.error(
                format!("{context}: unknown fields [{}]", quoted.join(" ")),
                step,
            );
        }
        for problem in crate::validate_task_config(config) {
            self.error(format!("{context}: {problem}"), step);
        }
    }
}
