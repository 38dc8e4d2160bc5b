//! Concourse's base resource-type directory layout: load the types in it, and export the
//! built-in types into it.
//!
//! A worker's `--resource-types` directory holds one sub-directory per type, with
//! `resource_metadata.json` (`{"type", "version", "privileged", "unique_version_history"}`) and
//! the image as `rootfs/` or `rootfs.tgz`. Existing resource-type images unpacked into this shape
//! run unchanged, and [`export_builtin_types`] writes our built-ins in the same shape, so the
//! engine runs every base type one way: `/opt/resource/{check,in,out}` inside the rootfs.
//!
//! Design: an exported built-in's rootfs holds only three `sh` scripts that `exec` the concorde
//! binary by its absolute host path (`exec '/usr/bin/concorde' resource git check "$@"`). On the
//! host backend that is all they need. A container backend must make the binary visible at the
//! same path and provide `/bin/sh`, `git` and `ssh` for the git type; the cheap way is to run
//! built-in types with the host's root filesystem bind-mounted read-only as their rootfs (they
//! are trusted code shipped with the worker, like Concourse's bundled type images).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Action, BuiltinType, ResourceError};

/// The file naming a base type inside its directory.
pub const METADATA_FILE: &str = "resource_metadata.json";

/// The contents of `resource_metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResourceMetadata {
    /// The type's name, as pipelines spell it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The image's version; the ATC records `{<type>: <version>}`.
    #[serde(default)]
    pub version: String,
    /// Whether containers of this type run privileged.
    #[serde(default)]
    pub privileged: bool,
    /// Whether identical resources of this type must not share versions.
    #[serde(default)]
    pub unique_version_history: bool,
}

/// Where a base type's filesystem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRootfs {
    /// An unpacked `rootfs/` directory.
    Dir(PathBuf),
    /// A gzipped tarball, `rootfs.tgz`, to import into a volume first.
    Tarball(PathBuf),
}

/// One base resource type found in a type directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseResourceType {
    /// Its metadata.
    pub metadata: ResourceMetadata,
    /// Its directory, `<root>/<name>`.
    pub dir: PathBuf,
    /// Its filesystem.
    pub rootfs: TypeRootfs,
}

/// A directory of base resource types in Concourse's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTypeDir {
    /// The directory holding one sub-directory per type.
    pub root: PathBuf,
}

impl ResourceTypeDir {
    /// Names a type directory; nothing is read until [`ResourceTypeDir::load`].
    pub fn new(root: impl Into<PathBuf>) -> ResourceTypeDir {
        ResourceTypeDir { root: root.into() }
    }

    /// Reads every type in the directory, sorted by type name. Sub-directories without
    /// `resource_metadata.json` are skipped (Concourse ignores them too); a metadata file that
    /// does not parse, or a type with neither `rootfs/` nor `rootfs.tgz`, is an error.
    pub fn load(&self) -> Result<Vec<BaseResourceType>, ResourceError> {
        let entries =
            std::fs::read_dir(&self.root).map_err(|err| ResourceError::io(&self.root, err))?;
        let mut types = Vec::new();
        for entry in entries {
            let dir = entry
                .map_err(|err| ResourceError::io(&self.root, err))?
                .path();
            let metadata_path = dir.join(METADATA_FILE);
            if !metadata_path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&metadata_path)
                .map_err(|err| ResourceError::io(&metadata_path, err))?;
            let metadata = parse_metadata(&bytes)?;
            let rootfs = if dir.join("rootfs").is_dir() {
                TypeRootfs::Dir(dir.join("rootfs"))
            } else if dir.join("rootfs.tgz").is_file() {
                TypeRootfs::Tarball(dir.join("rootfs.tgz"))
            } else {
                return Err(ResourceError::InvalidImage(format!(
                    "{} has neither rootfs/ nor rootfs.tgz",
                    dir.display()
                )));
            };
            types.push(BaseResourceType {
                metadata,
                dir,
                rootfs,
            });
        }
        types.sort_by(|left, right| left.metadata.type_name.cmp(&right.metadata.type_name));
        Ok(types)
    }

    /// Writes every built-in type into the directory; see [`export_builtin_types`].
    pub fn export_builtins(
        &self,
        concorde_binary: &Path,
    ) -> Result<Vec<BaseResourceType>, ResourceError> {
        export_builtin_types(&self.root, concorde_binary)
    }
}

/// Parses `resource_metadata.json`; the type name must not be empty.
pub fn parse_metadata(bytes: &[u8]) -> Result<ResourceMetadata, ResourceError> {
    let metadata: ResourceMetadata = serde_json::from_slice(bytes).map_err(|err| {
        ResourceError::InvalidImage(format!("{METADATA_FILE} does not parse: {err}"))
    })?;
    if metadata.type_name.trim().is_empty() {
        return Err(ResourceError::InvalidImage(format!(
            "{METADATA_FILE} has an empty type"
        )));
    }
    Ok(metadata)
}

/// Writes `<dest>/<type>/resource_metadata.json` and `<dest>/<type>/rootfs/opt/resource/*`
/// for every built-in type, with scripts that run `concorde_binary`. Existing files of the same
/// names are replaced; other types in `dest` are left alone.
pub fn export_builtin_types(
    dest: &Path,
    concorde_binary: &Path,
) -> Result<Vec<BaseResourceType>, ResourceError> {
    let mut exported = Vec::new();
    for ty in BuiltinType::ALL {
        let dir = dest.join(ty.name());
        let rootfs = dir.join("rootfs");
        write_scripts(&rootfs, ty, concorde_binary)?;
        let metadata = ResourceMetadata {
            type_name: ty.name().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            privileged: false,
            unique_version_history: ty.unique_version_history(),
        };
        let path = dir.join(METADATA_FILE);
        std::fs::write(&path, serde_json::to_vec_pretty(&metadata)?)
            .map_err(|err| ResourceError::io(&path, err))?;
        exported.push(BaseResourceType {
            metadata,
            dir,
            rootfs: TypeRootfs::Dir(rootfs),
        });
    }
    Ok(exported)
}

/// Writes `<rootfs>/opt/resource/{check,in,out}` launching `ty` through `concorde_binary`.
pub(crate) fn write_scripts(
    rootfs: &Path,
    ty: BuiltinType,
    concorde_binary: &Path,
) -> Result<(), ResourceError> {
    use std::os::unix::fs::PermissionsExt;
    let scripts = rootfs.join("opt/resource");
    std::fs::create_dir_all(&scripts).map_err(|err| ResourceError::io(&scripts, err))?;
    let binary = concorde_binary.to_string_lossy().replace('\'', r"'\''");
    for action in Action::ALL {
        let path = scripts.join(action.name());
        let script = format!(
            "#!/bin/sh\n# Concorde's built-in `{ty}` resource type, {action} script.\nexec '{binary}' resource {ty} {action} \"$@\"\n",
            ty = ty.name(),
            action = action.name(),
        );
        std::fs::write(&path, script).map_err(|err| ResourceError::io(&path, err))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| ResourceError::io(&path, err))?;
    }
    Ok(())
}

/// Unpacks a type's `rootfs.tgz` into `dest` (for backends that need a directory).
pub fn unpack_rootfs_tgz(tgz: &Path, dest: &Path) -> Result<(), ResourceError> {
    let file = std::fs::File::open(tgz).map_err(|err| ResourceError::io(tgz, err))?;
    std::fs::create_dir_all(dest).map_err(|err| ResourceError::io(dest, err))?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
    archive.set_preserve_permissions(true);
    archive
        .unpack(dest)
        .map_err(|err| ResourceError::io(tgz, err))
}
