//! One fetch at a time per resource cache: concurrent gets of the same type, source, version
//! and params in this process wait for the first, then reuse what it cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::worker_client::CacheIdentity;

/// Per-cache locks, shared by every build and check the node runs.
#[derive(Debug, Default)]
pub struct CacheLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CacheLocks {
    /// The lock for one cache.
    pub(crate) fn lock_for(&self, identity: &CacheIdentity) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut locks) = self.locks.lock() else {
            return Arc::default();
        };
        // Locks of caches nobody fetches any more go; a held one has another reference.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(cache_key(identity)).or_default().clone()
    }
}

/// A hash of everything that determines the fetched bits.
pub fn cache_key(identity: &CacheIdentity) -> String {
    let whole = serde_json::json!({
        "type": identity.type_name,
        "base": identity.base_type,
        "image": identity.type_image.as_ref().map(|volume| volume.0.as_str()),
        "source": identity.source,
        "version": identity.version,
        "params": identity.params,
    });
    concorde_config::json_digest(&whole)
}
