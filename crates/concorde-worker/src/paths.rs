//! The on-disk layout of a worker's directory and the checks that keep paths inside it.
//!
//! Both backends share one layout under the work directory: `volumes/<handle>/` holds a volume's
//! contents, `volumes/.staging/` the volumes being filled, `containers/<handle>/` each
//! container's private state, and `.trash/` what is being deleted. Handles become directory names, so they are checked here once.

use std::path::{Component, Path, PathBuf};

use crate::WorkerError;

/// The directories of one worker.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The worker's directory, absolute.
    pub root: PathBuf,
}

impl Layout {
    /// Creates the layout's directories under `work_dir` (made absolute).
    pub(crate) fn create(work_dir: &Path) -> Result<Self, WorkerError> {
        let root = std::path::absolute(work_dir)?;
        let layout = Layout { root };
        std::fs::create_dir_all(layout.staging_dir())?;
        std::fs::create_dir_all(layout.containers_dir())?;
        Ok(layout)
    }

    pub(crate) fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// Volumes being created; they move to `volumes/` once complete, so a volume that can be
    /// looked up is always whole.
    pub(crate) fn staging_dir(&self) -> PathBuf {
        self.volumes_dir().join(".staging")
    }

    /// Directories being deleted in the background (see `Trash`).
    pub(crate) fn trash_dir(&self) -> PathBuf {
        self.root.join(".trash")
    }

    pub(crate) fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub(crate) fn volume_dir(&self, handle: &str) -> Result<PathBuf, WorkerError> {
        check_handle(handle)?;
        Ok(self.volumes_dir().join(handle))
    }

    pub(crate) fn container_dir(&self, handle: &str) -> Result<PathBuf, WorkerError> {
        check_handle(handle)?;
        Ok(self.containers_dir().join(handle))
    }
}

/// Accepts handles that are safe as directory names and as runc container ids.
pub(crate) fn check_handle(handle: &str) -> Result<(), WorkerError> {
    let ok_chars = handle
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if handle.is_empty() || handle.len() > 200 || handle.starts_with('.') || !ok_chars {
        return Err(WorkerError::InvalidHandle(handle.to_owned()));
    }
    Ok(())
}

/// Turns a path relative to a volume (`.`, `a/b`, `/a/b`) into clean normal components; `..`
/// is refused because it could leave the volume.
pub(crate) fn relative_path(path: &str) -> Result<PathBuf, WorkerError> {
    let mut clean = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(WorkerError::InvalidPath(path.to_owned()));
            }
        }
    }
    Ok(clean)
}

/// Resolves `path` inside `base`, following symlinks, and refuses results outside `base`
/// (a symlink in a volume pointing at `/etc` must not let a stream read the host).
/// `base` must exist; the target may not, in which case its existing ancestor is checked.
pub(crate) fn resolve_inside(base: &Path, path: &str) -> Result<PathBuf, WorkerError> {
    let base = base.canonicalize()?;
    let joined = base.join(relative_path(path)?);
    let mut existing = joined.as_path();
    let mut rest = Vec::new();
    // A dangling symlink counts as existing, so canonicalizing it fails instead of a later
    // `create_dir_all` following it out of `base`.
    while existing.symlink_metadata().is_err() {
        let Some(name) = existing.file_name() else {
            break;
        };
        rest.push(name.to_owned());
        existing = existing.parent().unwrap_or(&base);
    }
    let mut resolved = existing.canonicalize()?;
    if !resolved.starts_with(&base) {
        return Err(WorkerError::InvalidPath(path.to_owned()));
    }
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn handles_are_directory_names() {
        for good in ["a", "build-12.task_3", "0123456789abcdef"] {
            assert!(check_handle(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a b",
            "é",
            &"x".repeat(201),
        ] {
            assert!(
                matches!(check_handle(bad), Err(WorkerError::InvalidHandle(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn relative_paths_stay_relative() {
        assert_eq!(relative_path(".").unwrap(), PathBuf::new());
        assert_eq!(relative_path("/a/./b/").unwrap(), PathBuf::from("a/b"));
        assert!(relative_path("a/../../etc").is_err());
    }

    #[test]
    fn symlinks_out_of_the_base_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink("in", dir.path().join("inner")).unwrap();
        assert!(matches!(
            resolve_inside(dir.path(), "out/passwd"),
            Err(WorkerError::InvalidPath(_))
        ));
        let base = dir.path().canonicalize().unwrap();
        assert_eq!(
            resolve_inside(dir.path(), "inner/new/file").unwrap(),
            base.join("in/new/file")
        );
        assert_eq!(resolve_inside(dir.path(), ".").unwrap(), base);
    }
}
