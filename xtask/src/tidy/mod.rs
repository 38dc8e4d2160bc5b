//! Tidy checks over the repository's own sources, run as this crate's tests (so README's test
//! command runs them): every file documents itself, files stay reviewable, the crate layering
//! ARCHITECTURE.md states is what the manifests say, and no two files of a crate import each
//! other in a circle.

#[cfg(test)]
mod imports;
#[cfg(test)]
mod layers;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Files longer than this are flagged in review; longer ones must be split.
    const MAX_FILE_LINES: usize = 800;

    pub(super) fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if name != "target" && name != ".git" {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    fn source_roots() -> Vec<PathBuf> {
        let root = crate::repo_root();
        ["crates", "xtask", "fuzz"]
            .iter()
            .map(|dir| root.join(dir))
            .collect()
    }

    #[test]
    fn every_file_starts_with_a_module_doc() {
        let missing: Vec<_> = source_roots()
            .iter()
            .flat_map(|dir| rust_files(dir))
            .filter(|file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                !text.starts_with("//!")
            })
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! doc: {missing:#?}"
        );
    }

    #[test]
    fn no_file_is_too_long() {
        let long: Vec<_> = source_roots()
            .iter()
            .flat_map(|dir| rust_files(dir))
            .filter_map(|file| {
                let lines = std::fs::read_to_string(&file)
                    .unwrap_or_default()
                    .lines()
                    .count();
                (lines > MAX_FILE_LINES).then_some((file, lines))
            })
            .collect();
        assert!(
            long.is_empty(),
            "files over {MAX_FILE_LINES} lines: {long:#?}"
        );
    }
}
