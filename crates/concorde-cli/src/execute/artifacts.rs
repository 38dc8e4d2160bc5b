//! The files `execute` moves: a local directory packed as tar.gz for upload (in a git
//! repository, only the files git tracks or would track, unless ignored files are asked for),
//! and a downloaded tar.gz unpacked into a directory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// Which files of `dir` go up: `None` means all of them (not a git repository, or ignored
/// files asked for); otherwise the paths git lists as tracked or untracked-not-ignored.
pub fn files_to_upload(dir: &Path, include_ignored: bool) -> anyhow::Result<Option<Vec<PathBuf>>> {
    if include_ignored {
        return Ok(None);
    }
    let listed = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output();
    let Ok(output) = listed else {
        return Ok(None); // No git: everything goes.
    };
    if !output.status.success() {
        return Ok(None); // Not a repository.
    }
    Ok(Some(
        output
            .stdout
            .split(|byte| *byte == 0)
            .filter(|path| !path.is_empty())
            .map(|path| PathBuf::from(String::from_utf8_lossy(path).into_owned()))
            .filter(|path| dir.join(path).symlink_metadata().is_ok())
            .collect(),
    ))
}

/// Writes `dir` (or only `files` of it) to `out` as a gzipped tar, symlinks kept as links.
pub fn pack(dir: &Path, files: Option<&[PathBuf]>, out: impl Write) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::fast()));
    tar.follow_symlinks(false);
    match files {
        None => tar
            .append_dir_all(".", dir)
            .with_context(|| format!("could not pack {}", dir.display()))?,
        Some(files) => {
            for file in files {
                tar.append_path_with_name(dir.join(file), file)
                    .with_context(|| format!("could not pack {}", file.display()))?;
            }
        }
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(())
}

/// Unpacks a gzipped tar into `dir`, creating it.
pub fn unpack(tar_gz: impl Read, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(tar_gz));
    archive.set_preserve_permissions(true);
    archive
        .unpack(dir)
        .with_context(|| format!("could not unpack into {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_files_unpack_the_same() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("sub")).unwrap();
        std::fs::write(from.path().join("a.txt"), "a").unwrap();
        std::fs::write(from.path().join("sub/b.txt"), "b").unwrap();
        let mut packed = Vec::new();
        pack(from.path(), None, &mut packed).unwrap();
        let to = tempfile::tempdir().unwrap();
        unpack(&packed[..], &to.path().join("out")).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.path().join("out/a.txt")).unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("out/sub/b.txt")).unwrap(),
            "b"
        );
    }

    #[test]
    fn a_git_repository_uploads_what_git_would_track() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(args)
                .status()
                .unwrap();
            assert!(status.success());
        };
        git(&["init", "-q"]);
        std::fs::write(repo.path().join(".gitignore"), "build/\n").unwrap();
        std::fs::write(repo.path().join("kept.txt"), "k").unwrap();
        std::fs::create_dir_all(repo.path().join("build")).unwrap();
        std::fs::write(repo.path().join("build/out.o"), "o").unwrap();
        let mut listed = files_to_upload(repo.path(), false).unwrap().unwrap();
        listed.sort();
        assert_eq!(
            listed,
            [PathBuf::from(".gitignore"), PathBuf::from("kept.txt")]
        );
        assert_eq!(files_to_upload(repo.path(), true).unwrap(), None);
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(files_to_upload(plain.path(), false).unwrap(), None);
    }
}
