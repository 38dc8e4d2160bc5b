//! Each container's own network namespace, joined to the host by a veth pair and NATed out.
//!
//! A container takes the `index`th /30 of the pool: the host end of its veth pair gets the
//! first address and is the gateway, the container's `eth0` the second. The named namespace `concorde-<index>` is the claim on the index:
//! `ip netns add` fails when another container (of any worker on the machine) holds it, so
//! claims need no shared state. Outbound traffic is masqueraded by one iptables rule per pool,
//! added once; IP forwarding is switched on.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use crate::WorkerError;

/// The addresses containers take their /30 subnets from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Pool {
    /// The pool's network address.
    pub base: Ipv4Addr,
    /// Its prefix length, at most 30.
    pub prefix_len: u8,
}

impl Default for Ipv4Pool {
    fn default() -> Self {
        Ipv4Pool {
            base: Ipv4Addr::new(10, 254, 0, 0),
            prefix_len: 16,
        }
    }
}

impl std::fmt::Display for Ipv4Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix_len)
    }
}

impl Ipv4Pool {
    /// How many containers fit.
    fn slots(&self) -> u32 {
        if self.prefix_len > 30 {
            0
        } else {
            1u32 << (30 - self.prefix_len)
        }
    }

    fn address(&self, index: u32, host: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).wrapping_add(index * 4 + host))
    }
}

/// A container's claimed network, saved in its state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ContainerNetwork {
    /// The slot in the pool; the namespace is `concorde-<index>`.
    pub index: u32,
    /// The container's address.
    pub address: Ipv4Addr,
    /// The host end's address, the container's gateway.
    pub gateway: Ipv4Addr,
}

impl ContainerNetwork {
    /// The namespace's bind mount, which runc joins.
    pub(crate) fn netns_path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(netns_name(self.index))
    }
}

/// Sets up and tears down container networks from one pool.
#[derive(Debug)]
pub(crate) struct Networks {
    pool: Ipv4Pool,
    /// Forwarding and the NAT rules, set up before the first container.
    nat: OnceCell<()>,
}

impl Networks {
    pub(crate) fn new(pool: Ipv4Pool) -> Self {
        Networks {
            pool,
            nat: OnceCell::new(),
        }
    }

    /// Claims a slot and wires it up; `seed` spreads concurrent claims over the pool.
    pub(crate) async fn create(&self, seed: u64) -> Result<ContainerNetwork, WorkerError> {
        self.nat.get_or_try_init(|| enable_nat(self.pool)).await?;
        let slots = self.pool.slots();
        if slots == 0 {
            return Err(WorkerError::Runtime(format!(
                "address pool {} is too small",
                self.pool
            )));
        }
        let start = u32::try_from(seed % u64::from(slots)).unwrap_or(0);
        for offset in 0..slots {
            let index = (start + offset) % slots;
            let network = ContainerNetwork {
                index,
                address: self.pool.address(index, 2),
                gateway: self.pool.address(index, 1),
            };
            let wired = match wire(&network, true).await {
                // Another container holds this slot.
                Err(WorkerError::Runtime(message))
                    if message.contains("Cannot create namespace file") =>
                {
                    continue;
                }
                // The kernel deletes namespaces asynchronously, so the host end of a pair whose
                // namespace was just deleted can linger for a moment: delete it and retry.
                Err(WorkerError::Runtime(message))
                    if message.contains("RTNETLINK answers: File exists") =>
                {
                    let _ = ip(&[], &format!("link del {}\n", host_end_name(index))).await;
                    wire(&network, false).await
                }
                other => other,
            };
            if let Err(err) = wired {
                destroy(&network).await;
                return Err(err);
            }
            return Ok(network);
        }
        Err(WorkerError::Runtime(format!(
            "no free addresses left in {}",
            self.pool
        )))
    }
}

/// Deletes the namespace, which takes both veth ends with it; a missing one is fine.
pub(crate) async fn destroy(network: &ContainerNetwork) {
    if let Err(err) = ip(&[], &format!("netns del {}\n", netns_name(network.index))).await {
        tracing::warn!(index = network.index, error = %err, "could not delete the network namespace");
    }
}

