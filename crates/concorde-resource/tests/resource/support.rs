//! Shared helpers: running a script and reading its result, and real git repositories in
//! temp dirs with deterministic commit dates.

use std::path::{Path, PathBuf};
use std::process::Command;

use concorde_resource::Context;
use serde_json::Value;

/// What a script run produced.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The result JSON; panics (failing the test) if the script failed or printed no JSON.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "script failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {:?}", self.stdout))
    }

    /// Asserts the script failed with `needle` on stderr and nothing on stdout.
    pub fn assert_failed_with(&self, needle: &str) {
        assert_eq!(self.code, 1, "expected failure, stdout: {}", self.stdout);
        assert!(
            self.stdout.is_empty(),
            "a failing script printed a result: {}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            self.stderr
        );
    }
}

/// Runs one script with `request` on stdin.
pub fn run(ctx: &Context, ty: &str, action: &str, dir: Option<&Path>, request: &Value) -> Outcome {
    run_raw(ctx, ty, action, dir, request.to_string().as_bytes())
}

/// Runs one script with raw bytes on stdin.
pub fn run_raw(ctx: &Context, ty: &str, action: &str, dir: Option<&Path>, stdin: &[u8]) -> Outcome {
    let args: Vec<std::ffi::OsString> = dir
        .into_iter()
        .map(|dir| dir.as_os_str().to_owned())
        .collect();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = concorde_resource::run_with_context(
        ctx,
        ty,
        action,
        &args,
        &mut &stdin[..],
        &mut stdout,
        &mut stderr,
    );
    Outcome {
        code,
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A context whose scratch directory is inside `tmp`.
pub fn context(tmp: &Path) -> Context {
    let scratch = tmp.join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    Context::from_process()
        .with_temp_dir(scratch)
        .with_var("HOME", tmp.as_os_str())
        .with_var("GIT_CONFIG_NOSYSTEM", "1")
}

/// A git working repository with deterministic identities and dates.
pub struct Repo {
    pub path: PathBuf,
    home: PathBuf,
    clock: std::cell::Cell<u64>,
}

impl Repo {
    /// `git init` at `path` on branch `main`.
    pub fn init(path: &Path, home: &Path) -> Repo {
        std::fs::create_dir_all(path).expect("repo dir");
        let repo = Repo {
            path: path.to_owned(),
            home: home.to_owned(),
            clock: std::cell::Cell::new(1_700_000_000),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    /// An existing repository (working or bare), for inspection.
    pub fn open(path: &Path, home: &Path) -> Repo {
        Repo {
            path: path.to_owned(),
            home: home.to_owned(),
            clock: std::cell::Cell::new(1_800_000_000),
        }
    }

    /// A bare clone of this repository, to push to and fetch from.
    pub fn bare_clone(&self, path: &Path) -> PathBuf {
        let output = self
            .command(&["clone", "--quiet", "--bare"])
            .arg(&self.path)
            .arg(path)
            .output()
            .expect("git clone");
        assert!(
            output.status.success(),
            "bare clone failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        path.to_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let date = format!("@{} +0000", self.clock.get());
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(&self.path)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada Author")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Cy Committer")
            .env("GIT_COMMITTER_EMAIL", "cy@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
        command
    }

    /// Runs git in the repository and returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Writes `files` and commits them with `message`; returns the new commit's sha.
    pub fn commit(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (name, contents) in files {
            let path = self.path.join(name);
            std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("parent dir");
            std::fs::write(&path, contents).expect("write file");
            self.git(&["add", "--", name]);
        }
        self.clock.set(self.clock.get() + 60);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The `ref` values of a check result.
pub fn refs(versions: &Value) -> Vec<String> {
    versions
        .as_array()
        .expect("check prints an array")
        .iter()
        .map(|version| {
            version["ref"]
                .as_str()
                .expect("versions have a ref")
                .to_owned()
        })
        .collect()
}

/// The value of metadata entry `name`, if present.
pub fn metadata_value(output: &Value, name: &str) -> Option<String> {
    output["metadata"]
        .as_array()?
        .iter()
        .find(|field| field["name"] == name)
        .map(|field| field["value"].as_str().unwrap_or_default().to_owned())
}
