//! Local var scopes: `load_var` sets a var in the current scope, `across` opens a nested one
//! per combination; lookups walk outwards. Non-local vars go to the credential manager.

use std::sync::{Arc, Mutex};

use concorde_config::model::JsonMap;
use concorde_config::vars::{VarError, VarRef, Variables};

/// One scope of local vars.
#[derive(Debug, Default)]
pub struct VarScope {
    parent: Option<Arc<VarScope>>,
    vars: Mutex<JsonMap>,
    /// Values that must be redacted from logs (not `reveal`ed).
    secrets: Mutex<Vec<String>>,
}

impl VarScope {
    /// A child scope.
    pub fn child(parent: &Arc<VarScope>) -> Arc<VarScope> {
        Arc::new(VarScope {
            parent: Some(parent.clone()),
            ..VarScope::default()
        })
    }

    /// Sets a var in this scope.
    pub fn set(&self, name: &str, value: serde_json::Value, reveal: bool) {
        if !reveal
            && let serde_json::Value::String(text) = &value
            && let Ok(mut secrets) = self.secrets.lock()
        {
            secrets.push(text.clone());
        }
        if let Ok(mut vars) = self.vars.lock() {
            vars.insert(name.to_owned(), value);
        }
    }

    /// Looks a var up here or in an outer scope.
    pub fn get(&self, name: &str) -> Option<serde_json::Value> {
        let own = self
            .vars
            .lock()
            .ok()
            .and_then(|vars| vars.get(name).cloned());
        own.or_else(|| self.parent.as_ref().and_then(|parent| parent.get(name)))
    }
}

/// Vars as a step sees them: local scope first for `((.:x))`, credentials for the rest.
pub struct StepVars<'a> {
    /// The step's local scope.
    pub scope: &'a VarScope,
    /// The credential manager.
    pub credentials: &'a (dyn Variables + Send + Sync),
}

impl Variables for StepVars<'_> {
    fn lookup(&self, var: &VarRef) -> Result<Option<serde_json::Value>, VarError> {
        if var.is_local() {
            return Ok(self.scope.get(&var.name));
        }
        self.credentials.lookup(var)
    }
}
