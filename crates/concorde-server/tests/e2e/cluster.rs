//! Web nodes with a TSA and workers as separate processes: key pairs made with
//! `concorde generate-key`, `concorde web --tsa-bind ...`, and `concorde worker` processes
//! that register through it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Backend, Server, binary, free_port};

/// The keys of a TSA and of the workers it knows, in a temp dir.
pub struct Keys {
    pub dir: tempfile::TempDir,
}

impl Keys {
    /// A host key, an authorized worker key, and a stranger's key.
    pub fn new() -> Keys {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["host_key", "worker_key", "stranger_key"] {
            let status = Command::new(binary())
                .args(["generate-key", "--type", "ssh", "-b", "2048", "-f"])
                .arg(dir.path().join(name))
                .stdout(Stdio::null())
                .status()
                .expect("generate-key runs");
            assert!(status.success(), "generate-key {name}");
        }
        std::fs::copy(
            dir.path().join("worker_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized keys");
        Keys { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A web node with a TSA on a free port.
pub struct Cluster {
    pub keys: Keys,
    pub tsa: String,
    pub server: Server,
}

impl Cluster {
    pub fn start(backend: Backend) -> Cluster {
        Cluster::start_on(backend, "127.0.0.1")
    }

    /// A web node whose TSA listens on `host` (`0.0.0.0` for workers in other networks).
    pub fn start_on(backend: Backend, host: &str) -> Cluster {
        Cluster::start_with(backend, host, &[])
    }

    /// A web node whose TSA listens on `host`, with more flags for the node.
    pub fn start_with(backend: Backend, host: &str, extra: &[&str]) -> Cluster {
        let keys = Keys::new();
        let tsa = format!("{host}:{}", free_port());
        let host_key = keys.path("host_key").display().to_string();
        let authorized = keys.path("authorized_keys").display().to_string();
        let mut args = vec![
            "--tsa-bind",
            &tsa,
            "--tsa-host-key",
            &host_key,
            "--tsa-authorized-keys",
            &authorized,
        ];
        args.extend_from_slice(extra);
        let server = Server::start_web(backend, &args);
        Cluster { keys, tsa, server }
    }

    /// Starts worker `name` with `key` (a file of [`Keys`]) and extra flags.
    pub fn worker(&self, name: &str, key: &str, extra: &[&str]) -> Worker {
        self.start_worker(None, &self.tsa, name, key, None, extra)
    }

    /// Starts worker `name` on the work directory `work`, which outlives the process (to start
    /// the same worker again).
    #[allow(
        dead_code,
        reason = "worker_netns.rs, which includes this file, does not use it"
    )]
    pub fn worker_on(&self, name: &str, work: &Path, extra: &[&str]) -> Worker {
        self.start_worker(None, &self.tsa, name, "worker_key", Some(work), extra)
    }

    /// Starts worker `name` with the authorized key inside network namespace `netns` (when
    /// given), dialling the TSA at `tsa`.
    #[allow(
        dead_code,
        reason = "worker_netns.rs, which includes this file, uses it"
    )]
    pub fn worker_in(&self, netns: Option<&str>, tsa: &str, name: &str, extra: &[&str]) -> Worker {
        self.start_worker(netns, tsa, name, "worker_key", None, extra)
    }

    fn start_worker(
        &self,
        netns: Option<&str>,
        tsa: &str,
        name: &str,
        key: &str,
        work: Option<&Path>,
        extra: &[&str],
    ) -> Worker {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = work.map_or_else(|| dir.path().join("work"), Path::to_path_buf);
        let log = std::fs::File::create(dir.path().join("worker.log")).expect("worker log");
        let mut command = match netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns, binary()]);
                command
            }
            None => Command::new(binary()),
        };
        let child = command
            .args([
                "worker",
                "--name",
                name,
                "--runtime",
                "host",
                "--tsa-host",
                tsa,
            ])
            .arg("--tsa-public-key")
            .arg(self.keys.path("host_key.pub"))
            .arg("--tsa-worker-private-key")
            .arg(self.keys.path(key))
            .arg("--work-dir")
            .arg(&work)
            .args(["--heartbeat-interval", "1s"])
            .args(extra)
            .env("CONCORDE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("worker starts");
        Worker {
            child: Some(child),
            dir,
        }
    }

    /// Waits until `fly workers` shows `name` in `state`.
    pub fn wait_for_worker(&self, name: &str, state: &str) {
        self.server.wait_for(
            &format!("worker {name} {state}"),
            Duration::from_secs(60),
            || {
                self.server.fly_ok(&["workers"]).lines().any(|line| {
                    let columns: Vec<&str> = line.split_whitespace().collect();
                    columns.first() == Some(&name) && columns.contains(&state)
                })
            },
        );
    }
}

/// A `concorde worker` process.
pub struct Worker {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
}

impl Worker {
    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default()
    }

    /// Waits for it to exit and returns its status code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the worker did not exit:\n{}", self.log());
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
