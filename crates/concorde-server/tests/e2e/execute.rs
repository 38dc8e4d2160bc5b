//! `concorde execute` against a live node: local inputs go up, the task runs as a one-off
//! build, outputs come back, exit codes are the build's, a single input defaults to the
//! current directory, `-b` returns at once, and Ctrl-C aborts the build and its processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Backend, Server};
use crate::processes::processes_marked;

const LONG: Duration = Duration::from_secs(60);

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn status_of(server: &Server, build: i64) -> String {
    server.get_json(&format!("/api/v1/builds/{build}"))["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The build id in `executing build <id> at ...`.
fn build_id(stdout: &str) -> i64 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("executing build "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no build id in: {stdout}"))
}

pub fn execute_runs_local_inputs_and_brings_outputs_back(backend: Backend) {
    let server = Server::start(backend);
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    write(&w.join("src/a.txt"), "hello");
    write(&w.join("extra/b.txt"), "world");
    write(
        &w.join("task.yml"),
        "platform: linux\ninputs: [{name: src}, {name: extra}]\noutputs: [{name: out}]\nrun:\n  path: sh\n  args: [-c, 'cat src/a.txt extra/b.txt > out/result.txt; echo done-$(cat src/a.txt) ((greeting))']\n",
    );
    let task = w.join("task.yml").display().to_string();
    let (src, extra, out) = (w.join("src"), w.join("extra"), w.join("pulled"));
    let ran = server.fly(&[
        "execute",
        "-c",
        &task,
        "-i",
        &format!("src={}", src.display()),
        "-i",
        &format!("extra={}", extra.display()),
        "-o",
        &format!("out={}", out.display()),
        "-v",
        "greeting=hi",
    ]);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(stdout.contains("done-hello hi"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("succeeded"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(out.join("result.txt")).expect("the output came back"),
        "helloworld"
    );
    let id = build_id(&stdout);
    let builds = server.fly_ok(&["builds"]);
    assert!(
        builds
            .lines()
            .any(|line| line.split_whitespace().next() == Some(&id.to_string())),
        "one-off builds are listed: {builds}"
    );

    // One input, no -i: the current directory; a failing task's exit status is the CLI's.
    write(
        &w.join("one.yml"),
        "platform: linux\ninputs: [{name: here}]\nrun: {path: sh, args: [-c, 'cat here/a.txt; exit 3']}\n",
    );
    let failed = server
        .fly_command(&["execute", "-c", &w.join("one.yml").display().to_string()])
        .current_dir(&src)
        .output()
        .expect("cli runs");
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("hello"), "{stdout}");

    // A required input without a directory is refused before anything runs.
    let missing = server.fly(&[
        "execute",
        "-c",
        &task,
        "-i",
        &format!("src={}", src.display()),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("missing required input 'extra'"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // -b: the build is created and the CLI returns.
    let background = server.fly(&[
        "execute",
        "-b",
        "-c",
        &w.join("one.yml").display().to_string(),
        "-i",
        &format!("here={}", src.display()),
    ]);
    assert_eq!(background.status.code(), Some(0));
    let id = build_id(&String::from_utf8_lossy(&background.stdout));
    server.wait_for("the background build", LONG, || {
        status_of(&server, id) == "failed"
    });
}

pub fn ctrl_c_aborts_an_executed_build(backend: Backend) {
    let server = Server::start(backend);
    let marker = format!("execute-{}-{backend:?}", std::process::id());
    let work = tempfile::tempdir().expect("tempdir");
    let task = work.path().join("sleep.yml");
    write(
        &task,
        &format!(
            "platform: linux\nparams: {{PROBE: {marker}}}\nrun: {{path: sh, args: [-c, 'echo sleeping; sleep 1000']}}\n"
        ),
    );
    let mut child = server
        .fly_command(&["execute", "-c", &task.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("cli starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("sleeping") {
            break;
        }
    }
    let id = build_id(&seen);
    assert!(processes_marked(&marker) > 0, "the task runs: {seen}");
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + LONG;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the CLI did not end after SIGINT: {seen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(code, Some(2), "{seen}{}", rest.join("\n"));
    assert_eq!(status_of(&server, id), "aborted");
    server.wait_for(
        "the task's processes to go",
        Duration::from_secs(15),
        || processes_marked(&marker) == 0,
    );
}