fn netns_name(index: u32) -> String {
    format!("concorde-{index}")
}

/// The host end of the veth pair (interface names have at most 15 bytes).
fn host_end_name(index: u32) -> String {
    format!("concorde{index}")
}

/// Connects the slot's namespace, first creating it (the claim) when `claim` is set: one `ip`
/// process for the host side, one inside the namespace.
async fn wire(network: &ContainerNetwork, claim: bool) -> Result<(), WorkerError> {
    let name = netns_name(network.index);
    let host_end = host_end_name(network.index);
    let claim = if claim {
        format!("netns add {name}\n")
    } else {
        String::new()
    };
    ip(
        &[],
        &format!(
            "{claim}link add {host_end} type veth peer name eth0 netns {name}\n\
             addr add {gateway}/30 dev {host_end}\n\
             link set {host_end} up\n",
            gateway = network.gateway
        ),
    )
    .await?;
    ip(
        &["-n", &name],
        &format!(
            "addr add {address}/30 dev eth0\n\
             link set eth0 up\n\
             link set lo up\n\
             route add default via {gateway}\n",
            address = network.address,
            gateway = network.gateway
        ),
    )
    .await
}

/// Runs `ip [options] -batch -` with the commands on stdin: one process for many changes.
async fn ip(options: &[&str], commands: &str) -> Result<(), WorkerError> {
    let mut child = tokio::process::Command::new("ip")
        .args(options)
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| WorkerError::Runtime(format!("could not run ip (iproute2): {err}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(commands.as_bytes()).await?;
    }
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(WorkerError::Runtime(format!(
            "ip {}: {}",
            commands.trim().replace('\n', "; "),
            stderr.trim()
        )));
    }
    Ok(())
}

/// Turns on forwarding and adds the pool's NAT and forward rules unless present.
async fn enable_nat(pool: Ipv4Pool) -> Result<(), WorkerError> {
    tokio::fs::write("/proc/sys/net/ipv4/ip_forward", "1\n").await?;
    let pool = pool.to_string();
    let rules: [&[&str]; 3] = [
        &[
            "-t",
            "nat",
            "POSTROUTING",
            "-s",
            &pool,
            "!",
            "-d",
            &pool,
            "-j",
            "MASQUERADE",
        ],
        &["-t", "filter", "FORWARD", "-s", &pool, "-j", "ACCEPT"],
        &[
            "-t",
            "filter",
            "FORWARD",
            "-d",
            &pool,
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ],
    ];
    for rule in rules {
        let (table, rest) = rule.split_at(2);
        let (chain, spec) = rest.split_at(1);
        if iptables(table, "-C", chain[0], spec).await.is_ok() {
            continue;
        }
        iptables(table, "-I", chain[0], spec).await?;
    }
    Ok(())
}

async fn iptables(
    table: &[&str],
    action: &str,
    chain: &str,
    spec: &[&str],
) -> Result<(), WorkerError> {
    let output = tokio::process::Command::new("iptables")
        .arg("-w")
        .args(table)
        .args([action, chain])
        .args(spec)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|err| WorkerError::Runtime(format!("could not run iptables: {err}")))?;
    if !output.status.success() {
        return Err(WorkerError::Runtime(format!(
            "iptables {action} {chain} {}: {}",
            spec.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_slash_30s() {
        let pool = Ipv4Pool::default();
        assert_eq!(pool.slots(), 16384);
        assert_eq!(pool.address(0, 1), Ipv4Addr::new(10, 254, 0, 1));
        assert_eq!(pool.address(3, 2), Ipv4Addr::new(10, 254, 0, 14));
        assert_eq!(pool.address(16383, 2), Ipv4Addr::new(10, 254, 255, 254));
        assert_eq!(
            Ipv4Pool {
                base: Ipv4Addr::new(10, 0, 0, 0),
                prefix_len: 30
            }
            .slots(),
            1
        );
        assert_eq!(
            Ipv4Pool {
                base: Ipv4Addr::new(10, 0, 0, 0),
                prefix_len: 31
            }
            .slots(),
            0
        );
    }
}
