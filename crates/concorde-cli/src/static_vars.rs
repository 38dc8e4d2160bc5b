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
}
