//! Validation results as the API reports them: errors grouped as Concourse's
//! `invalid <group>:` strings, warnings as `{type, message}`.

use concorde_config::{Diagnostic, Severity, error_groups};
use concorde_proto::{ConfigWarning, SaveConfigResponse};

/// Validation results as the API reports them: errors as one `invalid <group>:\n\t<msg>\n`
/// string per group, warnings as `{type, message}`.
pub fn validation_response(diagnostics: &[Diagnostic]) -> SaveConfigResponse {
    let errors = error_groups(diagnostics)
        .into_iter()
        .map(|group| {
            let mut text = format!("invalid {}:\n", group.header());
            for error in diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error && d.group == group)
            {
                text.push('\t');
                text.push_str(&error.message);
                text.push('\n');
            }
            text
        })
        .collect();
    let warnings = diagnostics
        .iter()
        .filter_map(|d| {
            d.warning.map(|kind| ConfigWarning {
                kind: kind.as_str().to_owned(),
                message: d.message.clone(),
            })
        })
        .collect();
    SaveConfigResponse { errors, warnings }
}
