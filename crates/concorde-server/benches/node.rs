//! Benchmark of a whole quickstart node, driven over real HTTP (run with
//! `cargo bench -p concorde-server`):
//! - manual trigger to build started, p50 and p99 (target p99 < 100 ms);
//! - webhook to the first log line of the triggered build;
//! - idle memory (RSS) of quickstart (target < 40 MB);
//! - CPU used while 1,000 resources are checked every minute;
//! - with 200 clients following build logs, on SQLite and on PostgreSQL: latency of another
//!   route and trigger to finished (target: other routes under 100 ms).
//!
//! `cargo bench -p concorde-server --bench node -- streams` runs only the sections whose name
//! contains `streams` (names: idle, trigger, webhook, resources, streams).

mod common;
#[path = "../tests/support/follow_events.rs"]
mod follow_events;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use follow_events::follow_events;

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
    start_node_on(None)
}

/// A node on SQLite, or on PostgreSQL at `postgres_url`.
fn start_node_on(postgres_url: Option<&str>) -> Node {
    let data = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_concorde"));
    command
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
        .stderr(Stdio::null());
    if let Some(url) = postgres_url {
        command.args(["--postgres-url", url]);
    }
    let child = command.spawn().expect("quickstart starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&bind).is_err() {
        assert!(Instant::now() < deadline, "node did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("http://{bind}");
    let token = common::login(&url);
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

fn run_and_wait(node: &Node) -> Duration {
    let started = Instant::now();
    let build = node.post("/api/v1/teams/main/pipelines/streams/jobs/quick/builds");
    let id = build["id"].as_i64().expect("build id");
    let done = wait_until(Duration::from_secs(60), || {
        node.get(&format!("/api/v1/builds/{id}"))["status"] == "succeeded"
    });
    assert!(done, "build {id} did not succeed within 60 s");
    started.elapsed()
}

fn two_hundred_streams(node: &Node, backend: &str) {
    node.set_pipeline("streams", "jobs:\n- name: quick\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: echo, args: [hello]}}\n");
    run_and_wait(node);
    let first = node.get("/api/v1/teams/main/pipelines/streams/jobs/quick/builds")[0]["id"]
        .as_i64()
        .expect("build id");
    let opening = Instant::now();
    let streams: Vec<_> = (0..200)
        .map(|_| follow_events(node.url.trim_start_matches("http://"), &node.token, first))
        .collect();
    let opened = opening.elapsed();
    let mut latencies = Vec::new();
    let mut builds = Vec::new();
    for round in 0..100 {
        let started = Instant::now();
        node.get("/api/v1/teams/main/pipelines");
        latencies.push(started.elapsed());
        if round % 10 == 0 {
            builds.push(run_and_wait(node));
        }
    }
    println!(
        "{backend}, 200 open event streams (opened in {:.0} ms): GET pipelines p50 {:.1} ms, p99 {:.1} ms (target < 100 ms); trigger -> succeeded p50 {:.0} ms over {} builds",
        opened.as_secs_f64() * 1e3,
        percentile(&mut latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&mut latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&mut builds, 0.5).as_secs_f64() * 1e3,
        builds.len()
    );
    drop(streams);
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("idle") || wanted("trigger") || wanted("webhook") {
        let node = start_node();
        if wanted("idle") {
            idle_memory(&node);
        }
        if wanted("trigger") {
            trigger_to_started(&node);
        }
        if wanted("webhook") {
            webhook_to_first_log(&node);
        }
    }
    if wanted("resources") {
        thousand_resources(&start_node());
    }
    if wanted("streams") {
        two_hundred_streams(&start_node(), "SQLite");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let database = runtime.block_on(concorde_store::testing::postgres_store(
            concorde_store::testing::Flavour::Fast,
        ));
        two_hundred_streams(&start_node_on(Some(&database.location)), "PostgreSQL");
        runtime.block_on(database.cleanup());
    }
}
