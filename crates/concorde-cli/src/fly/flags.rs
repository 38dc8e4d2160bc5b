//! fly's flag value formats: `PIPELINE[/k:v,...]`, `PIPELINE/JOB`, `PIPELINE/RESOURCE`, and
//! versions as `k:v`; plus the API paths they address.

use std::collections::BTreeMap;

use super::client::percent;

/// A pipeline reference: a name and optional instance vars.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRef {
    /// The pipeline's name.
    pub name: String,
    /// Instance vars, in the order given.
    pub instance_vars: serde_json::Map<String, serde_json::Value>,
}

/// Why a flag value is malformed.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `PIPELINE/JOB` without a `/`.
    #[error("argument format should be <pipeline>/<{0}>")]
    MissingSlash(&'static str),
    /// An instance var or version without `:`.
    #[error("argument format should be <key:value>, got '{0}'")]
    NotKeyValue(String),
}

impl PipelineRef {
    /// Parses `name` or `name/key:value,key2:value2`.
    pub fn parse(text: &str) -> Result<PipelineRef, FlagError> {
        let (name, vars) = match text.split_once('/') {
            Some((name, vars)) => (name, Some(vars)),
            None => (text, None),
        };
        let mut instance_vars = serde_json::Map::new();
        for pair in vars
            .into_iter()
            .flat_map(|vars| vars.split(','))
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair
                .split_once(':')
                .ok_or_else(|| FlagError::NotKeyValue(pair.to_owned()))?;
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
            instance_vars.insert(key.to_owned(), value);
        }
        Ok(PipelineRef {
            name: name.to_owned(),
            instance_vars,
        })
    }

    /// The query that selects this instance (`vars=<JSON>`), empty without instance vars.
    pub fn query(&self) -> Vec<(String, String)> {
        if self.instance_vars.is_empty() {
            return Vec::new();
        }
        vec![(
            "vars".to_owned(),
            serde_json::Value::Object(self.instance_vars.clone()).to_string(),
        )]
    }

    /// `/api/v1/teams/TEAM/pipelines/NAME`.
    pub fn path(&self, team: &str) -> String {
        format!(
            "/api/v1/teams/{}/pipelines/{}",
            percent(team),
            percent(&self.name)
        )
    }
}

impl std::fmt::Display for PipelineRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.instance_vars.is_empty() {
            let pairs: Vec<String> = self
                .instance_vars
                .iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => format!("{key}:{text}"),
                    other => format!("{key}:{other}"),
                })
                .collect();
            write!(f, "/{}", pairs.join(","))?;
        }
        Ok(())
    }
}

/// `PIPELINE/NAME` where NAME is a job, resource or resource type (after the last `/`).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineChild {
    /// The pipeline.
    pub pipeline: PipelineRef,
    /// The job, resource or resource type.
    pub name: String,
}

impl PipelineChild {
    /// Parses `PIPELINE/NAME`; `what` names NAME in the error.
    pub fn parse(text: &str, what: &'static str) -> Result<PipelineChild, FlagError> {
        let (pipeline, name) = text.rsplit_once('/').ok_or(FlagError::MissingSlash(what))?;
        if pipeline.is_empty() || name.is_empty() {
            return Err(FlagError::MissingSlash(what));
        }
        Ok(PipelineChild {
            pipeline: PipelineRef::parse(pipeline)?,
            name: name.to_owned(),
        })
    }

    /// `/api/v1/teams/TEAM/pipelines/P/<collection>/NAME`.
    pub fn path(&self, team: &str, collection: &str) -> String {
        format!(
            "{}/{collection}/{}",
            self.pipeline.path(team),
            percent(&self.name)
        )
    }
}

impl std::fmt::Display for PipelineChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.pipeline, self.name)
    }
}

/// Parses `-v k:v` flags (each may hold several pairs separated by commas).
pub fn parse_version(flags: &[String]) -> Result<BTreeMap<String, String>, FlagError> {
    let mut version = BTreeMap::new();
    for pair in flags
        .iter()
        .flat_map(|flag| flag.split(','))
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair
            .split_once(':')
            .ok_or_else(|| FlagError::NotKeyValue(pair.to_owned()))?;
        version.insert(key.to_owned(), value.to_owned());
    }
    Ok(version)
}

/// A version as fly shows it in tables: `k:v` pairs sorted by key, joined by commas.
pub fn version_text(version: &serde_json::Value) -> String {
    let Some(map) = version.as_object() else {
        return "n/a".to_owned();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key}:{text}"),
            other => format!("{key}:{other}"),
        })
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Clap value parser for `PIPELINE`.
pub fn pipeline_arg(text: &str) -> Result<PipelineRef, FlagError> {
    PipelineRef::parse(text)
}

/// Clap value parser for `PIPELINE/JOB`.
pub fn job_arg(text: &str) -> Result<PipelineChild, FlagError> {
    PipelineChild::parse(text, "job")
}

/// Clap value parser for `PIPELINE/RESOURCE`.
pub fn resource_arg(text: &str) -> Result<PipelineChild, FlagError> {
    PipelineChild::parse(text, "resource")
}

/// Clap value parser for `PIPELINE/RESOURCE-TYPE`.
pub fn resource_type_arg(text: &str) -> Result<PipelineChild, FlagError> {
    PipelineChild::parse(text, "resource type")
}
