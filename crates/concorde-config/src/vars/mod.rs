//! `((vars))`: references, static vars from the command line, and interpolation.
//!
//! Static interpolation (fly's `-v/-y/-l/-i`) leaves unknown vars in place for run time;
//! run-time interpolation demands that every var resolves. Both share one string interpolator.

mod interpolate;
mod reference;
mod static_vars;

pub use interpolate::{Missing, Variables, interpolate_json, interpolate_node, interpolate_text};
pub use reference::{VarRef, find_var_refs};
pub use static_vars::{StaticVars, StaticVarsError};

/// Problems resolving vars; messages match Concourse's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// A reference that does not parse.
    #[error("invalid var '{var}': {reason}")]
    InvalidReference {
        /// The reference as written.
        var: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A field lookup into a map that lacks it.
    #[error("missing field '{field}' in var: {var}")]
    MissingField {
        /// The missing field.
        field: String,
        /// The reference as written.
        var: String,
    },
    /// A field lookup into something that is not a map.
    #[error("cannot access field '{field}' of non-map value ('{kind}') from var: {var}")]
    NotAMap {
        /// The field asked for.
        field: String,
        /// The Go-style type of the value found.
        kind: String,
        /// The reference as written.
        var: String,
    },
    /// A map or list embedded in a longer string.
    #[error("cannot interpolate non-primitive value ({kind}) from var: {var}")]
    NonPrimitive {
        /// The Go-style type of the value.
        kind: String,
        /// The reference as written.
        var: String,
    },
    /// Vars that no source knows (only when every var must resolve).
    #[error("undefined vars: {}", .0.join(", "))]
    Undefined(Vec<String>),
    /// A `((source:var))` naming no known var source.
    #[error("missing source '{source_name}' in var: {var}")]
    MissingSource {
        /// The source named.
        source_name: String,
        /// The reference as written.
        var: String,
    },
}

/// The Go type name Concourse prints for a JSON value in var errors.
pub(crate) fn go_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "<nil>",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(number) if number.is_f64() => "float64",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
    }
}
