//! Tidy checks over the whole repository: every Rust file says what it is in a `//!` header,
//! no file grows past the size review flags, the crate layering ARCHITECTURE.md states is what
//! the manifests say (`tidy/layers.rs`), and no two modules of a crate import each other in a
//! circle (`tidy/imports.rs`).

use std::path::{Path, PathBuf};

#[path = "tidy/imports.rs"]
mod imports;
#[path = "tidy/layers.rs"]
mod layers;

/// The repository's root directory.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "corpus" && name != "artifacts" {
                rust_files(&path, found);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

fn repo_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} Rust files", files.len());
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = repo_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! header: {missing:#?}"
    );
}

/// Lines before the first `#[cfg(test)]`: the code review counts, tests excluded.
fn non_test_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn no_file_passes_800_lines_of_non_test_code() {
    let too_long: Vec<String> = repo_files()
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines = non_test_lines(&text);
            let is_test_file = path.components().any(|c| c.as_os_str() == "tests");
            (!is_test_file && lines > 800).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "files over 800 lines of non-test code: {too_long:#?}"
    );
}
