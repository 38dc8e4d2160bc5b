//! runc container networking for real: each container's own namespace and address, the host
//! reachable through its gateway, and outbound traffic masqueraded behind the host.
//!
//! Root, `runc`, `ip` and `iptables` are required (CI installs them); the tests fail without.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use common::busybox::*;
use common::*;
use concorde_worker::{ExitStatus, Ipv4Pool, NetworkMode, Runtime, WorkerError};

/// Accepts one connection on `listener` in a thread; yields the peer and what it sent.
fn accept_one(listener: TcpListener) -> mpsc::Receiver<(SocketAddr, String)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let _ = sender.send((peer, text));
    });
    receiver
}

#[tokio::test]
async fn containers_get_their_own_namespace_address_and_names() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("net-a", image.clone()))
        .await
        .unwrap();
    runtime
        .create_container(spec("net-b", image))
        .await
        .unwrap();
    let script = "readlink /proc/self/ns/net; ip -4 -o addr show eth0 | awk '{print $4}'; hostname; \
                  grep net- /etc/hosts; ip route | awk '/default/ {print $3}'";
    let a = run(&runtime, "net-a", sh(script)).await;
    let b = run(&runtime, "net-b", sh(script)).await;
    assert_eq!(a.status, ExitStatus::Exited(0), "{}", a.stderr);
    let [netns_a, address_a, hostname_a, hosts_a, gateway_a] =
        a.stdout.lines().collect::<Vec<_>>()[..]
    else {
        panic!("unexpected output {:?}", a.stdout)
    };
    let [netns_b, address_b, ..] = b.stdout.lines().collect::<Vec<_>>()[..] else {
        panic!("{:?}", b.stdout)
    };
    let host_netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(netns_a, host_netns.to_str().unwrap());
    assert_ne!(netns_a, netns_b);
    assert!(
        address_a.starts_with("10.254.") && address_a.ends_with("/30"),
        "{address_a}"
    );
    assert_ne!(address_a, address_b);
    assert_eq!(hostname_a, "net-a");
    let ip_a = address_a.trim_end_matches("/30");
    assert_eq!(hosts_a, format!("{ip_a} net-a"));
    let ip: Ipv4Addr = ip_a.parse().unwrap();
    let gateway: Ipv4Addr = gateway_a.parse().unwrap();
    assert_eq!(u32::from(ip) - 1, u32::from(gateway));

    // The resolver config is the host's, without loopback name servers.
    let resolv = run(&runtime, "net-a", sh("cat /etc/resolv.conf"))
        .await
        .stdout;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let expected: String = host_resolv
        .lines()
        .filter(|line| !(line.starts_with("nameserver 127.") || line.trim() == "nameserver ::1"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(resolv, expected);
}

#[tokio::test]
async fn the_host_is_reachable_through_the_gateway() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("to-host", image))
        .await
        .unwrap();
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = accept_one(listener);
    let script = format!(
        "gw=$(ip route | awk '/default/ {{print $3}}'); echo hello host | nc $gw {port}; \
                          ip -4 -o addr show eth0 | awk '{{print $4}}'"
    );
    let out = run(&runtime, "to-host", sh(&script)).await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    let (peer, text) = accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("no connection from the container");
    assert_eq!(text, "hello host\n");
    // Traffic to the host itself is not translated: the host sees the container's address.
    assert_eq!(format!("{}/30", peer.ip()), out.stdout.trim());
}

/// A network namespace standing for "the outside world", joined to the host by a veth pair.
struct Outside {
    name: String,
    host_address: Ipv4Addr,
    address: Ipv4Addr,
}

impl Outside {
    fn create() -> Outside {
        let id = std::process::id();
        let name = format!("concorde-test-outside-{id}");
        let link = format!("cto{}", id % 1_000_000);
        let subnet = 4 * (id % 60);
        let host_address = Ipv4Addr::new(10, 253, 0, (subnet + 1) as u8);
        let address = Ipv4Addr::new(10, 253, 0, (subnet + 2) as u8);
        let ip = |args: &str| {
            let status = std::process::Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .unwrap();
            assert!(status.success(), "ip {args}");
        };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        ip(&format!("netns add {name}"));
        let outside = Outside {
            name: name.clone(),
            host_address,
            address,
        };
        ip(&format!(
            "link add {link} type veth peer name eth0 netns {name}"
        ));
        ip(&format!("addr add {host_address}/30 dev {link}"));
        ip(&format!("link set {link} up"));
        ip(&format!("-n {name} addr add {address}/30 dev eth0"));
        ip(&format!("-n {name} link set eth0 up"));
        outside
    }

    /// A listening socket inside the outside namespace (a socket keeps the namespace it was
    /// made in, so only the creating thread needs to enter it).
    fn listen(&self) -> TcpListener {
        let path = format!("/var/run/netns/{}", self.name);
        let address = self.address;
        std::thread::spawn(move || {
            let netns = std::fs::File::open(path).unwrap();
            nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            TcpListener::bind((address, 0)).unwrap()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

#[tokio::test]
async fn outbound_traffic_is_masqueraded() {
    let (_dir, runtime) = runtime();
    let image = busybox(&runtime).await;
    runtime.create_container(spec("nat", image)).await.unwrap();
    let outside = Outside::create();
    let listener = outside.listen();
    let port = listener.local_addr().unwrap().port();
    let accepted = accept_one(listener);
    let out = run(
        &runtime,
        "nat",
        sh(&format!("echo hello world | nc {} {port}", outside.address)),
    )
    .await;
    assert_eq!(out.status, ExitStatus::Exited(0), "{}", out.stderr);
    let (peer, text) = accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("no connection from the container");
    assert_eq!(text, "hello world\n");
    // The outside sees the host's address on its link, never the container's.
    assert_eq!(peer.ip(), IpAddr::V4(outside.host_address));
}

#[tokio::test]
async fn slots_held_elsewhere_and_lingering_links_are_stepped_over() {
    // A two-slot pool whose first slot another worker holds, and whose second slot's host
    // link name still exists (as after a just-deleted namespace).
    let ip = |args: &str| {
        std::process::Command::new("ip")
            .args(args.split_whitespace())
            .status()
            .unwrap()
            .success()
    };
    let took_slot = ip("netns add concorde-0");
    let made_link = ip("link add concorde1 type dummy");
    let pool = Ipv4Pool {
        base: Ipv4Addr::new(10, 252, 0, 0),
        prefix_len: 29,
    };
    let (_dir, runtime) = runtime_with(NetworkMode::Isolated(pool));
    let image = busybox(&runtime).await;
    runtime
        .create_container(spec("last-slot", image.clone()))
        .await
        .unwrap();
    let out = run(
        &runtime,
        "last-slot",
        sh("ip -4 -o addr show eth0 | awk '{print $4}'"),
    )
    .await;
    assert_eq!(out.stdout, "10.252.0.6/30\n", "{}", out.stderr);
    let err = runtime
        .create_container(spec("no-slot", image))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WorkerError::Runtime(message) if message.contains("no free addresses")),
        "{err:?}"
    );
    runtime.destroy_container(&ctr("last-slot")).await.unwrap();
    if took_slot {
        ip("netns del concorde-0");
    }
    if made_link {
        // Normally replaced by the container's own pair, and deleted with it.
        ip("link del concorde1");
    }
}
