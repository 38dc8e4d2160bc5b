//! The `-v`, `-y`, `-l` and `-i` flags shared by commands that template a config.

use anyhow::Context;
use concorde_config::vars::StaticVars;

/// Static var flags, as fly takes them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StaticVarFlags {
    /// A string var: `-v NAME=VALUE` (NAME may be a dotted path).
    #[arg(short = 'v', long = "var", value_name = "NAME=VALUE")]
    pub var: Vec<String>,
    /// A YAML var: `-y NAME=YAML`.
    #[arg(short = 'y', long = "yaml-var", value_name = "NAME=YAML")]
    pub yaml_var: Vec<String>,
    /// An instance var: `-i NAME=YAML`.
    #[arg(short = 'i', long = "instance-var", value_name = "NAME=YAML")]
    pub instance_var: Vec<String>,
    /// A YAML file of vars: `-l FILE` (later files win).
    #[arg(short = 'l', long = "load-vars-from", value_name = "FILE")]
    pub load_vars_from: Vec<std::path::PathBuf>,
}

impl StaticVarFlags {
    /// Reads the files and builds the vars.
    pub fn to_static_vars(&self) -> anyhow::Result<StaticVars> {
        let mut vars = StaticVars::default();
        for path in &self.load_vars_from {
            let contents = std::fs::read(path)
                .with_context(|| format!("could not read vars file {}", path.display()))?;
            vars.add_file(&path.display().to_string(), &contents)?;
        }
        for flag in &self.var {
            vars.add_string(flag)?;
        }
        for flag in self.yaml_var.iter().chain(&self.instance_var) {
            vars.add_yaml(flag)?;
        }
        Ok(vars)
    }

    /// The `-i` flags as instance vars (`-i a.b=1` is `{"a": {"b": 1}}`), in the order given.
    pub fn instance_vars(&self) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let mut vars = serde_json::Map::new();
        for flag in &self.instance_var {
            let (name, yaml) = flag
                .split_once('=')
                .with_context(|| format!("-i {flag}: expected NAME=YAML"))?;
            let value: serde_json::Value = serde_saphyr::from_str(yaml)
                .with_context(|| format!("-i {flag}: the value is not YAML"))?;
            let mut path = name.split('.').peekable();
            let mut level = &mut vars;
            while let Some(key) = path.next() {
                if key.is_empty() {
                    anyhow::bail!("-i {flag}: empty field name");
                }
                if path.peek().is_none() {
                    level.insert(key.to_owned(), value.clone());
                    break;
                }
                let entry = level
                    .entry(key.to_owned())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !entry.is_object() {
                    *entry = serde_json::Value::Object(serde_json::Map::new());
                }
                let Some(next) = entry.as_object_mut() else {
                    break;
                };
                level = next;
            }
        }
        Ok(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_vars_nest_dotted_names_and_parse_yaml() {
        let flags = StaticVarFlags {
            instance_var: vec!["branch=main".into(), "a.b=1".into(), "a.c=[x]".into()],
            ..StaticVarFlags::default()
        };
        assert_eq!(
            serde_json::Value::Object(flags.instance_vars().unwrap()),
            serde_json::json!({"branch": "main", "a": {"b": 1, "c": ["x"]}})
        );
        let bad = StaticVarFlags {
            instance_var: vec!["novalue".into()],
            ..StaticVarFlags::default()
        };
        assert!(bad.instance_vars().is_err());
    }
}
