//! Pipeline validation: every rule, error and warning of `fly validate-pipeline`.
//!
//! [`validate_pipeline`] returns every problem at once, each with the message Concourse prints
//! (context path included) and the YAML location where known. Errors block saving; warnings
//! do not, unless the caller is strict.

mod diagnostic;
mod identifier;
mod jobs;
mod sections;
mod steps;
mod var_sources;

pub use crate::glob::{GroupGlob, has_glob_meta, path_match};
pub use diagnostic::{
    Diagnostic, ErrorGroup, Severity, WarningKind, error_groups, render_fly_report,
};
pub use identifier::identifier_problem;

use crate::model::Pipeline;

/// Validates a decoded pipeline. Errors come first in group order, then warnings.
pub fn validate_pipeline(pipeline: &Pipeline) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    sections::validate_groups(pipeline, &mut diagnostics);
    sections::validate_resources(pipeline, &mut diagnostics);
    sections::validate_resource_types(pipeline, &mut diagnostics);
    var_sources::validate_var_sources(pipeline, &mut diagnostics);
    jobs::validate_jobs(pipeline, &mut diagnostics);
    sections::validate_display(pipeline, &mut diagnostics);
    jobs::validate_cycles(pipeline, &mut diagnostics);
    diagnostics
}
