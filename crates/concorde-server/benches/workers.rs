//! Benchmark of workers on their own (run with `cargo bench -p concorde-server --bench
//! workers`), each figure over fresh processes on SQLite:
//! - worker start to registered, and to the first build (one that waited for a worker) placed
//!   on it and finished (target: placed under 1 s);
//! - stall detection: a worker killed with `kill -9` (heartbeat 1 s, so a TTL of 2 s) until the
//!   web node shows it `stalled`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_concorde")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Web {
    _child: Killed,
    url: String,
    token: String,
    tsa: String,
    _data: tempfile::TempDir,
}

fn keys(dir: &Path) {
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

fn start_web(keys: &Path) -> Web {
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
    Web {
        _child: Killed(child),
        url,
        token: response["access_token"].as_str().expect("token").to_owned(),
        tsa,
        _data: data,
    }
}

impl Web {
    fn get(&self, path: &str) -> serde_json::Value {
        ureq::get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("get")
            .into_body()
            .read_json()
            .expect("json")
    }

    fn worker_state(&self, name: &str) -> Option<String> {
        self.get("/api/v1/workers")
            .as_array()?
            .iter()
            .find(|worker| worker["name"] == name)
            .and_then(|worker| worker["state"].as_str().map(str::to_owned))
    }

    /// Sets a pipeline whose one job has no input, triggers it, and returns the build's id.
    fn waiting_build(&self) -> i64 {
        let yaml = "jobs:\n- name: solo\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: 'true'}}\n";
        for (path, body) in [
            ("/api/v1/teams/main/pipelines/p/config", yaml),
            ("/api/v1/teams/main/pipelines/p/unpause", ""),
        ] {
            ureq::put(&format!("{}{path}", self.url))
                .header("Authorization", &format!("Bearer {}", self.token))
                .header("Content-Type", "application/x-yaml")
                .send(body)
                .expect("set pipeline");
        }
        let build: serde_json::Value = ureq::post(&format!(
            "{}/api/v1/teams/main/pipelines/p/jobs/solo/builds",
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
}

fn start_worker(web: &Web, keys: &Path, name: &str, work: &Path) -> Killed {
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker starts"),
    )
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let keys_dir = tempfile::tempdir().expect("tempdir");
    keys(keys_dir.path());
    let (mut registered, mut placed, mut finished, mut stalled) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let web = start_web(keys_dir.path());
        let build = web.waiting_build();
        wait("the build to start", || {
            web.get(&format!("/api/v1/builds/{build}"))["status"] == "started"
        });
        let work = tempfile::tempdir().expect("tempdir");
        let name = format!("w{round}");
        let started = Instant::now();
        let worker = start_worker(&web, keys_dir.path(), &name, work.path());
        wait("registration", || {
            web.worker_state(&name).as_deref() == Some("running")
        });
        registered.push(started.elapsed());
        wait("placement", || {
            web.get("/api/v1/teams/main/containers")
                .as_array()
                .is_some_and(|containers| !containers.is_empty())
        });
        placed.push(started.elapsed());
        wait("the build to finish", || {
            web.get(&format!("/api/v1/builds/{build}"))["status"] == "succeeded"
        });
        finished.push(started.elapsed());
        drop(worker);
        let killed = Instant::now();
        wait("the stall", || {
            web.worker_state(&name).as_deref() == Some("stalled")
        });
        stalled.push(killed.elapsed());
    }
    println!(
        "worker start to registered: median {:.0} ms; to its first container (build placed): median {:.0} ms; to that build finished: median {:.0} ms ({ROUNDS} rounds)",
        median(registered),
        median(placed),
        median(finished)
    );
    println!(
        "kill -9 of a worker with a 2 s TTL to stalled: median {:.0} ms ({ROUNDS} rounds; TTL plus up to one 10 s lifecycle tick)",
        median(stalled)
    );
}
