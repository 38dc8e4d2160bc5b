//! Local users from the command line, the environment and a file: passwords can stay out of
//! the process list, and an empty password is refused before the node starts.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[allow(dead_code, reason = "the shared e2e harness refers to it")]
#[path = "support/follow_events.rs"]
mod follow_events;
#[allow(dead_code, reason = "these tests use part of the shared e2e harness")]
#[path = "e2e/harness.rs"]
mod harness;

use std::process::{Command, Output};

use harness::{Backend, Server, WorkerRuntime};

/// Runs `quickstart` with `args` and `env`, expecting it to refuse to start.
fn refused(args: &[&str], env: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_concorde"))
        .args(["quickstart", "--bind", "127.0.0.1:0", "--runtime", "host"])
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("CONCORDE_POSTGRES_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    output
}

#[test]
fn an_empty_password_is_refused_wherever_it_comes_from() {
    let stderr = |output: Output| String::from_utf8_lossy(&output.stderr).into_owned();
    let flag = stderr(refused(&["--add-local-user", "bob:"], &[]));
    assert!(flag.contains("invalid local user \"bob\""), "{flag}");
    let env = stderr(refused(
        &[],
        &[("CONCORDE_ADD_LOCAL_USER", "carol:c,dave:")],
    ));
    assert!(env.contains("CONCORDE_ADD_LOCAL_USER"), "{env}");
    assert!(env.contains("\"dave\""), "{env}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "# team\nerin:e\n\nfrank:\n").unwrap();
    let from_file = stderr(refused(
        &["--local-users-file", file.to_str().unwrap()],
        &[],
    ));
    assert!(
        from_file.contains("users:4"),
        "the line is named: {from_file}"
    );
    assert!(
        !from_file.contains("erin:e"),
        "no password is echoed: {from_file}"
    );
}

#[test]
fn users_from_a_file_log_in_with_any_password_characters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "# the team\nalice:p@ss:word, with spaces\n").unwrap();
    let server = Server::start_with_args(
        Backend::Sqlite,
        WorkerRuntime::Host,
        &["--local-users-file", file.to_str().unwrap()],
    );
    assert_eq!(server.login("alice", "p%40ss%3Aword%2C+with+spaces").0, 200);
    assert_eq!(server.login("alice", "p%40ss").0, 401);
}
