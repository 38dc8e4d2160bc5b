//! Workers as separate hosts: each `concorde worker` in its own network namespace, joined to
//! the web node's host by a veth pair, where it can reach the TSA's port and nothing else of
//! the web node (its API listens on the host's loopback). Builds still reach them, through the
//! SSH tunnel alone, on SQLite and on PostgreSQL, and an artifact made on one crosses to the
//! other through the web node (peer-to-peer streaming, tried first, cannot reach).
//!
//! Needs root and `ip` (CI installs iproute2); it fails loudly without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[allow(dead_code, reason = "this test uses part of the cluster helpers")]
#[path = "e2e/cluster.rs"]
mod cluster;
#[allow(dead_code, reason = "the shared e2e harness refers to it")]
#[path = "support/follow_events.rs"]
mod follow_events;
#[allow(dead_code, reason = "this test uses part of the shared e2e harness")]
#[path = "e2e/harness.rs"]
mod harness;

use std::process::Command;

use cluster::Cluster;
use harness::Backend;

/// A network namespace with a veth pair to the host: `host_ip` on the host's side, `inner_ip`
/// on the namespace's.
struct Namespace {
    name: String,
    host_ip: String,
    inner_ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Namespace {
    /// Namespace number `n` of this test process.
    fn new(tag: &str, n: u8) -> Namespace {
        let id = std::process::id() % 200 + 20;
        let name = format!("cw{id}{tag}{n}");
        let host = format!("cwh{id}{tag}{n}");
        let peer = format!("cwp{id}{tag}{n}");
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &name]);
        let subnet = format!("10.{}.{id}", 200 + n + if tag == "p" { 10 } else { 0 });
        let host_ip = format!("{subnet}.1");
        let inner_ip = format!("{subnet}.2");
        ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host]);
        ip(&["link", "set", &host, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{inner_ip}/24"),
            "dev",
            &peer,
        ]);
        ip(&["-n", &name, "link", "set", &peer, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Namespace {
            name,
            host_ip,
            inner_ip,
        }
    }

    /// Whether a TCP connection from inside the namespace to `address` succeeds.
    fn can_connect(&self, address: &str) -> bool {
        let (host, port) = address.rsplit_once(':').unwrap();
        Command::new("ip")
            .args(["netns", "exec", &self.name, "timeout", "3", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{host}/{port}"))
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn require_root() {
    let root = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&root.stdout).trim(),
        "0",
        "the network namespace e2e test must run as root (CI does); it does not skip"
    );
}

fn workers_in_their_own_networks(backend: Backend, tag: &str) {
    require_root();
    // Peer-to-peer streaming is on, but the workers cannot reach each other: volumes go
    // through the web node's tunnels.
    let cluster = Cluster::start_with(backend, "0.0.0.0", &["--enable-p2p-volume-streaming"]);
    let (a, b) = (Namespace::new(tag, 1), Namespace::new(tag, 2));
    let tsa_port = cluster.tsa.rsplit_once(':').unwrap().1.to_owned();
    let api_port = cluster.server.url.rsplit_once(':').unwrap().1.to_owned();
    // From a worker's network the TSA answers; the web node's API does not.
    assert!(a.can_connect(&format!("{}:{tsa_port}", a.host_ip)));
    assert!(!a.can_connect(&format!("{}:{api_port}", a.host_ip)));
    assert!(!a.can_connect(&format!("127.0.0.1:{api_port}")));

    let _wa = cluster.worker_in(
        Some(&a.name),
        &format!("{}:{tsa_port}", a.host_ip),
        "wa",
        &[],
    );
    let wb_peer = format!("{}:7788", b.inner_ip);
    let _wb = cluster.worker_in(
        Some(&b.name),
        &format!("{}:{tsa_port}", b.host_ip),
        "wb",
        &["--tag", "far", "--p2p-bind", &wb_peer],
    );
    assert!(!a.can_connect(&wb_peer));
    cluster.wait_for_worker("wa", "running");
    cluster.wait_for_worker("wb", "running");
    let pipeline = "resources:\n- name: ticker\n  type: mock\n  source: {initial_version: one}\njobs:\n- name: unit\n  plan:\n  - get: ticker\n  - task: hello\n    config: {platform: linux, inputs: [{name: ticker}], run: {path: sh, args: [-c, 'echo fetched $(cat ticker/version)']}}\n- name: cross\n  plan:\n  - get: ticker\n  - task: far\n    tags: [far]\n    config: {platform: linux, inputs: [{name: ticker}], run: {path: sh, args: [-c, 'echo far got $(cat ticker/version)']}}\n";
    cluster.server.set_pipeline("demo", pipeline);
    let mut placed = Vec::new();
    for build in 1..=2 {
        cluster.server.fly_ok(&["trigger-job", "-j", "demo/unit"]);
        let watched =
            cluster
                .server
                .fly_ok(&["watch", "-j", "demo/unit", "-b", &build.to_string()]);
        assert!(watched.contains("fetched one"), "{watched}");
        assert!(watched.trim_end().ends_with("succeeded"), "{watched}");
        let worker = watched
            .lines()
            .find_map(|line| line.strip_prefix("selected worker: "))
            .unwrap_or_else(|| panic!("{watched}"))
            .to_owned();
        placed.push(worker);
    }
    // Untagged steps go to the untagged worker only.
    assert_eq!(placed, ["wa", "wa"]);
    // The fetched version crosses from wa's network to wb's through the web node.
    let watched = cluster
        .server
        .fly_ok(&["trigger-job", "-j", "demo/cross", "-w"]);
    harness::assert_in_order(
        &watched,
        &[
            "selected worker: wa",
            "selected worker: wb",
            "streaming volume",
            "from worker wa",
            "far got one",
            "succeeded",
        ],
    );
}

#[test]
fn sqlite() {
    workers_in_their_own_networks(Backend::Sqlite, "s");
}

#[test]
fn postgres() {
    workers_in_their_own_networks(Backend::Postgres, "p");
}
