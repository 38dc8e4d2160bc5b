//! Static vars given on the command line: `-v k=v`, `-y k=<yaml>`, `-i k=v` and `-l file.yml`.
//!
//! Flags win over files, and later files win over earlier ones. A dotted name (`-v a.b=c`)
//! sets a field inside a map var.

use crate::decode::node_to_json;
use crate::model::JsonMap;
use crate::vars::{VarError, VarRef, Variables};
use crate::yaml::parse_yaml;

/// Why a static var could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaticVarsError {
    /// `-v` or `-y` without `=`.
    #[error("invalid var '{0}': expected NAME=VALUE")]
    MissingEquals(String),
    /// A bad name.
    #[error(transparent)]
    BadName(#[from] VarError),
    /// A `-y` value or `-l` file that is not YAML.
    #[error("invalid YAML for var '{name}': {message}")]
    BadYaml {
        /// The var or file name.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// A `-l` file whose top level is not a map.
    #[error("vars file '{0}' must contain a map of var names to values")]
    NotAMap(String),
}

/// The static vars in force, by precedence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StaticVars {
    flags: JsonMap,
    files: Vec<JsonMap>,
}

impl StaticVars {
    /// Whether no var was given at all.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty() && self.files.is_empty()
    }

    /// `-v NAME=STRING`: the value is taken as a string, verbatim.
    pub fn add_string(&mut self, flag: &str) -> Result<(), StaticVarsError> {
        let (name, value) = split_flag(flag)?;
        self.set(name, serde_json::Value::String(value.to_owned()))
    }

    /// `-y NAME=YAML` and `-i NAME=YAML`: the value is parsed as YAML.
    pub fn add_yaml(&mut self, flag: &str) -> Result<(), StaticVarsError> {
        let (name, value) = split_flag(flag)?;
        let node = parse_yaml(value).map_err(|err| StaticVarsError::BadYaml {
            name: name.to_owned(),
            message: err.to_string(),
        })?;
        self.set(name, node_to_json(&node))
    }

    /// `-l FILE`: the file's contents, a YAML map. Later files win over earlier ones.
    pub fn add_file(&mut self, file_name: &str, contents: &[u8]) -> Result<(), StaticVarsError> {
        let node =
            crate::yaml::parse_yaml_bytes(contents).map_err(|err| StaticVarsError::BadYaml {
                name: file_name.to_owned(),
                message: err.to_string(),
            })?;
        match node_to_json(&node) {
            serde_json::Value::Object(map) => self.files.push(map),
            serde_json::Value::Null => self.files.push(JsonMap::new()),
            _ => return Err(StaticVarsError::NotAMap(file_name.to_owned())),
        }
        Ok(())
    }

    fn set(&mut self, name: &str, value: serde_json::Value) -> Result<(), StaticVarsError> {
        let var = VarRef::parse(name)?;
        let mut path = vec![var.name];
        path.extend(var.fields);
        set_path(&mut self.flags, &path, value);
        Ok(())
    }
}

/// Sets `path` inside `map`, turning non-maps on the way into maps.
fn set_path(map: &mut JsonMap, path: &[String], value: serde_json::Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert(first.clone(), value);
        return;
    }
    let entry = map
        .entry(first.clone())
        .or_insert_with(|| serde_json::Value::Object(JsonMap::new()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(JsonMap::new());
    }
    if let serde_json::Value::Object(inner) = entry {
        set_path(inner, rest, value);
    }
}

fn split_flag(flag: &str) -> Result<(&str, &str), StaticVarsError> {
    flag.split_once('=')
        .ok_or_else(|| StaticVarsError::MissingEquals(flag.to_owned()))
}

impl Variables for StaticVars {
    fn lookup(&self, var: &VarRef) -> Result<Option<serde_json::Value>, VarError> {
        if var.source.is_some() {
            return Ok(None);
        }
        if let Some(value) = self.flags.get(&var.name) {
            return Ok(Some(value.clone()));
        }
        Ok(self
            .files
            .iter()
            .rev()
            .find_map(|file| file.get(&var.name).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::{Missing, interpolate_text};

    #[test]
    fn flags_win_over_files_and_dotted_names_nest() {
        let mut vars = StaticVars::default();
        vars.add_file("a.yml", b"name: from-file\nother: 1\n")
            .unwrap();
        vars.add_string("name=from-flag").unwrap();
        vars.add_string("deep.key=v").unwrap();
        vars.add_yaml("list=[1, 2]").unwrap();
        let text = interpolate_text(
            "((name)) ((other)) ((deep.key)) ((missing))",
            &vars,
            Missing::Leave,
        )
        .unwrap();
        assert_eq!(text, "from-flag 1 v ((missing))");
        let err = interpolate_text("x ((list))", &vars, Missing::Leave).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot interpolate non-primitive value ([]interface {}) from var: list"
        );
        let err = interpolate_text("((missing)) ((gone))", &vars, Missing::Error).unwrap_err();
        assert_eq!(err.to_string(), "undefined vars: gone, missing");
        assert!(matches!(
            vars.add_string("novalue"),
            Err(StaticVarsError::MissingEquals(_))
        ));
    }
}
