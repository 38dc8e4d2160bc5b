//! What the benches that run whole processes share: keys, a web node with a TSA, workers
//! registered through it, and waiting on the API.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_concorde")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Web {
    _child: Killed,
    pub url: String,
    pub token: String,
    pub tsa: String,
    _data: tempfile::TempDir,
}

pub fn keys(dir: &Path) {
    for name in ["host_key", "worker_key"] {
        let status = Command::new(binary())
            .args(["generate-key", "--type", "ssh", "-b", "2048", "-f"])
            .arg(dir.join(name))
            .stdout(Stdio::null())
            .status()
            .expect("generate-key");
        assert!(status.success());
    }
}

pub fn start_web(keys: &Path, extra: &[&str]) -> Web {
    let data = tempfile::tempdir().expect("tempdir");
    let bind = format!("127.0.0.1:{}", free_port());
    let tsa = format!("127.0.0.1:{}", free_port());
    let child = Command::new(binary())
        .args(["web", "--bind", &bind, "--add-local-user", "admin:secret"])
        .args(["--tsa-bind", &tsa, "--tsa-host-key"])
        .arg(keys.join("host_key"))
        .arg("--tsa-authorized-keys")
        .arg(keys.join("worker_key.pub"))
        .arg("--data-dir")
        .arg(data.path())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("web starts");
    let url = format!("http://{bind}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{url}/api/v1/info")).call().is_err() {
        assert!(Instant::now() < deadline, "web did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let token = login(&url);
    Web {
        _child: Killed(child),
        url,
        token,
        tsa,
        _data: data,
    }
}

impl Web {
    pub fn get(&self, path: &str) -> serde_json::Value {
        ureq::get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("get")
            .into_body()
            .read_json()
            .expect("json")
    }

    pub fn worker_state(&self, name: &str) -> Option<String> {
        self.get("/api/v1/workers")
            .as_array()?
            .iter()
            .find(|worker| worker["name"] == name)
            .and_then(|worker| worker["state"].as_str().map(str::to_owned))
    }

    /// Sets and unpauses pipeline `name`.
    pub fn set_pipeline(&self, name: &str, yaml: &str) {
        for (path, body) in [
            (format!("/api/v1/teams/main/pipelines/{name}/config"), yaml),
            (format!("/api/v1/teams/main/pipelines/{name}/unpause"), ""),
        ] {
            ureq::put(&format!("{}{path}", self.url))
                .header("Authorization", &format!("Bearer {}", self.token))
                .header("Content-Type", "application/x-yaml")
                .send(body)
                .expect("set pipeline");
        }
    }

    /// Triggers `pipeline/job` and returns the build's id.
    pub fn trigger(&self, pipeline: &str, job: &str) -> i64 {
        let build: serde_json::Value = ureq::post(&format!(
            "{}/api/v1/teams/main/pipelines/{pipeline}/jobs/{job}/builds",
            self.url
        ))
        .header("Authorization", &format!("Bearer {}", self.token))
        .send_empty()
        .expect("trigger")
        .into_body()
        .read_json()
        .expect("build json");
        build["id"].as_i64().expect("build id")
    }

    /// Sets a pipeline whose one job has no input, triggers it, and returns the build's id.
    pub fn waiting_build(&self) -> i64 {
        let yaml = "jobs:\n- name: solo\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: 'true'}}\n";
        self.set_pipeline("p", yaml);
        self.trigger("p", "solo")
    }

    /// Waits until build `id` ends; its status.
    pub fn finish(&self, id: i64) -> String {
        let mut status = String::new();
        wait("the build to finish", || {
            status = self.get(&format!("/api/v1/builds/{id}"))["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            !matches!(status.as_str(), "pending" | "started")
        });
        status
    }

    /// The process id of the web node.
    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }
}

pub fn start_worker(web: &Web, keys: &Path, name: &str, work: &Path, extra: &[&str]) -> Killed {
    Killed(
        Command::new(binary())
            .args([
                "worker",
                "--name",
                name,
                "--runtime",
                "host",
                "--tsa-host",
                &web.tsa,
            ])
            .arg("--tsa-public-key")
            .arg(keys.join("host_key.pub"))
            .arg("--tsa-worker-private-key")
            .arg(keys.join("worker_key"))
            .arg("--work-dir")
            .arg(work)
            .args(["--heartbeat-interval", "1s"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker starts"),
    )
}

pub fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

/// CPU seconds (user and system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // The fields after the command (which may hold spaces) start after its closing paren.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

/// A token for `admin:secret`, the local user every bench's node starts with.
pub fn login(url: &str) -> String {
    let response: serde_json::Value = ureq::post(&format!("{url}/sky/issuer/token"))
        .header("Authorization", "Basic Zmx5OlpteDU=")
        .send_form([
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "secret"),
            ("scope", "openid"),
        ])
        .expect("token")
        .into_body()
        .read_json()
        .expect("token json");
    response["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}
