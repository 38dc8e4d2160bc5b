//! Starts a real `concorde quickstart` process on SQLite or PostgreSQL and drives it with the
//! real CLI, as a user would.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Which database the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which container runtime the server's worker uses (`--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerRuntime {
    Host,
    #[allow(
        dead_code,
        reason = "runc_quickstart.rs, which includes this harness, uses it"
    )]
    Runc,
}

/// A running server and a logged-in CLI home.
pub struct Server {
    child: Option<Child>,
    /// `quickstart` (a worker of its own) or `web` (workers register through its TSA).
    command: &'static str,
    worker_runtime: WorkerRuntime,
    extra_args: Vec<String>,
    pub url: String,
    pub home: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub postgres_url: Option<String>,
    bind: String,
    runtime: tokio::runtime::Runtime,
    test_store: Option<concorde_store::testing::TestStore>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_concorde")
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

impl Server {
    /// Starts a server with the host runtime and logs the CLI in as `admin`.
    pub fn start(backend: Backend) -> Server {
        Server::start_with(backend, WorkerRuntime::Host)
    }

    /// Starts a server with the given worker runtime and logs the CLI in as `admin`.
    pub fn start_with(backend: Backend, worker_runtime: WorkerRuntime) -> Server {
        Server::start_with_args(backend, worker_runtime, &[])
    }

    /// Starts a server with extra `quickstart` flags and logs the CLI in as `admin`.
    pub fn start_with_args(
        backend: Backend,
        worker_runtime: WorkerRuntime,
        extra_args: &[&str],
    ) -> Server {
        Server::start_node("quickstart", backend, worker_runtime, extra_args)
    }

