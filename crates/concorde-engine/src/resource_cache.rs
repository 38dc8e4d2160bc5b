//! Resource caches: a fetched version kept in a volume on the worker, reused by later gets of
//! the same type, source, version and params.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use concorde_config::model::VersionMap;

use crate::event::MetadataField;

/// Per-cache locks (one fetch at a time per cache) and the results of fetches this process
/// made. Shared by every build the engine runs.
#[derive(Debug, Default)]
pub struct CacheLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    results: Mutex<HashMap<String, (VersionMap, Vec<MetadataField>)>>,
}

impl CacheLocks {
    /// The lock for one cache key.
    pub(crate) fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut locks) = self.locks.lock() else {
            return Arc::default();
        };
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// The version and metadata a cache holds, if this process filled it.
    pub(crate) fn result(&self, key: &str) -> Option<(VersionMap, Vec<MetadataField>)> {
        self.results
            .lock()
            .ok()
            .and_then(|results| results.get(key).cloned())
    }

    pub(crate) fn remember(&self, key: &str, version: &VersionMap, metadata: &[MetadataField]) {
        if let Ok(mut results) = self.results.lock() {
            results.insert(key.to_owned(), (version.clone(), metadata.to_vec()));
        }
    }
}

/// The cache key: a hash of everything that determines the fetched bits.
pub(crate) fn cache_key(
    kind: &str,
    source: &serde_json::Value,
    version: &VersionMap,
    params: &serde_json::Value,
) -> String {
    let identity =
        serde_json::json!({"type": kind, "source": source, "version": version, "params": params});
    concorde_config::json_digest(&identity)
}
