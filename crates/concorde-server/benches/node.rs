//! Benchmark of a whole quickstart node, driven over real HTTP (run with
//! `cargo bench -p concorde-server`):
//! - manual trigger to build started, p50 and p99 (target p99 < 100 ms);
//! - webhook to the first log line of the triggered build;
//! - idle memory (RSS) of quickstart (target < 40 MB);
//! - CPU used while 1,000 resources are checked every minute.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    child: Child,
    url: String,
    token: String,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node() -> Node {
    let data = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let bind = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_concorde"))
        .args([
            "quickstart",
            "--bind",
            &bind,
            "--runtime",
            "host",
            "--add-local-user",
            "admin:secret",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("quickstart starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&bind).is_err() {
        assert!(Instant::now() < deadline, "node did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("http://{bind}");
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
    let token = response["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    Node {
        child,
        url,
        token,
        _data: data,
    }
}

impl Node {
    fn get(&self, path: &str) -> serde_json::Value {
        ureq::get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("get")
            .into_body()
            .read_json()
            .expect("json")
    }

    fn post(&self, path: &str) -> serde_json::Value {
        ureq::post(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_empty()
            .expect("post")
            .into_body()
            .read_json()
            .unwrap_or(serde_json::Value::Null)
    }

    fn set_pipeline(&self, name: &str, yaml: &str) {
        ureq::put(&format!(
            "{}/api/v1/teams/main/pipelines/{name}/config",
            self.url
        ))
        .header("Authorization", &format!("Bearer {}", self.token))
        .header("Content-Type", "application/x-yaml")
        .send(yaml)
        .expect("set pipeline");
        ureq::put(&format!(
            "{}/api/v1/teams/main/pipelines/{name}/unpause",
            self.url
        ))
        .header("Authorization", &format!("Bearer {}", self.token))
        .send_empty()
        .expect("unpause");
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// User plus system CPU time of the node so far.
    fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        let ticks: u64 = [11, 12, 13, 14]
            .iter()
            .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        Duration::from_millis(ticks * 10)
    }
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index]
}

fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

fn trigger_to_started(node: &Node) {
    node.set_pipeline("bench", "jobs:\n- name: quick\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: 'true'}}\n");
    let mut samples = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let build = node.post("/api/v1/teams/main/pipelines/bench/jobs/quick/builds");
        let id = build["id"].as_i64().expect("build id");
        let ok = wait_until(Duration::from_secs(20), || {
            matches!(
                node.get(&format!("/api/v1/builds/{id}"))["status"].as_str(),
                Some("started" | "succeeded" | "failed" | "errored")
            )
        });
        assert!(ok, "build {id} never started");
        samples.push(started.elapsed());
        wait_until(Duration::from_secs(20), || {
            node.get(&format!("/api/v1/builds/{id}"))["status"] == "succeeded"
        });
    }
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    println!(
        "manual trigger -> build started over {} builds: p50 {:.1} ms, p99 {:.1} ms (target p99 < 100 ms)",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn webhook_to_first_log(node: &Node) {
    node.set_pipeline(
        "hook",
        "resources:\n- name: m\n  type: mock\n  webhook_token: t\n  check_every: never\n  source: {force_version: v1}\njobs:\n- name: j\n  plan:\n  - get: m\n    trigger: true\n  - task: t\n    config: {platform: linux, run: {path: echo, args: [hello]}}\n",
    );
    let started = Instant::now();
    ureq::post(&format!(
        "{}/api/v1/teams/main/pipelines/hook/resources/m/check/webhook?webhook_token=t",
        node.url
    ))
    .send_empty()
    .expect("webhook");
    let mut build_id = None;
    wait_until(Duration::from_secs(30), || {
        build_id = node
            .get("/api/v1/teams/main/pipelines/hook/jobs/j/builds")
            .as_array()
            .and_then(|b| b.first())
            .and_then(|b| b["id"].as_i64());
        build_id.is_some()
    });
    let Some(id) = build_id else {
        println!("webhook -> first log line: no build within 30 s");
        return;
    };
    // The event stream replays stored events, then pushes new ones as they are saved.
    let response = ureq::get(&format!("{}/api/v1/builds/{id}/events", node.url))
        .header("Authorization", &format!("Bearer {}", node.token))
        .call()
        .expect("event stream");
    let reader = std::io::BufReader::new(response.into_body().into_reader());
    let found = std::io::BufRead::lines(reader)
        .map_while(Result::ok)
        .any(|line| line.contains("\"event\":\"log\""));
    println!(
        "webhook -> first log line: {:.0} ms{}",
        started.elapsed().as_secs_f64() * 1e3,
        if found {
            ""
        } else {
            " (stream ended without a log)"
        }
    );
}

fn idle_memory(node: &Node) {
    std::thread::sleep(Duration::from_secs(5));
    println!(
        "idle memory of quickstart: {:.1} MB RSS (target < 40 MB)",
        node.rss_kib() as f64 / 1024.0
    );
}

fn thousand_resources(node: &Node) {
    let mut yaml = String::from("resources:\n");
    for index in 0..1000 {
        yaml.push_str(&format!("- name: r{index}\n  type: mock\n  check_every: 1m\n  source: {{force_version: v{index}}}\n"));
    }
    yaml.push_str("jobs:\n");
    for chunk in 0..10 {
        yaml.push_str(&format!("- name: j{chunk}\n  plan:\n"));
        for index in (chunk * 100)..(chunk * 100 + 100) {
            yaml.push_str(&format!("  - get: r{index}\n"));
        }
    }
    node.set_pipeline("many", &yaml);
    // Let the first round of checks happen, then measure a full minute of steady state.
    std::thread::sleep(Duration::from_secs(30));
    let cpu_before = node.cpu_time();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_secs(60));
    let used = node.cpu_time().saturating_sub(cpu_before);
    println!(
        "1,000 resources checked every minute: {:.1}% of one core over {:.0} s ({:.2} s CPU), RSS {:.1} MB",
        used.as_secs_f64() / wall.elapsed().as_secs_f64() * 100.0,
        wall.elapsed().as_secs_f64(),
        used.as_secs_f64(),
        node.rss_kib() as f64 / 1024.0
    );
}

fn main() {
    let node = start_node();
    idle_memory(&node);
    trigger_to_started(&node);
    webhook_to_first_log(&node);
    drop(node);
    let node = start_node();
    thousand_resources(&node);
}