    /// Starts `concorde web` (no worker of its own) with extra flags and logs the CLI in.
    #[allow(
        dead_code,
        reason = "runc_quickstart.rs, which includes this harness, does not use it"
    )]
    pub fn start_web(backend: Backend, extra_args: &[&str]) -> Server {
        Server::start_node("web", backend, WorkerRuntime::Host, extra_args)
    }

    fn start_node(
        command: &'static str,
        backend: Backend,
        worker_runtime: WorkerRuntime,
        extra_args: &[&str],
    ) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let test_store = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(runtime.block_on(concorde_store::testing::postgres_store(
                concorde_store::testing::Flavour::Fast,
            ))),
        };
        let postgres_url = test_store.as_ref().map(|store| store.location.clone());
        let bind = format!("127.0.0.1:{}", free_port());
        let mut server = Server {
            child: None,
            command,
            worker_runtime,
            extra_args: extra_args.iter().map(|arg| (*arg).to_owned()).collect(),
            url: format!("http://{bind}"),
            home: tempfile::tempdir().expect("tempdir"),
            data: tempfile::tempdir().expect("tempdir"),
            postgres_url,
            bind,
            runtime,
            test_store,
        };
        server.spawn();
        let login = server.fly(&[
            "login",
            "-c",
            &server.url.clone(),
            "-u",
            "admin",
            "-p",
            "secret",
        ]);
        assert!(
            login.status.success(),
            "login: {}",
            String::from_utf8_lossy(&login.stderr)
        );
        server
    }

    /// Starts (or restarts) the server process and waits until it answers.
    pub fn spawn(&mut self) {
        let runtime = match self.worker_runtime {
            WorkerRuntime::Host => "host",
            WorkerRuntime::Runc => "runc",
        };
        let mut command = Command::new(binary());
        command
            .args([
                self.command,
                "--bind",
                &self.bind,
                "--runtime",
                runtime,
                "--add-local-user",
                "admin:secret",
            ])
            .arg("--data-dir")
            .arg(self.data.path())
            .env("CONCORDE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(self.log_file());
        if let Some(url) = &self.postgres_url {
            command.args(["--postgres-url", url]);
        }
        command.args(&self.extra_args);
        self.child = Some(command.spawn().expect("server starts"));
        // Ready means answering HTTP: a listening socket alone may belong to a process that
        // is still starting, or failing to.
        let deadline = Instant::now() + Duration::from_secs(30);
        let info = format!("{}/api/v1/info", self.url);
        while Instant::now() < deadline {
            if ureq::get(&info).call().is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|child| child.try_wait()) {
                panic!("the server exited with {status}:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server did not answer on {}:\n{}",
            self.bind,
            self.log_tail()
        );
    }

    /// The server's stderr, kept across restarts in its data directory.
    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .expect("server log")
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops the server with SIGTERM and waits for it to finish cleaning up (its containers and
    /// mounts), killing it after 30 seconds.
    #[allow(
        dead_code,
        reason = "runc_quickstart.rs, which includes this harness, uses it"
    )]
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the server process without letting it clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The CLI against this server, ready to run (or spawn) with `args`.
    pub fn fly_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(["-t", "e2e"])
            .args(args)
            .env("HOME", self.home.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs the CLI against this server.
    pub fn fly(&self, args: &[&str]) -> Output {
        self.fly_command(args).output().expect("cli runs")
    }

    /// Runs the CLI and returns stdout, asserting success.
    pub fn fly_ok(&self, args: &[&str]) -> String {
        let output = self.fly(args);
        assert!(
            output.status.success(),
            "concorde {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sets and unpauses a pipeline from YAML text.
    pub fn set_pipeline(&self, name: &str, yaml: &str) {
        let file = self.home.path().join(format!("{name}.yml"));
        std::fs::write(&file, yaml).expect("write pipeline");
        self.fly_ok(&[
            "set-pipeline",
            "-n",
            "-p",
            name,
            "-c",
            &file.display().to_string(),
        ]);
        self.fly_ok(&["unpause-pipeline", "-p", name]);
    }

    /// The API's JSON at `path`, with the CLI's token.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let token = self.token();
        let response = ureq::get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap_or_else(|err| panic!("GET {path}: {err}\nserver log:\n{}", self.log_tail()));
        response.into_body().read_json().expect("json")
    }

    /// The server process's peak resident memory so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("VmHWM");
        kib * 1024
    }

    /// Asks for a token with the password grant: the status and the `Retry-After` header.
    pub fn login(&self, user: &str, password: &str) -> (u16, Option<String>) {
        let body = format!("grant_type=password&username={user}&password={password}&scope=openid");
        let request = ureq::post(&format!("{}/sky/issuer/token", self.url))
            .header("Authorization", "Basic Zmx5Olpta3o=")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .config()
            .http_status_as_error(false)
            .build();
        let response = request
            .send(body.as_bytes())
            .unwrap_or_else(|err| panic!("POST token: {err}"));
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), retry_after)
    }

    /// GETs from the API without a token: the status and the body.
    pub fn get_anonymous(&self, path: &str) -> (u16, String) {
        match ureq::get(&format!("{}{path}", self.url)).call() {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.into_body().read_to_string().expect("a body");
                (status, body)
            }
            Err(ureq::Error::StatusCode(code)) => (code, String::new()),
            Err(err) => panic!("GET {path}: {err}"),
        }
    }

    /// POSTs to the API without a token (webhooks).
    pub fn post_anonymous(&self, path: &str) -> u16 {
        match ureq::post(&format!("{}{path}", self.url)).send_empty() {
            Ok(response) => response.status().as_u16(),
            Err(ureq::Error::StatusCode(code)) => code,
            Err(err) => panic!("POST {path}: {err}"),
        }
    }

    /// Follows build `build_id`'s log to its `end`; the connection stays open.
    pub fn follow_events(&self, build_id: i64) -> crate::follow_events::Followed {
        crate::follow_events::follow_events(&self.bind, &self.token(), build_id)
    }

    fn token(&self) -> String {
        let text =
            std::fs::read_to_string(self.home.path().join(".concorderc")).expect("targets file");
        text.lines()
            .find_map(|line| line.trim().strip_prefix("value:"))
            .map(|value| value.trim().trim_matches('\'').trim_matches('"').to_owned())
            .expect("a token")
    }

    /// Waits until `condition` holds, or panics after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if condition() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}");
    }

    /// The builds of a job, newest first: (name, status).
    pub fn job_builds(&self, pipeline: &str, job: &str) -> Vec<(String, String)> {
        let builds = self.get_json(&format!(
            "/api/v1/teams/main/pipelines/{pipeline}/jobs/{job}/builds"
        ));
        builds
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|b| {
                        (
                            b["name"].as_str().unwrap_or("").to_owned(),
                            b["status"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(store) = self.test_store.take() {
            self.runtime.block_on(store.cleanup());
        }
    }
}

/// A git repository in a temp dir with one commit.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        Repo::new_in(&std::env::temp_dir())
    }

    /// A repository in a new directory under `parent` (a runc worker's resource containers have
    /// their own `/tmp`, so their repositories live elsewhere).
    pub fn new_in(parent: &Path) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir_in(parent).expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "e2e@example.com"]);
        repo.git(&["config", "user.name", "e2e"]);
        repo.commit("first");
        repo
    }

    pub fn uri(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Writes `content` to `file` and commits it; returns the commit sha.
    pub fn commit(&self, content: &str) -> String {
        std::fs::write(self.dir.path().join("file"), content).expect("write");
        self.git(&["add", "file"]);
        self.git(&["commit", "-q", "-m", content]);
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A pipeline: `unit` gets the repo (triggered) and cats the file; `deploy` takes what passed
/// `unit`. `extra_unit_step` is appended to unit's plan.
pub fn chain_pipeline(repo: &Repo, resource_extra: &str, extra_unit_step: &str) -> String {
    format!(
        "resources:\n- name: repo\n  type: git\n{resource_extra}  source: {{uri: {uri}, branch: main}}\njobs:\n- name: unit\n  plan:\n  - get: repo\n    trigger: true\n  - task: test\n    config:\n      platform: linux\n      inputs: [{{name: repo}}]\n      run: {{path: sh, args: [-c, 'echo content: $(cat repo/file)']}}\n{extra_unit_step}- name: deploy\n  plan:\n  - get: repo\n    trigger: true\n    passed: [unit]\n  - task: deploy\n    config:\n      platform: linux\n      inputs: [{{name: repo}}]\n      run: {{path: sh, args: [-c, 'echo deployed $(cat repo/file)']}}\n",
        uri = repo.uri()
    )
}

/// Writes `<types>/<type_name>/rootfs/opt/resource/<action>`, an executable holding `script`,
/// and the type's `resource_metadata.json`: a base type in Concourse's layout, for
/// `--resource-types`.
pub fn base_type_script(types: &Path, type_name: &str, action: &str, script: &str) {
    let scripts = types.join(type_name).join("rootfs/opt/resource");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    std::fs::write(
        types.join(type_name).join("resource_metadata.json"),
        format!(r#"{{"type": "{type_name}", "version": "1.0"}}"#),
    )
    .expect("metadata");
    let path = scripts.join(action);
    std::fs::write(&path, script).expect("script");
    let mut permissions = std::fs::metadata(&path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).expect("chmod");
}

/// Asserts that every one of `expected` appears in `text`, in that order.
pub fn assert_in_order(text: &str, expected: &[&str]) {
    let mut rest = text;
    for piece in expected {
        let at = rest
            .find(piece)
            .unwrap_or_else(|| panic!("{piece:?} missing in order from:\n{text}"));
        rest = &rest[at + piece.len()..];
    }
}
