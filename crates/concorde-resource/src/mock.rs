//! The `mock` resource type: Concourse's test resource, which needs no outside world.
//!
//! Source keys: `initial_version` (default `mock`), `no_initial_version`, `force_version`,
//! `create_files` (path → contents, written by `in`), `check_delay` (Go duration),
//! `check_failure` (every check fails with this message), `metadata` (returned by `in` and
//! `out`), `log` (printed on every action) and `mirror_self`.
//! `in` params: `create_files_via_params` (merged over the source's), `mirror_self_via_params`.
//! `out` params: `version`, `file` (a file whose trimmed contents are the version),
//! `print_env` (environment to stderr; Concourse's prints to stdout, which would corrupt the
//! result, so ours does not).
//!
//! Versions are `{"version": "..."}`. `check` returns the forced version, else the cursor, else
//! the initial version; `in` writes `version` and `privileged` files. A mirrored image holds
//! the resource scripts of [`crate::type_dir`] (this binary, not a full OS): it runs on the
//! host backend, and on runc only with the binary bind-mounted, like the built-in types.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::Deserialize;

use crate::protocol::{Keys, Log, parse_go_duration};
use crate::{BuiltinType, Context, MetadataField, Output, Request, ResourceError, Version};

const SOURCE_KEYS: Keys = Keys {
    section: "source",
    supported: &[
        "initial_version",
        "no_initial_version",
        "force_version",
        "create_files",
        "check_delay",
        "check_failure",
        "metadata",
        "log",
        "mirror_self",
    ],
    ignored: &[],
    reject_unknown: false,
};
const GET_KEYS: Keys = Keys {
    section: "params",
    supported: &["create_files_via_params", "mirror_self_via_params"],
    ignored: &[],
    reject_unknown: false,
};
const PUT_KEYS: Keys = Keys {
    section: "params",
    supported: &["version", "file", "print_env"],
    ignored: &[],
    reject_unknown: false,
};

#[derive(Debug, Default, Deserialize)]
struct MockSource {
    initial_version: Option<String>,
    #[serde(default)]
    no_initial_version: bool,
    force_version: Option<String>,
    #[serde(default)]
    create_files: BTreeMap<String, String>,
    check_delay: Option<String>,
    check_failure: Option<String>,
    #[serde(default)]
    metadata: Vec<MetadataField>,
    log: Option<String>,
    #[serde(default)]
    mirror_self: bool,
}

#[derive(Debug, Default, Deserialize)]
struct GetParams {
    #[serde(default)]
    create_files_via_params: BTreeMap<String, String>,
    #[serde(default)]
    mirror_self_via_params: bool,
}

#[derive(Debug, Default, Deserialize)]
struct PutParams {
    version: Option<String>,
    file: Option<String>,
    #[serde(default)]
    print_env: bool,
}

fn parse_source(request: &Request, log: &mut Log<'_>) -> Result<MockSource, ResourceError> {
    let source: MockSource = SOURCE_KEYS.parse(&request.source, log)?;
    if let Some(message) = &source.log {
        log.line(message);
    }
    Ok(source)
}

fn mock_version(value: &str) -> Version {
    Version::from([("version".to_owned(), value.to_owned())])
}

/// `check`: the forced version, else the cursor, else the initial version.
pub(crate) fn check(
    _ctx: &Context,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let source = parse_source(request, log)?;
    if let Some(delay) = &source.check_delay {
        let delay = parse_go_duration(delay).ok_or_else(|| ResourceError::InvalidKey {
            section: "source",
            key: "check_delay".to_owned(),
            reason: format!("{delay:?} is not a duration such as 5s or 1m30s"),
        })?;
        std::thread::sleep(delay);
    }
    if let Some(message) = source.check_failure {
        return Err(ResourceError::CheckFailure(message));
    }
    if let Some(forced) = &source.force_version {
        return Ok(vec![mock_version(forced)]);
    }
    if let Some(cursor) = &request.version {
        return Ok(vec![cursor.clone()]);
    }
    if source.no_initial_version {
        return Ok(Vec::new());
    }
    Ok(vec![mock_version(
        source.initial_version.as_deref().unwrap_or("mock"),
    )])
}

/// `in`: write the version and the configured files.
pub(crate) fn get(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let source = parse_source(request, log)?;
    let params: GetParams = GET_KEYS.parse(&request.params, log)?;
    let version = request.version.clone().ok_or(ResourceError::MissingKey {
        section: "version",
        key: "version",
    })?;
    if version.is_empty() {
        return Err(ResourceError::MissingKey {
            section: "version",
            key: "version",
        });
    }
    let version_text = version.get("version").cloned().unwrap_or_default();
    write_file(dir, "version", &version_text)?;
    write_file(dir, "privileged", "false")?;
    let mut files = source.create_files.clone();
    files.extend(params.create_files_via_params);
    for (name, contents) in &files {
        write_file(dir, name, contents)?;
    }
    if source.mirror_self || params.mirror_self_via_params {
        let exe = ctx.self_exe().ok_or_else(|| {
            ResourceError::InvalidImage(
                "mirror_self needs the path of the concorde binary".to_owned(),
            )
        })?;
        crate::type_dir::write_scripts(&dir.join("rootfs"), BuiltinType::Mock, exe)?;
        write_file(dir, "metadata.json", r#"{"env":[],"user":""}"#)?;
    }
    Ok(Output {
        version,
        metadata: source.metadata,
    })
}

/// `out`: name the version given by `params.version` or `params.file`.
pub(crate) fn put(
    ctx: &Context,
    dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let source = parse_source(request, log)?;
    let params: PutParams = PUT_KEYS.parse(&request.params, log)?;
    if params.print_env {
        for (key, value) in ctx.vars() {
            log.line(&format!(
                "{}={}",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    let version = match (params.version, params.file) {
        (Some(version), _) => version,
        (None, Some(file)) => {
            let path = dir.join(relative_path(&file)?);
            std::fs::read_to_string(&path)
                .map_err(|err| ResourceError::io(&path, err))?
                .trim()
                .to_owned()
        }
        (None, None) => {
            return Err(ResourceError::MissingKey {
                section: "params",
                key: "version",
            });
        }
    };
    if version.is_empty() {
        return Err(ResourceError::MissingKey {
            section: "params",
            key: "version",
        });
    }
    Ok(Output {
        version: mock_version(&version),
        metadata: source.metadata,
    })
}

/// Refuses absolute paths and `..`, so files stay inside the step's directory.
fn relative_path(name: &str) -> Result<&Path, ResourceError> {
    let path = Path::new(name);
    if name.is_empty()
        || !path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
    {
        return Err(ResourceError::InvalidKey {
            section: "params",
            key: name.to_owned(),
            reason: "file names must be relative paths inside the directory".to_owned(),
        });
    }
    Ok(path)
}

fn write_file(dir: &Path, name: &str, contents: &str) -> Result<(), ResourceError> {
    let path = dir.join(relative_path(name)?);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| ResourceError::io(parent, err))?;
    }
    std::fs::write(&path, contents).map_err(|err| ResourceError::io(&path, err))
}
