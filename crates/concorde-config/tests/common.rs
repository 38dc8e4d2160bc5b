//! Helpers shared by the config crate's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use concorde_config::vars::StaticVars;
use concorde_config::{Diagnostic, UnknownKeys, load_pipeline, validate_pipeline};

/// The shared material beside the repository, or `CONCORDE_SHARED`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("CONCORDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// Loads and validates YAML text, panicking (in tests) if it does not decode.
pub fn diagnostics(yaml: &str) -> Vec<Diagnostic> {
    let loaded = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Ignore)
        .unwrap_or_else(|err| panic!("pipeline should decode: {err}\n{yaml}"));
    validate_pipeline(&loaded.pipeline)
}

/// The messages of the diagnostics, for assertions.
pub fn messages(yaml: &str) -> Vec<String> {
    diagnostics(yaml).into_iter().map(|d| d.message).collect()
}
