//! A resource version as the API carries it, shared by builds (their inputs and outputs) and
//! resources (their versions and pins).

use std::collections::BTreeMap;

/// A resource version: string keys to string values, keys sorted.
pub type Version = BTreeMap<String, String>;
