//! What validation reports, and how fly prints it.

use std::fmt::Write as _;

use crate::node::Location;

/// Whether a problem blocks saving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Blocks saving.
    Error,
    /// Reported; fails only under `--strict`.
    Warning,
}

/// The group an error is reported under (`invalid <group>:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorGroup {
    /// `groups`.
    Groups,
    /// `resources`.
    Resources,
    /// `resource types`.
    ResourceTypes,
    /// `prototypes`.
    Prototypes,
    /// `variable sources`.
    VarSources,
    /// `jobs`.
    Jobs,
    /// `display config`.
    Display,
    /// The cycle check, a second `jobs` entry.
    JobCycles,
}

impl ErrorGroup {
    /// The header word Concourse prints.
    pub fn header(self) -> &'static str {
        match self {
            ErrorGroup::Groups => "groups",
            ErrorGroup::Resources => "resources",
            ErrorGroup::ResourceTypes => "resource types",
            ErrorGroup::Prototypes => "prototypes",
            ErrorGroup::VarSources => "variable sources",
            ErrorGroup::Jobs | ErrorGroup::JobCycles => "jobs",
            ErrorGroup::Display => "display config",
        }
    }
}

/// The type of a warning, as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// `invalid_identifier`.
    InvalidIdentifier,
    /// `deprecated_field`.
    DeprecatedField,
    /// `pipeline`.
    Pipeline,
    /// `var_shadowed`.
    VarShadowed,
}

impl WarningKind {
    /// The type string in API responses.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::InvalidIdentifier => "invalid_identifier",
            WarningKind::DeprecatedField => "deprecated_field",
            WarningKind::Pipeline => "pipeline",
            WarningKind::VarShadowed => "var_shadowed",
        }
    }
}

/// One validation problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// For errors: the group it is reported under. Warnings have one too, for locality.
    pub group: ErrorGroup,
    /// For warnings: the type.
    pub warning: Option<WarningKind>,
    /// The message exactly as Concourse prints it, context path included.
    pub message: String,
    /// Where in the YAML, when known.
    pub location: Location,
}

impl Diagnostic {
    /// An error.
    pub fn error(group: ErrorGroup, message: impl Into<String>, location: Location) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            group,
            warning: None,
            message: message.into(),
            location,
        }
    }

    /// A warning.
    pub fn warning(
        kind: WarningKind,
        group: ErrorGroup,
        message: impl Into<String>,
        location: Location,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            group,
            warning: Some(kind),
            message: message.into(),
            location,
        }
    }

    /// The message with its location appended, for people.
    pub fn message_with_location(&self) -> String {
        if self.location.is_known() {
            format!("{} ({})", self.message, self.location)
        } else {
            self.message.clone()
        }
    }
}

/// The groups that have errors, each once, in Concourse's order (`invalid <group>:` blocks).
pub fn error_groups(diagnostics: &[Diagnostic]) -> Vec<ErrorGroup> {
    let mut groups: Vec<ErrorGroup> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.group)
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Renders diagnostics as `fly validate-pipeline` prints them on stderr: warnings under
/// `DEPRECATION WARNING:`, errors grouped as `invalid <group>:` blocks.
pub fn render_fly_report(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let warnings: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    if !warnings.is_empty() {
        out.push_str("\nDEPRECATION WARNING:\n");
        for warning in &warnings {
            let _ = writeln!(out, "  - {}", warning.message_with_location());
        }
        out.push('\n');
        if warnings
            .iter()
            .any(|w| w.warning == Some(WarningKind::InvalidIdentifier))
        {
            out.push_str(
                "identifier schema documentation: https://concourse-ci.org/config-basics.html#schema.identifier\n",
            );
        }
    }
    let groups = error_groups(diagnostics);
    if !groups.is_empty() {
        out.push_str("\nWARNING:\nError loading existing config:\n");
        for group in groups {
            let _ = writeln!(out, "  - invalid {}:", group.header());
            for error in diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error && d.group == group)
            {
                let _ = writeln!(out, "\t{}", error.message_with_location());
            }
        }
        out.push('\n');
    }
    out
}
